import { KubeConfig } from '@kubernetes/client-node';
import { renderStopPatch } from './chaos-engine.ts';
import { LITMUS_API_VERSION, LitmusClient } from './litmus-client.ts';
import { watchObjects } from './watch-objects.ts';
import { describeError } from './describe-error.ts';

/**
 * Stopping a ChaosEngine, the one way Litmus reverts chaos it injected: `engineState: stop` makes
 * the chaos-operator abort the experiment (the experiment pod's abort handler reverts the fault)
 * and report `status.engineStatus: stopped`; deleting the engine afterwards lets its finalizer
 * remove the runner and experiment pods. Both steps are idempotent: 404 means already reverted.
 */

/** The ledger's record of an engine the harness created (see chaos/ledger.ts). */
export interface ChaosEngineStopAction {
  type: 'chaos-engine-stop';
  /** The kube context the engine was created in; it was allowed when the engine was created. */
  context: string;
  namespace: string;
  name: string;
  /** The kubeconfig file the run used, when not the default (KUBECONFIG or ~/.kube/config). */
  kubeconfig?: string;
}

export interface StopEngineOptions {
  kubeConfig: KubeConfig;
  client: LitmusClient;
  namespace: string;
  name: string;
  /** How long to wait for the operator to report `stopped` before deleting anyway. */
  waitMs: number;
}

export interface StopEngineResult {
  /** The engine did not exist any more (404) when the stop patch was sent. */
  alreadyGone: boolean;
  /** The operator reported `engineStatus: stopped` (or the engine vanished) within `waitMs`. */
  confirmedStopped: boolean;
  /** What the delete found: `deleted`, or `gone` when someone else deleted it first. */
  deleted: 'deleted' | 'gone';
}

/** Sends the stop patch, waits (bounded, by watching) for `stopped`, then deletes the engine. */
export async function stopAndDeleteEngine(options: StopEngineOptions): Promise<StopEngineResult> {
  const { kubeConfig, client, namespace, name, waitMs } = options;
  const ref = { apiVersion: LITMUS_API_VERSION, kind: 'ChaosEngine', namespace, name };
  const patch = renderStopPatch(name);
  let patched;
  try {
    patched = await client.mergePatch(ref, patch.body);
  } catch (error) {
    throw new Error(`stopping ChaosEngine ${namespace}/${name} (merge patch engineState: stop) failed: ${describeError(error)}; stop it by hand with kubectl -n ${namespace} patch chaosengine ${name} --type merge -p '{"spec":{"engineState":"stop"}}'`, { cause: error });
  }
  if (patched === 'gone') return { alreadyGone: true, confirmedStopped: true, deleted: 'gone' };
  const outcome = await watchObjects({
    kubeConfig,
    client,
    apiVersion: LITMUS_API_VERSION,
    kind: 'ChaosEngine',
    namespace,
    name,
    timeoutMs: waitMs,
    observe: (type, object) => (type === 'DELETED' || (object.status as { engineStatus?: string } | undefined)?.engineStatus === 'stopped' ? true : undefined),
  });
  let deleted: 'deleted' | 'gone';
  try {
    deleted = await client.deleteObject(ref);
  } catch (error) {
    throw new Error(`deleting ChaosEngine ${namespace}/${name} failed: ${describeError(error)}; delete it by hand with kubectl -n ${namespace} delete chaosengine ${name}`, { cause: error });
  }
  return { alreadyGone: false, confirmedStopped: outcome.type === 'done', deleted };
}

/**
 * The ledger's revert of a `chaos-engine-stop` entry, from a process that knows nothing but the
 * entry (after a SIGKILL of the harness): loads the kubeconfig, selects the recorded context and
 * stops and deletes the engine. Idempotent.
 */
export async function revertChaosEngineEntry(action: ChaosEngineStopAction, options: { waitMs?: number } = {}): Promise<StopEngineResult> {
  const kubeConfig = new KubeConfig();
  if (action.kubeconfig) kubeConfig.loadFromFile(action.kubeconfig);
  else kubeConfig.loadFromDefault();
  if (!kubeConfig.getContextObject(action.context)) {
    throw new Error(`cannot stop ChaosEngine ${action.namespace}/${action.name}: kube context "${action.context}" is not in ${action.kubeconfig ?? 'the default kubeconfig (KUBECONFIG or ~/.kube/config)'}; point KUBECONFIG at the file that has it and run \`resilience cleanup\` again`);
  }
  kubeConfig.setCurrentContext(action.context);
  const client = LitmusClient.fromKubeConfig(kubeConfig);
  return stopAndDeleteEngine({ kubeConfig, client, namespace: action.namespace, name: action.name, waitMs: options.waitMs ?? 30_000 });
}
