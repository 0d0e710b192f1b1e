import type { KubeObject } from '../../targets/kind/objects.ts';

/**
 * The `litmus-admin` service account the seed's ChaosEngine names (`chaosServiceAccount:
 * litmus-admin`). Litmus runs the experiment's pods with it in the ChaosEngine's own namespace,
 * so it must exist there; Litmus's published litmus-admin-rbac.yaml creates it in `litmus`
 * instead, where the seed's engine (namespace hastecrm-production) cannot use it.
 *
 * Namespaced (Role, not ClusterRole): the experiments the harness runs (pod-delete, container-kill,
 * pod-cpu-hog, pod-memory-hog, pod-network-*) act on pods of their own namespace only.
 */
export function renderLitmusAdminRbac(namespace: string, serviceAccount = 'litmus-admin'): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: serviceAccount, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: serviceAccount, namespace },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'deletecollection'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'get', 'list', 'patch', 'update'] },
        { apiGroups: [''], resources: ['configmaps', 'secrets', 'replicationcontrollers', 'services'], verbs: ['get', 'list'] },
        { apiGroups: [''], resources: ['pods/log'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'list', 'create'] },
        { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'replicasets', 'daemonsets'], verbs: ['get', 'list'] },
        { apiGroups: ['argoproj.io'], resources: ['rollouts'], verbs: ['get', 'list'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get', 'list', 'delete', 'deletecollection'] },
        { apiGroups: ['litmuschaos.io'], resources: ['chaosengines', 'chaosexperiments', 'chaosresults'], verbs: ['create', 'get', 'list', 'patch', 'update', 'delete'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: serviceAccount, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: serviceAccount },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
    },
  ];
}
