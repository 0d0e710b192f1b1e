/**
 * Where each manifest of hasteCRM's set runs: applied on kind as is, applied once an addon is
 * installed, or validated only. docs/manifests.md shows the same table to people; the manifests'
 * tests keep the two, the files and the kind overlay consistent.
 */

/** Something the kind target installs beside hasteCRM (or a cloud service it cannot have). */
export type Addon =
  | 'metrics-server'
  | 'ingress-nginx'
  | 'istio'
  | 'flagger'
  | 'argo-rollouts'
  | 'gatekeeper'
  | 'prometheus-operator'
  | 'litmus'
  | 'vpa'
  | 'velero';

export type Support =
  /** Applied on kind with no addon. */
  | { readonly on: 'kind'; readonly note?: string }
  /** Applied on kind once every addon listed is installed (its CRDs or controller are needed). */
  | { readonly on: 'addon'; readonly addons: readonly Addon[]; readonly note?: string }
  /** Not an object: a file the kind config mounts into the control plane. */
  | { readonly on: 'kind-config'; readonly note: string }
  /** Checked offline only; never applied on kind, for the reason given. */
  | { readonly on: 'validated-only'; readonly why: string };

export interface ManifestEntry {
  /** Path relative to cluster/manifests/. */
  readonly path: string;
  /** The kinds of the objects in the file (each once). */
  readonly kinds: readonly string[];
  readonly support: Support;
  /** Set for files that replace others instead of being applied with them. */
  readonly alternativeTo?: string;
}

