import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { renderChaosEngine, type ChaosEngine } from '../../chaos/litmus/chaos-engine.ts';
import { INSTALLED_EXPERIMENTS, installLitmusExperiments } from '../../chaos/litmus/chaos-experiments.ts';
import { affectedPodCount, plannedTargets, type PlannedTargets } from '../../chaos/litmus/planned-targets.ts';
import { checkPolicyConflicts, type PolicyFinding } from '../../chaos/litmus/policy.ts';
import { formatLabelSelector } from '../../chaos/litmus/experiments.ts';
import { manifestPaths, parseManifests } from '../../cluster/manifests/build.ts';
import { kindContextName } from '../../cluster/targets/kind/context-safety.ts';
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

/** What the plan says each experiment of a kind suite hits: from the live cluster when it answers. */
export type KindTargetText = { ok: true; text: string } | { ok: false; problem: string };

export interface LiveKindTargetOptions {
  /**
   * The kubeconfig files to read, in order; default `$KUBECONFIG` (split like kubectl does) or
   * ~/.kube/config. Files that do not exist are skipped, as kubectl skips them.
   */
  kubeconfigFiles?: string[];
  /** Bound on the whole look-up, so `resilience plan` stays fast with no cluster; default 3 s. */
  timeoutMs?: number;
}

/** Where kubectl would look for kubeconfig files, in its order. */
export function defaultKubeconfigFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env.KUBECONFIG ?? '').split(path.delimiter).filter((f) => f !== '');
  return fromEnv.length > 0 ? fromEnv : [path.join(homedir(), '.kube', 'config')];
}

/**
 * What each experiment will hit, listing the pods that match on the suite's kind cluster when it
 * answers: kube context `kind-<cluster>` in the kubeconfig and a GET of the app namespace's pods
 * answered within `timeoutMs`. Only reads (GETs), so it needs no --allow-context. When no cluster
 * answers, or no pod matches yet (the run applies them), the text is describeKindTargets' with
 * the reason appended. Never throws for an unreachable cluster: the plan must work without one.
 */
export async function planKindTargets(
  schedule: readonly ResolvedExperiment[],
  target: ResolvedKindTarget,
  options: LiveKindTargetOptions = {},
): Promise<Map<ResolvedExperiment, KindTargetText>> {
  const offline = new Map(schedule.map((e) => [e, describeKindTargets(e, target)] as const));
  const listable = schedule.filter((e) => offline.get(e)?.ok === true);
  if (listable.length === 0) return offline;
  const context = kindContextName(target.cluster);
  const deadline = Date.now() + (options.timeoutMs ?? 3_000);
  const withReason = (reason: string): Map<ResolvedExperiment, KindTargetText> =>
    new Map(
      [...offline].map(([e, t]) => [e, t.ok ? { ok: true, text: `${t.text}; no cluster answers at ${context}: ${reason}` } : t] as const),
    );

  const loaded = loadKindContext(context, options.kubeconfigFiles ?? defaultKubeconfigFiles());
  if (!loaded.ok) return withReason(loaded.reason);
  const answered = await podsAnswer(loaded.kubeConfig, target.namespace, deadline - Date.now());
  if (!answered.ok) return withReason(answered.reason);

  const live = new Map(offline);
  for (const e of listable) {
    let planned: PlannedTargets[];
    try {
      planned = await withinDeadline(plannedTargets({ kubeConfig: loaded.kubeConfig, engine: renderKindChaosEngine(e, target, 'plan') }), deadline, target.namespace);
    } catch (error) {
      // Typically no pod matches yet: the run applies the overlay first. Fall back for this one.
      const t = offline.get(e);
      if (t?.ok) live.set(e, { ok: true, text: `${t.text}; not listed from ${context}: ${(error as Error).message}` });
      continue;
    }
    const first = planned[0];
    if (!first) continue;
    const selector = formatLabelSelector(e.selector);
    const how = first.exact ? 'every one' : 'picked by Litmus at run time';
    live.set(e, {
      ok: true,
      text: `${first.count} of ${first.candidates.length} pods matching ${selector} in ${target.namespace} (${how}): ${first.candidates.join(', ')} (running now in ${context})`,
    });
  }
  return live;
}

