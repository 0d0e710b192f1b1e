/**
 * Plain Kubernetes objects as the kind target handles them: parsed YAML, not typed models, so any
 * manifest (ours, an addon's, a user's CRD instance) goes through the same code.
 */

/** The least a manifest must have to be applied: apiVersion, kind and a name. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    generation?: number;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** The label every object the harness applies carries, whatever run applied it. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Its value; also the server-side-apply field manager. */
export const MANAGED_BY_VALUE = 'hastecrm-resilience';
/** The label naming the run that created an object; teardown deletes by it. */
export const RUN_LABEL = 'resilience.hastecrm.io/run';

/** `Deployment hastecrm/hastecrm-api` or `Namespace hastecrm`: how objects are named in messages. */
export function describeObject(object: Pick<KubeObject, 'kind' | 'metadata'>): string {
  const { namespace, name } = object.metadata;
  return `${object.kind} ${namespace ? `${namespace}/` : ''}${name}`;
}

/** The API group of an apiVersion: `apps/v1` → `apps`, `v1` → `` (core). */
export function apiGroupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

/**
 * A copy of `object` carrying the harness's labels. Never mutates its input: the same parsed
 * manifests are applied again by a later run with another run id.
 */
export function withLabels(object: KubeObject, labels: Record<string, string>): KubeObject {
  return { ...object, metadata: { ...object.metadata, labels: { ...(object.metadata.labels ?? {}), ...labels } } };
}

/** Narrow an unknown parsed YAML document to a KubeObject, or say what is missing. */
export function asKubeObject(doc: unknown, where: string): KubeObject {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${where}: not a Kubernetes object (a mapping with apiVersion, kind and metadata.name)`);
  const o = doc as Record<string, unknown>;
  const metadata = o.metadata as Record<string, unknown> | undefined;
  const missing = [typeof o.apiVersion === 'string' ? undefined : 'apiVersion', typeof o.kind === 'string' ? undefined : 'kind', typeof metadata?.name === 'string' ? undefined : 'metadata.name'].filter((m) => m !== undefined);
  if (missing.length > 0) throw new Error(`${where}: missing ${missing.join(', ')}`);
  return doc as KubeObject;
}
