import { apiGroupOf, describeObject, type KubeObject } from './objects.ts';

/**
 * The order in which a manifest set is applied to a cluster, with the waits between stages.
 * Pure: it only looks at apiVersion and kind, so `resilience plan` can print it before anything
 * starts and the apply code only has to follow it.
 *
 * Why this order (the same reasoning as Helm's install order and `kubectl apply`'s retries, made
 * explicit instead of retried):
 * - CRDs first, and their Established condition awaited: the API server answers 404 for a custom
 *   resource whose CRD is not served yet.
 * - Namespaces before anything namespaced; RBAC before the workloads whose ServiceAccounts it binds.
 * - LimitRange and ResourceQuota before workloads: LimitRange defaults are applied at pod creation
 *   only, and a quota without them would reject pods that have no requests.
 * - Workloads are awaited (Deployments available, StatefulSets ready) before custom resources:
 *   a Flagger Canary or a Litmus ChaosEngine acts on its target as soon as it exists.
 * - Admission webhooks after the workloads that serve them: a webhook whose service is not ready
 *   with failurePolicy Fail would block every later apply.
 * - Gatekeeper constraints after the ConstraintTemplates, awaiting the CRD that Gatekeeper
 *   generates for each template.
 * - HPAs and PDBs last: they act on running workloads, and a PDB applied earlier could only block.
 */

export type ApplyStage =
  | 'crds'
  | 'namespaces'
  | 'rbac'
  | 'config'
  | 'services'
  | 'workloads'
  | 'admission'
  | 'custom-resources'
  | 'generated-custom-resources'
  | 'autoscaling-and-disruption';

/** Stages in the order they run. */
export const APPLY_STAGES: readonly ApplyStage[] = ['crds', 'namespaces', 'rbac', 'config', 'services', 'workloads', 'admission', 'custom-resources', 'generated-custom-resources', 'autoscaling-and-disruption'];

/** Identifies one object in the cluster. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** What the apply loop does next: apply one object, or wait for one to reach a condition. */
export type ApplyAction =
  | { type: 'apply'; stage: ApplyStage; object: KubeObject }
  | { type: 'wait'; stage: ApplyStage; condition: WaitCondition; target: ObjectRef };

/** `established`: a CRD is served. `ready`: a workload has its replicas available. */
export type WaitCondition = 'established' | 'ready';

export interface OrderOptions {
  /** Wait for Deployments, StatefulSets and DaemonSets before custom resources. Default true. */
  waitForWorkloads?: boolean;
}

/** Kinds whose readiness the apply loop can judge (see readiness.ts). */
export const AWAITED_WORKLOAD_KINDS: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/** API groups served by Kubernetes itself; anything else is a custom resource. */
const BUILT_IN_GROUPS: ReadonlySet<string> = new Set([
  '', 'apps', 'batch', 'autoscaling', 'policy', 'rbac.authorization.k8s.io', 'networking.k8s.io', 'storage.k8s.io',
  'scheduling.k8s.io', 'apiextensions.k8s.io', 'admissionregistration.k8s.io', 'apiregistration.k8s.io',
  'coordination.k8s.io', 'discovery.k8s.io', 'node.k8s.io', 'certificates.k8s.io', 'events.k8s.io',
  'flowcontrol.apiserver.k8s.io', 'resource.k8s.io',
]);

/** Gatekeeper serves one CRD per ConstraintTemplate in this group. */
export const GATEKEEPER_CONSTRAINTS_GROUP = 'constraints.gatekeeper.sh';

const RBAC_SUBORDER = ['ServiceAccount', 'ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'];
const CONFIG_SUBORDER = ['PriorityClass', 'StorageClass', 'IngressClass', 'LimitRange', 'ResourceQuota', 'NetworkPolicy', 'ConfigMap', 'Secret', 'PersistentVolume', 'PersistentVolumeClaim'];
const SERVICES_SUBORDER = ['Service', 'Ingress'];

