import path from 'node:path';
import { loadManifests, manifestSources, parseManifests, renderKustomization, type LoadResult } from './load.ts';
import { checkApiServerRefusals } from './rules/api-server.ts';
import { checkApiTypes, checkDuplicates } from './rules/api-types.ts';
import { checkDisruptionBudgets } from './rules/disruption-budgets.ts';
import { checkPodSecurity } from './rules/pod-security.ts';
import { checkQuotas } from './rules/quota.ts';
import { checkReferences } from './rules/references.ts';
import { checkSchemas } from './rules/schema.ts';
import type { ManifestFinding, ManifestSet, Rule } from './types.ts';

export interface ValidateManifestsOptions {
  /** Report warnings as errors (`resilience validate --strict`). */
  strict?: boolean;
}

/** The rules in the order their findings are listed for one document. */
const RULES: readonly Rule[] = [checkApiTypes, checkDuplicates, checkSchemas, checkApiServerRefusals, checkPodSecurity, checkQuotas, checkDisruptionBudgets, checkReferences];

/**
 * Validates every Kubernetes manifest under `paths` (files or folders, searched recursively for
 * `.yaml`/`.yml`; a folder with a kustomization.yaml is rendered with `kubectl kustomize` and its
 * findings point at that file, with document indexes in the rendered output) offline: YAML syntax, apiVersion/kind (unknown, deprecated, removed), schemas of
 * built-in kinds and of the supported CRDs, objects the API server would refuse, Pod Security
 * Standards of namespaces that enforce one, quota overflow, disruption budgets that block every
 * eviction, and references that match nothing. Cross-object checks see all loose files together
 * and each kustomization on its own.
 *
 * Resolves to the findings sorted by file, document and field; never touches a cluster. Rejects
 * only when a path does not exist or cannot be read, or a kustomization needs kubectl and it is missing. With `strict`, warnings come back as errors.
 */
export async function validateManifests(paths: readonly string[], options: ValidateManifestsOptions = {}): Promise<ManifestFinding[]> {
  const sources = await manifestSources(paths);
  const findings: ManifestFinding[] = [];
  // Loose files form one set; each kustomization is its own set (a base and its overlay are
  // alternatives, not one cluster).
  const loads: LoadResult[] = [await loadManifests(sources.files)];
  for (const dir of sources.kustomizations) {
    const rendered = await renderKustomization(dir);
    if ('finding' in rendered) {
      findings.push(rendered.finding);
      continue;
    }
    const result: LoadResult = { documents: [], findings: [] };
    parseManifests(path.join(dir, 'kustomization.yaml'), rendered.text, result, { lines: false });
    loads.push(result);
  }
  for (const loaded of loads) {
    findings.push(...loaded.findings);
    const set: ManifestSet = { documents: loaded.documents };
    for (const rule of RULES) findings.push(...(await rule(set)));
  }
  const unique = withoutShadowedSchemaErrors(findings);
  const order = new Map([...sources.files, ...sources.kustomizations.map((d) => path.join(d, 'kustomization.yaml'))].map((f, i) => [f, i]));
  unique.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.documentIndex - b.documentIndex);
  return options.strict ? unique.map((f) => ({ ...f, severity: 'error' })) : unique;
}

/**
 * A `schema` finding ("required field containers is missing") and a specific rule's finding on the
 * same field say the same thing: keep the specific one, whose message says more.
 */
function withoutShadowedSchemaErrors(findings: readonly ManifestFinding[]): ManifestFinding[] {
  const specific = new Set(findings.filter((f) => f.rule !== 'schema').map((f) => `${f.file}#${f.documentIndex} ${f.fieldPath}`));
  return findings.filter((f) => f.rule !== 'schema' || !specific.has(`${f.file}#${f.documentIndex} ${f.fieldPath}`));
}

/** Whether the findings fail validation: any error, or any finding at all with `strict`. */
export function hasFailures(findings: readonly ManifestFinding[], options: ValidateManifestsOptions = {}): boolean {
  return findings.some((f) => f.severity === 'error' || options.strict === true);
}

/**
 * One line per finding: `✖ file#doc kind/name fieldPath: message [rule]` (⚠ for warnings), with
 * the file relative to `cwd`.
 */
export function formatFindings(findings: readonly ManifestFinding[], cwd: string = process.cwd()): string {
  return findings
    .map((f) => {
      const file = path.relative(cwd, f.file) || f.file;
      const object = f.kind || f.name ? ` ${f.kind || '?'}/${f.name || '?'}` : '';
      const field = f.fieldPath ? ` ${f.fieldPath}` : '';
      return `${f.severity === 'error' ? '✖' : '⚠'} ${file}#${f.documentIndex}${object}${field}: ${f.message} [${f.rule}]`;
    })
    .join('\n');
}