type Loaded = { ok: true; kubeConfig: KubeConfig } | { ok: false; reason: string };

/** The kubeconfig files merged (first file wins, as kubectl does), switched to `context`. */
function loadKindContext(context: string, files: readonly string[]): Loaded {
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0) return { ok: false, reason: `no kubeconfig (${files.join(path.delimiter)} does not exist); create the cluster with \`resilience cluster up\`` };
  const kubeConfig = new KubeConfig();
  for (const [i, file] of present.entries()) {
    try {
      if (i === 0) kubeConfig.loadFromFile(file);
      else {
        const more = new KubeConfig();
        more.loadFromFile(file);
        kubeConfig.mergeConfig(more);
      }
    } catch (error) {
      return { ok: false, reason: `kubeconfig ${file} does not load (${(error as Error).message}); fix or remove it` };
    }
  }
  if (!kubeConfig.getContextObject(context)) {
    const known = kubeConfig.getContexts().map((c) => c.name);
    return { ok: false, reason: `no context ${context} in ${present.join(', ')} (contexts: ${known.length > 0 ? known.join(', ') : 'none'}); create the cluster with \`resilience cluster up\`` };
  }
  kubeConfig.setCurrentContext(context);
  if (!kubeConfig.getCurrentCluster()) return { ok: false, reason: `context ${context} names a cluster that is not in ${present.join(', ')}; recreate it with \`resilience cluster up\`` };
  return { ok: true, kubeConfig };
}

/**
 * One GET of the namespace's pods, aborted at the deadline. Done by hand rather than through
 * the generated client because that one takes no abort signal, and a cluster whose address
 * swallows packets would otherwise hold `resilience plan` for the kernel's connect timeout.
 */
async function podsAnswer(kubeConfig: KubeConfig, namespace: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  const server = kubeConfig.getCurrentCluster()?.server ?? '';
  let url: URL;
  try {
    url = new URL(`${server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?limit=1`);
  } catch {
    return { ok: false, reason: `the cluster's server "${server}" is not a URL; recreate the cluster with \`resilience cluster up\`` };
  }
  const options: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  try {
    await kubeConfig.applyToHTTPSOptions(options);
  } catch (error) {
    return { ok: false, reason: `its credentials do not load (${(error as Error).message})` };
  }
  const seconds = `${Math.round(Math.max(timeoutMs, 0) / 100) / 10} s`;
  const agent = options.agent;
  try {
    return await new Promise((resolve) => {
      const request = (url.protocol === 'https:' ? https.request : http.request)(url, { ...options, signal: AbortSignal.timeout(Math.max(timeoutMs, 1)) }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => resolve({ ok: false, reason: `GET ${url.pathname} failed: ${error.message}` }));
        response.on('end', () => {
          const code = response.statusCode ?? 0;
          if (code >= 200 && code < 300) return resolve({ ok: true });
          let message = Buffer.concat(chunks).toString('utf8').slice(0, 300) || '(empty body: is this address a Kubernetes API server?)';
          try {
            const status = JSON.parse(message) as { message?: unknown };
            if (typeof status.message === 'string') message = status.message;
          } catch {
            // Not a Status object: show the body as it is.
          }
          resolve({ ok: false, reason: `GET ${url.pathname} answered HTTP ${code}: ${message}` });
        });
      });
      request.on('error', (error) =>
        resolve({ ok: false, reason: error.name === 'AbortError' || error.name === 'TimeoutError' ? `${url.origin} did not answer GET ${url.pathname} within ${seconds}` : `GET ${url.origin}${url.pathname} failed: ${error.message}` }),
      );
      request.end();
    });
  } finally {
    if (agent instanceof http.Agent) agent.destroy();
  }
}

/** The promise, or a rejection at the deadline (the plan must not wait on a slow cluster). */
async function withinDeadline<T>(promise: Promise<T>, deadline: number, namespace: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`listing the pods of ${namespace} took longer than the plan's bound`)), Math.max(deadline - Date.now(), 1));
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
