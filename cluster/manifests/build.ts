import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';

/** Folders and files of hasteCRM's manifest set, as absolute paths. */
export const manifestPaths = {
  /** The full manifest set (every object of the seed, corrected). */
  base: fileURLToPath(new URL('./base', import.meta.url)),
  /** The kind overlay: base minus cloud-only objects, fewer replicas, smaller resources. */
  kindOverlay: fileURLToPath(new URL('./overlays/kind', import.meta.url)),
  /** The Argo Rollouts variant (a kustomize Component) replacing the Flagger Canary. */
  argoRolloutsComponent: fileURLToPath(new URL('./base/hastecrm-api', import.meta.url)),
  /** The API server's encryption-at-rest file: mounted into the control plane, never applied. */
  encryptionConfig: fileURLToPath(new URL('./apiserver/encryption-config.yaml', import.meta.url)),
} as const;

/**
 * The key in apiserver/encryption-config.yaml that must be replaced by a real, per-cluster key
 * (32 random bytes, base64) before the file reaches an API server. It is not valid base64, so an
 * API server given the file unchanged refuses to start.
 */
export const ENCRYPTION_KEY_PLACEHOLDER = 'PLACEHOLDER-REPLACE-WITH-32-RANDOM-BYTES-BASE64';

/** One object of a built manifest set: whatever the YAML holds, with the fields every object has. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Raised when `kubectl kustomize` fails or its output is not a list of Kubernetes objects. */
export class ManifestBuildError extends Error {
  override name = 'ManifestBuildError';
}

/**
 * Builds a kustomization with the real `kubectl kustomize` (offline: no cluster is contacted) and
 * parses every document. Throws ManifestBuildError with kubectl's message on a build error, and
 * when a document is not an object with apiVersion, kind and metadata.name.
 */
export async function buildKustomization(dir: string, options: { kubectl?: string; timeoutMs?: number } = {}): Promise<KubeObject[]> {
  const result = await execa(options.kubectl ?? 'kubectl', ['kustomize', dir], { reject: false, timeout: options.timeoutMs ?? 60_000 });
  if (result.failed) {
    const reason = result.exitCode === undefined ? `could not run kubectl (is it on PATH?): ${result.message}` : result.stderr.trim();
    throw new ManifestBuildError(`kubectl kustomize ${dir} failed: ${reason}`);
  }
  return parseManifests(result.stdout, `kubectl kustomize ${dir}`);
}

/** Parses a multi-document YAML stream of Kubernetes objects; `source` names it in errors. */
export function parseManifests(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    if (doc.errors.length > 0) throw new ManifestBuildError(`${source}, document ${index}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // an empty document (e.g. a trailing `---`)
    const problem = objectProblem(value);
    if (problem) throw new ManifestBuildError(`${source}, document ${index}: ${problem}`);
    objects.push(value as KubeObject);
  });
  return objects;
}

function objectProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || Array.isArray(value) || value === null) return 'not a mapping';
  const { apiVersion, kind, metadata } = value as Record<string, unknown>;
  if (typeof apiVersion !== 'string' || apiVersion === '') return 'apiVersion missing';
  if (typeof kind !== 'string' || kind === '') return 'kind missing';
  const name = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>).name : undefined;
  if (typeof name !== 'string' || name === '') return `${kind}: metadata.name missing`;
  return undefined;
}
