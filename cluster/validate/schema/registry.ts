import type { ErrorObject } from 'ajv';
import { HAND_WRITTEN_SCHEMAS, handWrittenSchemasFor, handWrittenValidator } from './crd-schemas.ts';

/** A schema check of one object: the AJV errors it found (empty when valid). */
export type SchemaCheck = (object: unknown) => ErrorObject[];

/** What the registry knows about an apiVersion/kind pair. */
export interface KindInfo {
  /** Schema checks to run; empty when the kind is known but no schema is installed for it. */
  checks: SchemaCheck[];
  /** Where the schemas come from, for messages. */
  sources: string[];
}

interface ModelClass {
  new (data?: unknown): { validate(): void };
  apiVersion: string;
  kind: string;
}

/** The installed kubernetes-models packages whose models carry `.validate()`. */
const MODEL_PACKAGES = [
  'kubernetes-models',
  '@kubernetes-models/istio',
  '@kubernetes-models/argo-rollouts',
  '@kubernetes-models/argo-cd',
  '@kubernetes-models/karpenter',
  '@kubernetes-models/prometheus-operator',
] as const;

/**
 * Kinds known to exist (their CRDs are common) but with no schema here: they are not "unknown",
 * and they are not validated. Gatekeeper constraints (any kind in constraints.gatekeeper.sh) are
 * handled apart: their kinds come from ConstraintTemplates.
 */
const KNOWN_WITHOUT_SCHEMA: Record<string, readonly string[]> = {
  'flagger.app/v1beta1': ['MetricTemplate', 'AlertProvider'],
  'litmuschaos.io/v1alpha1': ['ChaosExperiment', 'ChaosResult', 'ChaosSchedule'],
  'velero.io/v1': ['Backup', 'Restore', 'VolumeSnapshotLocation', 'BackupRepository', 'PodVolumeBackup', 'PodVolumeRestore', 'ServerStatusRequest', 'DeleteBackupRequest', 'DownloadRequest'],
  'core.kubefed.io/v1beta1': ['KubeFedCluster', 'KubeFedConfig', 'FederatedTypeConfig'],
  'autoscaling.k8s.io/v1': ['VerticalPodAutoscalerCheckpoint'],
  'config.gatekeeper.sh/v1alpha1': ['Config'],
  'mutations.gatekeeper.sh/v1': ['Assign', 'AssignMetadata', 'ModifySet', 'AssignImage'],
  'k6.io/v1alpha1': ['TestRun', 'PrivateLoadZone'],
  'opentelemetry.io/v1beta1': ['OpenTelemetryCollector'],
  'opentelemetry.io/v1alpha1': ['Instrumentation', 'OpAMPBridge'],
  'cert-manager.io/v1': ['Certificate', 'Issuer', 'ClusterIssuer', 'CertificateRequest'],
  'gateway.networking.k8s.io/v1': ['Gateway', 'GatewayClass', 'HTTPRoute', 'GRPCRoute'],
  'keda.sh/v1alpha1': ['ScaledObject', 'ScaledJob', 'TriggerAuthentication'],
  'metrics.k8s.io/v1beta1': ['PodMetrics', 'NodeMetrics'],
  'snapshot.storage.k8s.io/v1': ['VolumeSnapshot', 'VolumeSnapshotClass', 'VolumeSnapshotContent'],
};

/**
 * Files that tools read but that are not API objects: `kubectl apply` would fail on them ("no
 * matches for kind"). Values: what reads them.
 */
export const NOT_API_OBJECTS: Record<string, string> = {
  'apiserver.config.k8s.io/EncryptionConfiguration': 'kube-apiserver reads it from --encryption-provider-config (on kind: kubeadmConfigPatches plus an extraMount)',
  'apiserver.config.k8s.io/AdmissionConfiguration': 'kube-apiserver reads it from --admission-control-config-file',
  'audit.k8s.io/Policy': 'kube-apiserver reads it from --audit-policy-file',
  'kind.x-k8s.io/Cluster': 'kind reads it with `kind create cluster --config`',
  'kubelet.config.k8s.io/KubeletConfiguration': 'the kubelet reads it from --config',
  'kubeadm.k8s.io/ClusterConfiguration': 'kubeadm reads it',
  'kubeadm.k8s.io/InitConfiguration': 'kubeadm reads it',
  'kubeadm.k8s.io/JoinConfiguration': 'kubeadm reads it',
};

