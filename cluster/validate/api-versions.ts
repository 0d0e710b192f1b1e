/**
 * API versions that a current cluster (Kubernetes 1.32 and the addons' current releases) no longer
 * serves (`removed`, an error: the API server answers "no matches for kind") or still serves but
 * has deprecated (`deprecated`, a warning). Each entry names its replacement. The README of
 * cluster/validate prints this table; keep the two in step.
 */
export interface ApiVersionNotice {
  apiVersion: string;
  /** The kinds it applies to; `*` for every kind of that apiVersion. */
  kinds: readonly string[] | '*';
  status: 'removed' | 'deprecated';
  /** Where it stopped being served or was deprecated (Kubernetes or the addon's release). */
  since: string;
  /** What to use instead, written as an instruction. */
  replacement: string;
}

const WORKLOADS = ['Deployment', 'DaemonSet', 'ReplicaSet', 'StatefulSet'];

export const API_VERSION_NOTICES: readonly ApiVersionNotice[] = [
  // Kubernetes (https://kubernetes.io/docs/reference/using-api/deprecation-guide/)
  { apiVersion: 'extensions/v1beta1', kinds: ['Ingress'], status: 'removed', since: 'Kubernetes 1.22', replacement: 'use networking.k8s.io/v1 Ingress (backend.serviceName/servicePort become backend.service.name/port.number, pathType is required)' },
  { apiVersion: 'networking.k8s.io/v1beta1', kinds: ['Ingress', 'IngressClass'], status: 'removed', since: 'Kubernetes 1.22', replacement: 'use networking.k8s.io/v1 (backend.serviceName/servicePort become backend.service.name/port.number, pathType is required)' },
  { apiVersion: 'extensions/v1beta1', kinds: WORKLOADS, status: 'removed', since: 'Kubernetes 1.16', replacement: 'use apps/v1 (spec.selector is required and must match the template labels)' },
  { apiVersion: 'apps/v1beta1', kinds: '*', status: 'removed', since: 'Kubernetes 1.16', replacement: 'use apps/v1 (spec.selector is required and must match the template labels)' },
  { apiVersion: 'apps/v1beta2', kinds: '*', status: 'removed', since: 'Kubernetes 1.16', replacement: 'use apps/v1' },
  { apiVersion: 'extensions/v1beta1', kinds: ['NetworkPolicy'], status: 'removed', since: 'Kubernetes 1.16', replacement: 'use networking.k8s.io/v1 NetworkPolicy' },
  { apiVersion: 'extensions/v1beta1', kinds: ['PodSecurityPolicy'], status: 'removed', since: 'Kubernetes 1.25', replacement: 'PodSecurityPolicy has no successor object: label the namespace with pod-security.kubernetes.io/enforce (Pod Security Admission) or use a policy engine (Gatekeeper, Kyverno)' },
  { apiVersion: 'policy/v1beta1', kinds: ['PodSecurityPolicy'], status: 'removed', since: 'Kubernetes 1.25', replacement: 'PodSecurityPolicy has no successor object: label the namespace with pod-security.kubernetes.io/enforce (Pod Security Admission) or use a policy engine (Gatekeeper, Kyverno)' },
  { apiVersion: 'policy/v1beta1', kinds: ['PodDisruptionBudget'], status: 'removed', since: 'Kubernetes 1.25', replacement: 'use policy/v1 (an empty selector now selects every pod of the namespace)' },
  { apiVersion: 'batch/v1beta1', kinds: ['CronJob'], status: 'removed', since: 'Kubernetes 1.25', replacement: 'use batch/v1 CronJob' },
  { apiVersion: 'autoscaling/v2beta1', kinds: ['HorizontalPodAutoscaler'], status: 'removed', since: 'Kubernetes 1.25', replacement: 'use autoscaling/v2 (targetAverageUtilization becomes target: {type: Utilization, averageUtilization})' },
  { apiVersion: 'autoscaling/v2beta2', kinds: ['HorizontalPodAutoscaler'], status: 'removed', since: 'Kubernetes 1.26', replacement: 'use autoscaling/v2 (same fields)' },
  { apiVersion: 'discovery.k8s.io/v1beta1', kinds: ['EndpointSlice'], status: 'removed', since: 'Kubernetes 1.25', replacement: 'use discovery.k8s.io/v1' },
  { apiVersion: 'events.k8s.io/v1beta1', kinds: ['Event'], status: 'removed', since: 'Kubernetes 1.25', replacement: 'use events.k8s.io/v1' },
  { apiVersion: 'node.k8s.io/v1beta1', kinds: ['RuntimeClass'], status: 'removed', since: 'Kubernetes 1.25', replacement: 'use node.k8s.io/v1' },
  { apiVersion: 'rbac.authorization.k8s.io/v1beta1', kinds: '*', status: 'removed', since: 'Kubernetes 1.22', replacement: 'use rbac.authorization.k8s.io/v1' },
  { apiVersion: 'apiextensions.k8s.io/v1beta1', kinds: '*', status: 'removed', since: 'Kubernetes 1.22', replacement: 'use apiextensions.k8s.io/v1 (a structural schema per version is required)' },
  { apiVersion: 'admissionregistration.k8s.io/v1beta1', kinds: '*', status: 'removed', since: 'Kubernetes 1.22', replacement: 'use admissionregistration.k8s.io/v1 (sideEffects and admissionReviewVersions are required)' },
  { apiVersion: 'apiregistration.k8s.io/v1beta1', kinds: '*', status: 'removed', since: 'Kubernetes 1.22', replacement: 'use apiregistration.k8s.io/v1' },
  { apiVersion: 'certificates.k8s.io/v1beta1', kinds: '*', status: 'removed', since: 'Kubernetes 1.22', replacement: 'use certificates.k8s.io/v1 (signerName is required)' },
  { apiVersion: 'coordination.k8s.io/v1beta1', kinds: ['Lease'], status: 'removed', since: 'Kubernetes 1.22', replacement: 'use coordination.k8s.io/v1' },
  { apiVersion: 'scheduling.k8s.io/v1beta1', kinds: ['PriorityClass'], status: 'removed', since: 'Kubernetes 1.22', replacement: 'use scheduling.k8s.io/v1' },
  { apiVersion: 'storage.k8s.io/v1beta1', kinds: ['CSIDriver', 'CSINode', 'StorageClass', 'VolumeAttachment'], status: 'removed', since: 'Kubernetes 1.22', replacement: 'use storage.k8s.io/v1' },
  { apiVersion: 'storage.k8s.io/v1beta1', kinds: ['CSIStorageCapacity'], status: 'removed', since: 'Kubernetes 1.27', replacement: 'use storage.k8s.io/v1' },
  { apiVersion: 'authentication.k8s.io/v1beta1', kinds: '*', status: 'removed', since: 'Kubernetes 1.22', replacement: 'use authentication.k8s.io/v1' },
  { apiVersion: 'authorization.k8s.io/v1beta1', kinds: '*', status: 'removed', since: 'Kubernetes 1.22', replacement: 'use authorization.k8s.io/v1' },
  { apiVersion: 'flowcontrol.apiserver.k8s.io/v1beta1', kinds: '*', status: 'removed', since: 'Kubernetes 1.26', replacement: 'use flowcontrol.apiserver.k8s.io/v1' },
  { apiVersion: 'flowcontrol.apiserver.k8s.io/v1beta2', kinds: '*', status: 'removed', since: 'Kubernetes 1.29', replacement: 'use flowcontrol.apiserver.k8s.io/v1' },
  { apiVersion: 'flowcontrol.apiserver.k8s.io/v1beta3', kinds: '*', status: 'removed', since: 'Kubernetes 1.32', replacement: 'use flowcontrol.apiserver.k8s.io/v1' },
  // Addons
  { apiVersion: 'karpenter.sh/v1alpha5', kinds: '*', status: 'removed', since: 'Karpenter v0.33', replacement: 'use karpenter.sh/v1 NodePool (requirements, limits, disruption) with a karpenter.k8s.aws/v1 EC2NodeClass (subnetSelectorTerms, securityGroupSelectorTerms, instanceStorePolicy); ttlSecondsAfterEmpty becomes disruption.consolidateAfter, ttlSecondsUntilExpired becomes template.spec.expireAfter' },
  { apiVersion: 'karpenter.k8s.aws/v1alpha1', kinds: '*', status: 'removed', since: 'Karpenter v0.33', replacement: 'use karpenter.k8s.aws/v1 EC2NodeClass' },
  { apiVersion: 'karpenter.sh/v1beta1', kinds: '*', status: 'removed', since: 'Karpenter 1.1', replacement: 'use karpenter.sh/v1 (NodePool, NodeClaim)' },
  { apiVersion: 'karpenter.k8s.aws/v1beta1', kinds: '*', status: 'removed', since: 'Karpenter 1.1', replacement: 'use karpenter.k8s.aws/v1 EC2NodeClass' },
  { apiVersion: 'networking.istio.io/v1alpha3', kinds: '*', status: 'deprecated', since: 'Istio 1.22', replacement: 'use networking.istio.io/v1 (same fields)' },
  { apiVersion: 'security.istio.io/v1beta1', kinds: '*', status: 'deprecated', since: 'Istio 1.22', replacement: 'use security.istio.io/v1 (same fields)' },
  { apiVersion: 'flagger.app/v1alpha3', kinds: '*', status: 'removed', since: 'Flagger 1.0', replacement: 'use flagger.app/v1beta1 (canaryAnalysis becomes analysis, threshold of metrics becomes thresholdRange)' },
  { apiVersion: 'templates.gatekeeper.sh/v1beta1', kinds: ['ConstraintTemplate'], status: 'deprecated', since: 'Gatekeeper 3.6', replacement: 'use templates.gatekeeper.sh/v1 (same fields; the schema under crd.spec.validation.openAPIV3Schema must be structural)' },
  { apiVersion: 'templates.gatekeeper.sh/v1alpha1', kinds: ['ConstraintTemplate'], status: 'deprecated', since: 'Gatekeeper 3.6', replacement: 'use templates.gatekeeper.sh/v1' },
  { apiVersion: 'autoscaling.k8s.io/v1beta2', kinds: '*', status: 'deprecated', since: 'Vertical Pod Autoscaler 0.13', replacement: 'use autoscaling.k8s.io/v1 (same fields)' },
  { apiVersion: 'autoscaling.k8s.io/v1beta1', kinds: '*', status: 'removed', since: 'Vertical Pod Autoscaler 1.0', replacement: 'use autoscaling.k8s.io/v1' },
  { apiVersion: 'types.kubefed.io/v1beta1', kinds: '*', status: 'deprecated', since: 'KubeFed archived in 2023', replacement: 'KubeFed is no longer maintained: apply per-cluster manifests from GitOps (the Argo CD ApplicationSet already targets several clusters) or move to a maintained federation project (Karmada, Open Cluster Management)' },
];

/** The notice for an apiVersion/kind pair, if any. */
export function apiVersionNotice(apiVersion: string, kind: string): ApiVersionNotice | undefined {
  return API_VERSION_NOTICES.find((n) => n.apiVersion === apiVersion && (n.kinds === '*' || n.kinds.includes(kind)));
}
