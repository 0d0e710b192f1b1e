import { readFileSync } from 'node:fs';
import { renderChaosEngine, type ChaosEngine } from '../../chaos/litmus/chaos-engine.ts';
import { INSTALLED_EXPERIMENTS, installLitmusExperiments } from '../../chaos/litmus/chaos-experiments.ts';
import { affectedPodCount } from '../../chaos/litmus/planned-targets.ts';
import { checkPolicyConflicts, type PolicyFinding } from '../../chaos/litmus/policy.ts';
import { formatLabelSelector } from '../../chaos/litmus/experiments.ts';
import { manifestPaths, parseManifests } from '../../cluster/manifests/build.ts';
import type { KubeObject } from '../../cluster/targets/kind/objects.ts';
import type { ResolvedExperiment, ResolvedKindTarget } from '../config/resolve.ts';

/**
 * Litmus on the kind target: what the run applies for chaos and what the plan says about it.
 *
 * The app namespace (hastecrm-production) enforces the `restricted` Pod Security Standard, which
 * rejects Litmus's runner and helper pods. So the ChaosEngines, their pods, the ChaosExperiments
 * and the litmus-admin service account live in a chaos namespace the run creates as `privileged`
 * (issue 4's "run the helpers in a chaos namespace that allows them"); a Role in the app namespace
 * lets litmus-admin find and act on the app's pods there (appinfo.appns).
 */

/** One ChaosEngine per experiment, named after the run so a leftover is traceable to it. */
export function renderKindChaosEngine(experiment: ResolvedExperiment, target: ResolvedKindTarget, runId: string): ChaosEngine {
  // DNS subdomain: the run id's time stamp and random suffix keep names unique across runs.
  const name = `${experiment.name}-${runId}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/-+$/, '');
  return renderChaosEngine({
    name,
    namespace: target.chaosNamespace,
    appns: target.namespace,
    applabel: experiment.selector,
    appkind: 'deployment',
    experiments: [experiment.definition],
    // Keep the runner and experiment jobs only until they are done; the ChaosResult stays.
    jobCleanUpPolicy: 'delete',
  }).object;
}

/**
 * The objects chaos needs before any engine starts: the chaos namespace (privileged), the
 * ChaosExperiments and litmus-admin there, and a Role + RoleBinding in the app namespace granting
 * litmus-admin what the experiments do to the app's pods.
 */
export function kindChaosObjects(target: ResolvedKindTarget): KubeObject[] {
  const chaosNs = target.chaosNamespace;
  const namespace: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: chaosNs,
      labels: {
        'app.kubernetes.io/part-of': 'hastecrm',
        // Litmus's helpers need privileged, hostPID and the container runtime socket.
        'pod-security.kubernetes.io/enforce': 'privileged',
        'pod-security.kubernetes.io/warn': 'baseline',
      },
    },
  };
  const objects: KubeObject[] = [...(chaosNs === target.namespace ? [] : [namespace]), ...installLitmusExperiments(chaosNs, INSTALLED_EXPERIMENTS)];
  if (chaosNs !== target.namespace) {
    objects.push(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'litmus-admin-target', namespace: target.namespace },
        rules: [
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'delete', 'deletecollection', 'patch', 'update'] },
          { apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'list', 'create'] },
          { apiGroups: [''], resources: ['events'], verbs: ['create', 'get', 'list'] },
          { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'replicasets', 'daemonsets'], verbs: ['get', 'list'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'litmus-admin-target', namespace: target.namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'litmus-admin-target' },
        subjects: [{ kind: 'ServiceAccount', name: 'litmus-admin', namespace: chaosNs }],
      },
    );
  }
  return objects;
}

/**
 * The Pod Security labels of the namespaces the run's manifests declare: hasteCRM's namespaces
 * (cluster/manifests/base/namespaces.yaml, which the kind overlay applies unchanged) and the chaos
 * namespace the run creates.
 */
export function plannedNamespaceLabels(target: ResolvedKindTarget, namespacesFile = `${manifestPaths.base}/namespaces.yaml`): Record<string, Record<string, string>> {
  const labels: Record<string, Record<string, string>> = {};
  for (const object of [...parseManifests(readFileSync(namespacesFile, 'utf8'), namespacesFile), ...kindChaosObjects(target)]) {
    if (object.kind === 'Namespace') labels[object.metadata.name] = { ...(labels[object.metadata.name] ?? {}), ...(object.metadata.labels ?? {}) };
  }
  return labels;
}

/** Experiments the cluster's own Pod Security admission will reject, from the manifests the run applies. */
export function kindPolicyFindings(schedule: readonly ResolvedExperiment[], target: ResolvedKindTarget, namespaceLabels = plannedNamespaceLabels(target)): PolicyFinding[] {
  return checkPolicyConflicts({
    experiments: schedule.map((e) => e.definition),
    chaosNamespace: target.chaosNamespace,
    appNamespace: target.namespace,
    namespaceLabels,
    suggestedChaosNamespace: 'hastecrm-chaos',
  });
}

/**
 * What an experiment will hit, in words, without a cluster: Litmus picks the pods at run time,
 * max(1, ⌊PODS_AFFECTED_PERC × n / 100⌋) of the n matching ones (n as the kind overlay runs them).
 */
export function describeKindTargets(experiment: ResolvedExperiment, target: ResolvedKindTarget): { ok: true; text: string } | { ok: false; problem: string } {
  if (!(INSTALLED_EXPERIMENTS as readonly string[]).includes(experiment.experiment))
    return { ok: false, problem: `${experiment.experiment} is not installed on the kind target (installed: ${INSTALLED_EXPERIMENTS.join(', ')}); use one of those, or run it on the local target` };
  const selector = formatLabelSelector(experiment.selector);
  const count = affectedPodCount(experiment.podsAffectedPerc, target.replicas);
  return {
    ok: true,
    text:
      `decided at run time by Litmus: PODS_AFFECTED_PERC ${experiment.podsAffectedPerc} % of the pods matching ${selector} in namespace ${target.namespace} ` +
      `(${count} of ${target.replicas} if the overlay's ${target.replicas} replicas are running; picked at random)`,
  };
}
