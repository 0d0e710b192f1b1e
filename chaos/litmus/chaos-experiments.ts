import { renderLitmusAdminRbac } from '../../cluster/addons/kind/litmus-rbac.ts';
import type { KubeObject } from '../../cluster/targets/kind/objects.ts';
import { EXPERIMENTS, type ExperimentName } from './experiments.ts';
import { LITMUS_API_VERSION } from './litmus-client.ts';

/**
 * The ChaosExperiment CRs of the experiments the harness runs on Kubernetes, shaped like the ones
 * Litmus's chaos-charts publish (faults/kubernetes/<name>/fault.yaml) for the Litmus version the
 * kind addon pins (cluster/addons/kind/addons.ts): image litmuschaos/go-runner:<version>, the
 * `/bin/bash -c "./experiments -name <name>"` entry point, the namespaced permissions, and env
 * defaults from experiments.ts (ChaosEngines render every tunable explicitly anyway).
 *
 * Helper pods: the ChaosExperiment does not carry their securityContext. litmus-go creates the
 * stress and network helpers privileged (hostPID, SYS_ADMIN/NET_ADMIN, the CRI socket as a
 * hostPath) itself; policy.ts checks before a run whether the namespace admits them.
 */

/** The Litmus release the addon installs; the go-runner image carries the same tag. */
export const LITMUS_VERSION = '3.0.0';
export const GO_RUNNER_IMAGE = `litmuschaos/go-runner:${LITMUS_VERSION}`;

/**
 * The experiments installed per namespace: the pod-level ones the namespaced litmus-admin Role
 * can run. node-drain (nodes, evictions) and pod-network-partition (NetworkPolicies) need
 * cluster-scoped or extra RBAC that the harness deliberately does not grant.
 */
export const INSTALLED_EXPERIMENTS = ['pod-delete', 'container-kill', 'pod-cpu-hog', 'pod-memory-hog', 'pod-network-latency', 'pod-network-loss'] as const satisfies readonly ExperimentName[];

const DESCRIPTIONS: Record<(typeof INSTALLED_EXPERIMENTS)[number], string> = {
  'pod-delete': 'Deletes pods belonging to a deployment/statefulset/daemonset',
  'container-kill': 'Kills a container of the target pods through the container runtime',
  'pod-cpu-hog': 'Injects CPU consumption into the target pods',
  'pod-memory-hog': 'Injects memory consumption into the target pods',
  'pod-network-latency': 'Injects network latency into the target pods',
  'pod-network-loss': 'Injects network packet loss into the target pods',
};

/** Env the charts add beyond the tunables: which helper images to use, no default health check. */
function chartExtras(experiment: (typeof INSTALLED_EXPERIMENTS)[number]): { name: string; value: string }[] {
  const extras = [
    { name: 'TARGET_PODS', value: '' },
    { name: 'NODE_LABEL', value: '' },
    { name: 'DEFAULT_HEALTH_CHECK', value: 'false' },
  ];
  const helper = EXPERIMENTS[experiment].helper;
  if (helper !== 'none') extras.push({ name: 'LIB_IMAGE', value: GO_RUNNER_IMAGE });
  if (helper === 'privileged-stress') extras.push({ name: 'STRESS_IMAGE', value: 'alexeiled/stress-ng:latest-ubuntu' });
  if (helper === 'privileged-network') extras.push({ name: 'TC_IMAGE', value: 'gaiadocker/iproute2' });
  return extras;
}

/** One ChaosExperiment CR for `namespace`. */
export function renderChaosExperiment(experiment: (typeof INSTALLED_EXPERIMENTS)[number], namespace: string): KubeObject {
  const spec = EXPERIMENTS[experiment];
  // Litmus reads an empty value as "unset", and the charts leave RAMP_TIME and PODS_AFFECTED_PERC empty.
  const emptyByDefault = new Set(['RAMP_TIME', 'PODS_AFFECTED_PERC']);
  const tunableEnv = Object.entries(spec.tunables as Record<string, { default: string | number | boolean }>).map(([name, t]) => ({ name, value: emptyByDefault.has(name) ? '' : String(t.default) }));
  const labels = {
    name: experiment,
    'app.kubernetes.io/part-of': 'litmus',
    'app.kubernetes.io/component': 'experiment-job',
    'app.kubernetes.io/version': LITMUS_VERSION,
    // Set by the charts on experiments whose helper talks to the container runtime.
    ...(spec.helper === 'none' ? {} : { 'app.kubernetes.io/runtime-api-usage': 'true' }),
  };
  return {
    apiVersion: LITMUS_API_VERSION,
    kind: 'ChaosExperiment',
    description: { message: DESCRIPTIONS[experiment] },
    metadata: {
      name: experiment,
      namespace,
      labels: { name: experiment, 'app.kubernetes.io/part-of': 'litmus', 'app.kubernetes.io/component': 'chaosexperiment', 'app.kubernetes.io/version': LITMUS_VERSION },
    },
    spec: {
      definition: {
        scope: 'Namespaced',
        permissions: PERMISSIONS,
        image: GO_RUNNER_IMAGE,
        // The charts say Always; IfNotPresent lets a kind cluster use an image preloaded with `kind load`.
        imagePullPolicy: 'IfNotPresent',
        args: ['-c', `./experiments -name ${experiment}`],
        command: ['/bin/bash'],
        env: [...tunableEnv, ...chartExtras(experiment)],
        labels,
      },
    },
  };
}

/** The permissions every pod-level chart lists (what the experiment pod does with the API). */
const PERMISSIONS = [
  { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'deletecollection'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'get', 'list', 'patch', 'update'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'list', 'create'] },
  { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'replicasets', 'daemonsets'], verbs: ['list', 'get'] },
  { apiGroups: ['apps.openshift.io'], resources: ['deploymentconfigs'], verbs: ['list', 'get'] },
  { apiGroups: [''], resources: ['replicationcontrollers'], verbs: ['get', 'list'] },
  { apiGroups: ['argoproj.io'], resources: ['rollouts'], verbs: ['list', 'get'] },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'list', 'get', 'delete', 'deletecollection'] },
  { apiGroups: ['litmuschaos.io'], resources: ['chaosengines', 'chaosexperiments', 'chaosresults'], verbs: ['create', 'list', 'get', 'patch', 'update', 'delete'] },
];

/**
 * Everything a namespace needs before a ChaosEngine can run there: the ChaosExperiment CRs and the
 * litmus-admin ServiceAccount, Role and RoleBinding. Ready for applyManifests (which orders RBAC
 * before custom resources and waits for the Litmus CRDs).
 */
export function installLitmusExperiments(namespace: string, experiments: readonly (typeof INSTALLED_EXPERIMENTS)[number][] = INSTALLED_EXPERIMENTS): KubeObject[] {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) throw new Error(`installLitmusExperiments: namespace "${namespace}" is not a namespace name (DNS label: lowercase letters, digits, "-")`);
  return [...renderLitmusAdminRbac(namespace), ...experiments.map((e) => renderChaosExperiment(e, namespace))];
}
