import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { assertChaosAllowed } from '../../cluster/targets/kind/context-safety.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_LABEL, withLabels, type KubeObject } from '../../cluster/targets/kind/objects.ts';
import { DEFAULT_FIELD_MANAGER } from '../../cluster/targets/kind/apply.ts';
import type { Ledger } from '../ledger.ts';
import type { ChaosAction, ExperimentRecord } from '../types.ts';
import type { ChaosEngine } from './chaos-engine.ts';
import { stopAndDeleteEngine, type ChaosEngineStopAction } from './engine-stop.ts';
import { LITMUS_API_VERSION, LitmusClient } from './litmus-client.ts';
import { watchObjects } from './watch-objects.ts';
import { describeError } from './describe-error.ts';

/**
 * Runs one rendered ChaosEngine on a cluster and follows it to a verdict:
 *
 *   context check → GET engine (must not exist) → ledger entry → server-side apply of the engine
 *   → watch the ChaosResults `<engine>-<experiment>` (and the engine's own status) with a deadline
 *
 * and turns Litmus's verdicts into ExperimentRecords: `Pass` took effect; `Fail` did not and says
 * at which step; `Stopped` was aborted; `Awaited` at the deadline is not proven (inconclusive). On
 * abort, or when the deadline passes with chaos possibly still in place, the engine is stopped
 * (`engineState: stop`), awaited (bounded) and deleted before the ledger entry is removed.
 */

/** Litmus's ChaosResult verdicts (chaos-operator api/litmuschaos/v1alpha1/chaosresult_types.go). */
export type LitmusVerdict = 'Pass' | 'Fail' | 'Stopped' | 'Awaited';

/** An ExperimentRecord with what Litmus itself said. */
export interface LitmusExperimentRecord extends ExperimentRecord {
  verdict: LitmusVerdict;
  /** ChaosResult `status.experimentStatus.phase` (Running, Completed, Stopped) as last seen. */
  phase: string | undefined;
  /** ChaosResult `status.experimentStatus.failureOutput.failedStep`, on Fail. */
  failedStep?: string;
}

export interface LitmusRunResult {
  engine: string;
  namespace: string;
  records: LitmusExperimentRecord[];
  /** How the follow ended. */
  ended: 'verdicts' | 'deadline' | 'aborted';
  /** What the stop did, when the engine had to be stopped (deadline or abort). */
  stop?: { confirmedStopped: boolean; deleted: 'deleted' | 'gone' };
}

export interface RunLitmusOptions {
  kubeConfig: KubeConfig;
  /** The context to run in; must be the kubeConfig's current context. Default: the current one. */
  contextName?: string;
  /** A non-kind context the user allowed with --allow-context. */
  allowContext?: string;
  /** The kubeconfig file, recorded in the ledger so `resilience cleanup` finds the cluster. */
  kubeconfigPath?: string;
  /** Where the engine is created (its metadata.namespace is set to it). */
  namespace: string;
  engine: ChaosEngine;
  /** From the engine's creation to the last verdict; after it, the run is not proven. */
  deadlineMs: number;
  signal?: AbortSignal;
  ledger: Ledger;
  runId: string;
  log?: (line: string) => void;
  /** How long to wait for the operator to report `stopped` after the stop patch. Default 30 s. */
  stopWaitMs?: number;
  fieldManager?: string;
}

/** The engine could not be started; names the engine and the fix. Nothing is left running. */
export class LitmusRunError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LitmusRunError';
  }
}

interface ResultState {
  phase?: string;
  verdict?: string;
  failedStep?: string;
  errorCode?: string;
  targets: { name: string; chaosStatus?: string }[];
  /** The engine's per-experiment status, e.g. "ChaosExperiment Not Found". */
  engineStatus?: string;
}

const FINAL_VERDICTS = new Set(['Pass', 'Fail', 'Stopped']);
/** Engine-side states after which no ChaosResult verdict will come. */
const ENGINE_DEAD_ENDS = new Set(['ChaosExperiment Not Found', 'Forcefully Aborted', 'Skipped']);