export const supportMatrix: readonly ManifestEntry[] = [
  { path: 'base/namespaces.yaml', kinds: ['Namespace'], support: { on: 'kind' } },
  { path: 'base/quota.yaml', kinds: ['ResourceQuota', 'LimitRange'], support: { on: 'kind' } },
  { path: 'base/config.yaml', kinds: ['ConfigMap'], support: { on: 'kind' } },
  { path: 'base/secrets.yaml', kinds: ['Secret'], support: { on: 'kind', note: 'placeholders, consistent so that kind works' } },
  { path: 'base/postgres.yaml', kinds: ['StatefulSet', 'Service'], support: { on: 'kind' } },
  { path: 'base/redis.yaml', kinds: ['StatefulSet', 'Service'], support: { on: 'kind' } },
  { path: 'base/elasticsearch.yaml', kinds: ['StatefulSet', 'Service'], support: { on: 'kind' } },
  { path: 'base/api.yaml', kinds: ['Deployment', 'Service'], support: { on: 'kind', note: 'image hastecrm/api:dev, the reference API loaded with kind load' } },
  { path: 'base/web.yaml', kinds: ['Deployment', 'Service'], support: { on: 'kind', note: 'needs a web image (hastecrm/web:dev)' } },
  { path: 'base/workers.yaml', kinds: ['Deployment', 'Service'], support: { on: 'kind', note: 'needs a workers image (hastecrm/workers:dev)' } },
  { path: 'base/pdb.yaml', kinds: ['PodDisruptionBudget'], support: { on: 'kind' } },
  { path: 'base/litmus-rbac.yaml', kinds: ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'], support: { on: 'kind' } },
  { path: 'base/opentelemetry.yaml', kinds: ['ConfigMap'], support: { on: 'kind', note: 'configuration only; the collector comes from its Helm chart or operator' } },
  { path: 'base/fluent-bit.yaml', kinds: ['ConfigMap'], support: { on: 'kind', note: 'configuration only; the DaemonSet comes from the fluent-bit Helm chart' } },
  { path: 'base/dr-test.yaml', kinds: ['CronJob', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'], support: { on: 'kind', note: 'suspended on kind; runs where Velero and its backups exist' } },
  { path: 'base/hpa.yaml', kinds: ['HorizontalPodAutoscaler'], support: { on: 'addon', addons: ['metrics-server'] } },
  { path: 'base/ingress.yaml', kinds: ['Ingress'], support: { on: 'addon', addons: ['ingress-nginx'] } },
  { path: 'base/istio.yaml', kinds: ['Gateway', 'VirtualService'], support: { on: 'addon', addons: ['istio'] } },
  { path: 'base/gatekeeper-template.yaml', kinds: ['ConstraintTemplate'], support: { on: 'addon', addons: ['gatekeeper'] } },
  { path: 'base/gatekeeper-constraint.yaml', kinds: ['K8sRequiredSecurityContext'], support: { on: 'addon', addons: ['gatekeeper'], note: 'after the template’s CRD is established' } },
  { path: 'base/servicemonitor.yaml', kinds: ['ServiceMonitor'], support: { on: 'addon', addons: ['prometheus-operator'] } },
  { path: 'base/prometheus-rules.yaml', kinds: ['PrometheusRule'], support: { on: 'addon', addons: ['prometheus-operator'] } },
  { path: 'base/hastecrm-api/canary.yaml', kinds: ['Canary'], support: { on: 'addon', addons: ['flagger', 'istio', 'prometheus-operator'] } },
  { path: 'base/hastecrm-api/rollout.yaml', kinds: ['Rollout', 'Service'], support: { on: 'addon', addons: ['argo-rollouts'], note: 'through the component base/hastecrm-api' }, alternativeTo: 'base/hastecrm-api/canary.yaml' },
  { path: 'base/hastecrm-api/analysis-template-success-rate.yaml', kinds: ['AnalysisTemplate'], support: { on: 'addon', addons: ['argo-rollouts', 'prometheus-operator'], note: 'through the component base/hastecrm-api' }, alternativeTo: 'base/hastecrm-api/canary.yaml' },
  { path: 'base/vpa.yaml', kinds: ['VerticalPodAutoscaler'], support: { on: 'addon', addons: ['vpa'] } },
  { path: 'base/chaos.yaml', kinds: ['ChaosEngine'], support: { on: 'addon', addons: ['litmus'], note: 'with the pod-cpu-hog and pod-network-latency ChaosExperiments in namespace litmus' } },
  { path: 'base/federation.yaml', kinds: ['FederatedDeployment'], support: { on: 'validated-only', why: 'multi-cluster: needs a KubeFed host cluster with three member clusters (and KubeFed is archived)' } },
  { path: 'base/karpenter.yaml', kinds: ['NodePool', 'EC2NodeClass'], support: { on: 'validated-only', why: 'cloud-only: Karpenter launches EC2 instances on AWS' } },
  { path: 'base/velero.yaml', kinds: ['BackupStorageLocation', 'Schedule'], support: { on: 'validated-only', why: 'object storage: the location is an S3 bucket in eu-west-1 (kind would need a MinIO addon and its own location)' } },
  { path: 'base/applicationset.yaml', kinds: ['ApplicationSet'], support: { on: 'validated-only', why: 'multi-cluster: deploys into three clusters registered in Argo CD' } },
  { path: 'apiserver/encryption-config.yaml', kinds: ['EncryptionConfiguration'], support: { on: 'kind-config', note: 'mounted into the control plane and passed as --encryption-provider-config, with a generated key' } },
];

/**
 * The addon whose CRD serves each custom kind of the set, keyed by `group/Kind`: an object of such a
 * kind can be applied only once that addon is installed. Built-in kinds are not listed.
 */
export const crdAddon: Readonly<Record<string, Addon | 'karpenter' | 'kubefed' | 'argo-cd'>> = {
  'networking.istio.io/Gateway': 'istio',
  'networking.istio.io/VirtualService': 'istio',
  'flagger.app/Canary': 'flagger',
  'argoproj.io/Rollout': 'argo-rollouts',
  'argoproj.io/AnalysisTemplate': 'argo-rollouts',
  'argoproj.io/ApplicationSet': 'argo-cd',
  'templates.gatekeeper.sh/ConstraintTemplate': 'gatekeeper',
  'constraints.gatekeeper.sh/K8sRequiredSecurityContext': 'gatekeeper',
  'monitoring.coreos.com/ServiceMonitor': 'prometheus-operator',
  'monitoring.coreos.com/PrometheusRule': 'prometheus-operator',
  'litmuschaos.io/ChaosEngine': 'litmus',
  'autoscaling.k8s.io/VerticalPodAutoscaler': 'vpa',
  'velero.io/BackupStorageLocation': 'velero',
  'velero.io/Schedule': 'velero',
  'karpenter.sh/NodePool': 'karpenter',
  'karpenter.k8s.aws/EC2NodeClass': 'karpenter',
  'types.kubefed.io/FederatedDeployment': 'kubefed',
};

/** `group/Kind` of an object (`/Kind` for the core group), the key of crdAddon. */
export function groupKind(object: { apiVersion: string; kind: string }): string {
  const slash = object.apiVersion.lastIndexOf('/');
  return `${slash < 0 ? '' : object.apiVersion.slice(0, slash)}/${object.kind}`;
}