/** apiVersions whose documents are build inputs, skipped without a finding. */
export const BUILD_INPUT_GROUPS = ['kustomize.config.k8s.io', 'config.kubernetes.io'];

let modelIndex: Promise<Map<string, ModelClass>> | undefined;

/** Every model class of the installed packages, by `apiVersion kind` (loaded once, ~2 s). */
function models(): Promise<Map<string, ModelClass>> {
  modelIndex ??= (async () => {
    const index = new Map<string, ModelClass>();
    for (const name of MODEL_PACKAGES) collectModels((await import(name)) as unknown, index, 0);
    return index;
  })();
  return modelIndex;
}

function collectModels(namespace: unknown, index: Map<string, ModelClass>, depth: number): void {
  if (depth > 4 || namespace === null || typeof namespace !== 'object') return;
  for (const value of Object.values(namespace as Record<string, unknown>)) {
    if (typeof value === 'function') {
      const candidate = value as Partial<ModelClass>;
      if (typeof candidate.apiVersion === 'string' && typeof candidate.kind === 'string' && !candidate.kind.endsWith('List')) {
        index.set(`${candidate.apiVersion} ${candidate.kind}`, value as ModelClass);
      }
    } else collectModels(value, index, depth + 1);
  }
}

/** Runs a kubernetes-models class's `.validate()` and returns its AJV errors. */
function modelCheck(model: ModelClass): SchemaCheck {
  return (object) => {
    try {
      new model(object).validate();
      return [];
    } catch (error) {
      const errors = (error as { errors?: ErrorObject[] }).errors;
      if (Array.isArray(errors)) return errors;
      throw error;
    }
  };
}

/**
 * What is known about `apiVersion kind`, or undefined when nothing is: no installed model, no
 * hand-written schema, not in the list of known kinds, and not defined by a
 * CustomResourceDefinition among the given manifests (`customKinds`, as `apiVersion kind`).
 */
export async function lookupKind(apiVersion: string, kind: string, customKinds: ReadonlySet<string>): Promise<KindInfo | undefined> {
  const info: KindInfo = { checks: [], sources: [] };
  let known = false;
  const model = (await models()).get(`${apiVersion} ${kind}`);
  if (model) {
    known = true;
    info.checks.push(modelCheck(model));
    info.sources.push('kubernetes-models');
  }
  for (const schema of handWrittenSchemasFor(apiVersion, kind)) {
    if (schema.supplement && !known) continue;
    known = true;
    info.checks.push(handWrittenValidator(schema.file));
    info.sources.push(`crd-schemas/${schema.file}`);
  }
  if (KNOWN_WITHOUT_SCHEMA[apiVersion]?.includes(kind) || customKinds.has(`${apiVersion} ${kind}`)) known = true;
  if (apiVersion.startsWith('constraints.gatekeeper.sh/')) known = true;
  return known ? info : undefined;
}

/** Every apiVersion that serves `kind` (models, hand-written schemas, known kinds), for suggestions. */
export async function apiVersionsServing(kind: string): Promise<string[]> {
  const out = new Set<string>();
  for (const key of (await models()).keys()) {
    const [apiVersion, k] = key.split(' ');
    if (k === kind && apiVersion) out.add(apiVersion);
  }
  for (const schema of HAND_WRITTEN_SCHEMAS) if (!schema.supplement && schema.kind === kind) for (const v of schema.apiVersions) out.add(v);
  for (const [apiVersion, kinds] of Object.entries(KNOWN_WITHOUT_SCHEMA)) if (kinds.includes(kind)) out.add(apiVersion);
  return [...out];
}