/** Runs the engine; see the module comment. Rejects with UnsafeContextError or LitmusRunError before any chaos. */
export async function runLitmusExperiment(options: RunLitmusOptions): Promise<LitmusRunResult> {
  const { kubeConfig, namespace, ledger, runId, deadlineMs } = options;
  const log = options.log ?? (() => undefined);
  const current = kubeConfig.getCurrentContext();
  const contextName = options.contextName ?? current;
  if (contextName !== current) throw new LitmusRunError(`contextName "${contextName}" is not the kubeConfig's current context "${current}"; call kubeConfig.setCurrentContext("${contextName}") first`);
  assertChaosAllowed(contextName, { allowContext: options.allowContext });
  if (!(deadlineMs > 0)) throw new LitmusRunError(`deadlineMs: got ${deadlineMs}; expected a positive number of milliseconds (at least RAMP_TIME + TOTAL_CHAOS_DURATION + RAMP_TIME of every experiment)`);
  options.signal?.throwIfAborted();

  const name = options.engine.metadata.name;
  const engineDesc = `ChaosEngine ${namespace}/${name}`;
  const experiments = options.engine.spec.experiments.map((e) => e.name);
  const client = LitmusClient.fromKubeConfig(kubeConfig);
  const ref = { apiVersion: LITMUS_API_VERSION, kind: 'ChaosEngine', namespace, name };

  // Never take over an engine that already exists: it may be someone else's, or a leftover the
  // ledger has to revert first. Server-side apply with force would silently adopt it.
  let existing: KubeObject | undefined;
  try {
    existing = await client.getObject(ref);
  } catch (error) {
    throw new LitmusRunError(`${engineDesc}: cannot read it (${describeError(error)})${notServedHint(error)}`, { cause: error });
  }
  if (existing) {
    const ours = existing.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
    throw new LitmusRunError(`${engineDesc} already exists${ours ? ` (left by run ${existing.metadata.labels?.[RUN_LABEL] ?? 'unknown'}: run \`resilience cleanup\`)` : ' and was not created by the harness: give the engine another name'}`);
  }

  const revert: ChaosEngineStopAction = { type: 'chaos-engine-stop', context: contextName, namespace, name, ...(options.kubeconfigPath ? { kubeconfig: options.kubeconfigPath } : {}) };
  const entryId = ledger.record({ runId, kind: 'fault', description: `${engineDesc} (${experiments.join(', ')}) in context ${contextName}`, revert });
  const stopWaitMs = options.stopWaitMs ?? 30_000;
  const stop = async (): Promise<{ confirmedStopped: boolean; deleted: 'deleted' | 'gone' }> => {
    const result = await stopAndDeleteEngine({ kubeConfig, client, namespace, name, waitMs: stopWaitMs });
    ledger.remove(entryId);
    log(`  litmus: ${engineDesc} stopped${result.confirmedStopped ? '' : ` (the operator did not confirm within ${stopWaitMs} ms; deleted anyway)`}`);
    return { confirmedStopped: result.confirmedStopped, deleted: result.deleted };
  };

  const start = Date.now();
  const engineObject = withLabels({ ...options.engine, metadata: { ...options.engine.metadata, namespace } }, { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_LABEL]: runId });
  try {
    await client.serverSideApply(engineObject, { fieldManager: options.fieldManager ?? DEFAULT_FIELD_MANAGER, force: true });
  } catch (error) {
    // It may or may not have been created: it is ours by name (it did not exist a moment ago), so
    // stopping and deleting it is safe and leaves nothing behind.
    await stop().catch(() => undefined);
    const conflict = error instanceof ApiException && error.code === 409 ? ': another client changed it at the same time; run again' : '';
    throw new LitmusRunError(`creating ${engineDesc} failed: ${describeError(error)}${conflict}${notServedHint(error)}`, { cause: error });
  }
  log(`  litmus: ${engineDesc} created (${experiments.join(', ')}); following ChaosResults for up to ${Math.round(deadlineMs / 1000)} s`);

  const states = new Map<string, ResultState>(experiments.map((e) => [e, { targets: [] }]));
  const resultNames = new Map(experiments.map((e) => [`${name}-${e}`, e]));
  const allDecided = (): boolean => [...states.values()].every((s) => (s.verdict !== undefined && FINAL_VERDICTS.has(s.verdict) && s.phase !== 'Running') || (s.engineStatus !== undefined && ENGINE_DEAD_ENDS.has(s.engineStatus)));

  // Two watches share one deadline and one abort: ChaosResults carry the verdicts; the engine's
  // status says when an experiment will never get one (e.g. its ChaosExperiment is missing).
  const follow = new AbortController();
  const onAbort = (): void => follow.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const common = { kubeConfig, client, apiVersion: LITMUS_API_VERSION, namespace, timeoutMs: deadlineMs, signal: follow.signal };
  let outcome;
  try {
    outcome = await Promise.race([
      watchObjects({
        ...common,
        kind: 'ChaosResult',
        observe: (type, object) => {
          const experiment = resultNames.get(object.metadata.name);
          const state = experiment === undefined ? undefined : states.get(experiment);
          if (!state || type === 'DELETED') return undefined;
          readResult(object, state);
          return allDecided() ? true : undefined;
        },
      }),
      watchObjects({
        ...common,
        kind: 'ChaosEngine',
        name,
        observe: (type, object) => {
          if (type === 'DELETED') throw new LitmusRunError(`${engineDesc} was deleted by someone else while it ran; its verdicts are unknown`);
          const statuses = (object.status as { experiments?: { name?: string; status?: string; verdict?: string }[] } | undefined)?.experiments ?? [];
          for (const s of statuses) {
            const state = s.name === undefined ? undefined : states.get(s.name);
            if (state && s.status) state.engineStatus = s.status;
          }
          return allDecided() ? true : undefined;
        },
      }),
    ]);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error instanceof LitmusRunError ? error : new LitmusRunError(`following ${engineDesc} failed: ${describeError(error)}`, { cause: error });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    follow.abort();
  }

  const end = Date.now();
  const ended = outcome.type === 'done' ? 'verdicts' : outcome.type;
  let stopped: LitmusRunResult['stop'];
  if (ended === 'verdicts') {
    // Every experiment reached its verdict: the operator has reverted its chaos. The engine stays
    // for inspection until the run's teardown deletes it by label.
    ledger.remove(entryId);
  } else {
    log(`  litmus: ${engineDesc} ${ended === 'aborted' ? 'aborted' : `reached its deadline (${Math.round(deadlineMs / 1000)} s) without every verdict`}: stopping it`);
    stopped = await stop();
  }
  const records = experiments.map((experiment) => toRecord(experiment, `${name}-${experiment}`, states.get(experiment) ?? { targets: [] }, start, end, ended, deadlineMs));
  return { engine: name, namespace, records, ended, ...(stopped ? { stop: stopped } : {}) };
}

function readResult(object: KubeObject, state: ResultState): void {
  const status = object.status as
    | { experimentStatus?: { phase?: string; verdict?: string; failureOutput?: { failedStep?: string; errorCode?: string } }; history?: { targets?: { name?: string; chaosStatus?: string }[] } }
    | undefined;
  const es = status?.experimentStatus;
  if (es?.phase !== undefined) state.phase = es.phase;
  if (es?.verdict !== undefined) state.verdict = es.verdict;
  if (es?.failureOutput?.failedStep) state.failedStep = es.failureOutput.failedStep;
  if (es?.failureOutput?.errorCode) state.errorCode = es.failureOutput.errorCode;
  const targets = status?.history?.targets;
  if (targets) state.targets = targets.filter((t) => typeof t.name === 'string').map((t) => ({ name: t.name as string, ...(t.chaosStatus ? { chaosStatus: t.chaosStatus } : {}) }));
}

/** Litmus's verdict as an ExperimentRecord: only `Pass` proves the experiment took effect. */
export function toRecord(experiment: string, resultName: string, state: ResultState, start: number, end: number, ended: LitmusRunResult['ended'], deadlineMs: number): LitmusExperimentRecord {
  const verdict: LitmusVerdict = state.verdict === 'Pass' || state.verdict === 'Fail' || state.verdict === 'Stopped' ? state.verdict : ended === 'aborted' ? 'Stopped' : 'Awaited';
  const targets = state.targets.length > 0 ? state.targets.map((t) => `${t.name}${t.chaosStatus ? ` (${t.chaosStatus})` : ''}`).join(', ') : 'no targets reported';
  const seen = `ChaosResult ${resultName}: phase ${state.phase ?? 'not seen'}, verdict ${state.verdict ?? 'not seen'}`;
  let reason: string | undefined;
  switch (verdict) {
    case 'Pass':
      break;
    case 'Fail':
      reason = `Litmus verdict Fail${state.failedStep ? ` at step "${state.failedStep}"` : ''}${state.errorCode ? ` (${state.errorCode})` : ''}`;
      break;
    case 'Stopped':
      reason = ended === 'aborted' ? 'aborted: the engine was stopped before a verdict' : 'Litmus verdict Stopped: the experiment was aborted';
      break;
    case 'Awaited':
      reason = state.engineStatus && ENGINE_DEAD_ENDS.has(state.engineStatus)
        ? `the engine reports "${state.engineStatus}" for ${experiment}: it never ran (install its ChaosExperiment with installLitmusExperiments)`
        : `no verdict within ${Math.round(deadlineMs / 1000)} s (${seen}): not proven, inconclusive`;
      break;
  }
  const action: ChaosAction = { at: start, action: experiment, target: targets, tookEffect: verdict === 'Pass', ...(verdict === 'Pass' ? { evidence: `${seen}; targets: ${targets}` } : {}) };
  return {
    name: resultName,
    experiment,
    start,
    end,
    actions: [action],
    tookEffect: verdict === 'Pass',
    ...(reason ? { reason: `${reason}; ${seen}; targets: ${targets}` } : {}),
    verdict,
    phase: state.phase,
    ...(state.failedStep ? { failedStep: state.failedStep } : {}),
  };
}

/** A hint when the Litmus CRDs are not served (Litmus not installed in this cluster). */
function notServedHint(error: unknown): string {
  const text = describeError(error);
  return /404|Unrecognized API version|not found|could not find/i.test(text) && !/already exists/.test(text)
    ? '. Is Litmus installed? Install the litmus addon (`resilience cluster up --addons litmus`) and the experiments (installLitmusExperiments)'
    : '';
}