/** The stage an object is applied in. */
export function stageOf(object: Pick<KubeObject, 'apiVersion' | 'kind'>): ApplyStage {
  const group = apiGroupOf(object.apiVersion);
  const { kind } = object;
  if (kind === 'CustomResourceDefinition' && group === 'apiextensions.k8s.io') return 'crds';
  if (group === GATEKEEPER_CONSTRAINTS_GROUP) return 'generated-custom-resources';
  if (!BUILT_IN_GROUPS.has(group)) return 'custom-resources';
  if (kind === 'Namespace') return 'namespaces';
  if (RBAC_SUBORDER.includes(kind)) return 'rbac';
  if (SERVICES_SUBORDER.includes(kind)) return 'services';
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Pod', 'Job', 'CronJob'].includes(kind)) return 'workloads';
  if (['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'APIService'].includes(kind)) return 'admission';
  if (kind === 'HorizontalPodAutoscaler' || kind === 'PodDisruptionBudget') return 'autoscaling-and-disruption';
  // Any other built-in kind (Endpoints, Lease, CSIDriver …) is configuration the workloads may read.
  return 'config';
}

export function refOf(object: KubeObject): ObjectRef {
  const ref: ObjectRef = { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name };
  if (object.metadata.namespace !== undefined) ref.namespace = object.metadata.namespace;
  return ref;
}

/**
 * The apply plan for a manifest set: every object once, stage by stage, with the waits between.
 * Within a stage the input order is kept (after the stage's own sub-order, e.g. ServiceAccounts
 * before the bindings that name them), so the result is deterministic for a given input.
 * Throws when two documents name the same object: the later one would silently win.
 */
export function orderForApply(objects: readonly KubeObject[], options: OrderOptions = {}): ApplyAction[] {
  assertNoDuplicates(objects);
  const waitForWorkloads = options.waitForWorkloads ?? true;
  const byStage = new Map<ApplyStage, KubeObject[]>(APPLY_STAGES.map((s) => [s, []]));
  for (const object of objects) byStage.get(stageOf(object))?.push(object);

  const actions: ApplyAction[] = [];
  for (const stage of APPLY_STAGES) {
    const members = sortWithinStage(stage, byStage.get(stage) ?? []);
    if (members.length === 0) continue;
    if (stage === 'generated-custom-resources') {
      // Gatekeeper creates the constraint's CRD only after it has compiled the template.
      const crdNames = [...new Set(members.map((m) => `${m.kind.toLowerCase()}.${apiGroupOf(m.apiVersion)}`))];
      for (const name of crdNames) actions.push({ type: 'wait', stage, condition: 'established', target: { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name } });
    }
    for (const object of members) actions.push({ type: 'apply', stage, object });
    if (stage === 'crds') {
      for (const object of members) actions.push({ type: 'wait', stage, condition: 'established', target: refOf(object) });
    }
    if (stage === 'workloads' && waitForWorkloads) {
      for (const object of members) if (AWAITED_WORKLOAD_KINDS.has(object.kind)) actions.push({ type: 'wait', stage, condition: 'ready', target: refOf(object) });
    }
  }
  return actions;
}

/** Only the objects of a plan, in apply order. */
export function appliedObjects(actions: readonly ApplyAction[]): KubeObject[] {
  return actions.flatMap((a) => (a.type === 'apply' ? [a.object] : []));
}

function sortWithinStage(stage: ApplyStage, members: KubeObject[]): KubeObject[] {
  const suborder = stage === 'rbac' ? RBAC_SUBORDER : stage === 'config' ? CONFIG_SUBORDER : stage === 'services' ? SERVICES_SUBORDER : [];
  if (suborder.length === 0) return members;
  const rank = (kind: string): number => {
    const i = suborder.indexOf(kind);
    return i === -1 ? suborder.length : i;
  };
  // Array.prototype.sort is stable: equal ranks keep their input order.
  return [...members].sort((a, b) => rank(a.kind) - rank(b.kind));
}

function assertNoDuplicates(objects: readonly KubeObject[]): void {
  const seen = new Set<string>();
  for (const object of objects) {
    const key = `${apiGroupOf(object.apiVersion)}|${object.kind}|${object.metadata.namespace ?? ''}|${object.metadata.name}`;
    if (seen.has(key)) throw new Error(`${describeObject(object)} appears twice in the manifest set; the later document would silently replace the earlier one`);
    seen.add(key);
  }
}
