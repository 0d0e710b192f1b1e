// The manifest validator behind `resilience validate`: see README.md for the rules.
export { formatFindings, hasFailures, validateManifests, type ValidateManifestsOptions } from './validate.ts';
export type { ManifestFinding, Severity } from './types.ts';
export { API_VERSION_NOTICES, type ApiVersionNotice } from './api-versions.ts';
