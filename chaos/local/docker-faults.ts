import type { DataTierPod } from '../../cluster/targets/local/local-target.ts';
import { killContainer, pauseContainer } from '../../cluster/targets/local/containers/faults.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import { sleep } from '../../scripts/util/wait.ts';
import type { ChaosAction, ExperimentRecord } from '../types.ts';
import type { InjectorContext } from './pod-delete.ts';
import { runInRounds } from './rounds.ts';
import { notStarted } from './victims.ts';

/** How long a killed data-tier container may take to answer again before the kill counts as unproven. */
const RESTART_READY_TIMEOUT_MS = 30_000;

/**
 * container-kill on data-tier services that run in containers: `docker kill` and start again, as
 * the kubelet restarts a killed container, every CHAOS_INTERVAL for TOTAL_CHAOS_DURATION. Proof: a
 * new PID and start time, and the service answering again.
 */
export async function runDataTierContainerKill(
  spec: ResolvedExperiment,
  pods: readonly DataTierPod[],
  refreshPid: (name: string) => Promise<void>,
  ctx: InjectorContext,
): Promise<ExperimentRecord> {
  const inContainers = pods.filter((pod) => pod.container !== undefined);
  if (inContainers.length === 0) return notStarted(spec.name, spec.experiment, `${pods.map((p) => p.name).join(', ')} run as processes: nothing would restart a killed one; run them with target.runtime = 'container'`);
  return runInRounds<DataTierPod>(spec, ctx, {
    action: 'container-kill',
    candidates: () => inContainers,
    stoppedBeforeAnything: 'the experiment was stopped before it killed any container',
    noun: 'kills',
    async inject(pod, actions) {
      const container = pod.container!;
      const action: ChaosAction = { at: Date.now(), action: 'container-kill (docker kill + start)', target: `${pod.name} (container ${container.name})`, tookEffect: false };
      actions.push(action);
      ctx.log(`${spec.name}: docker kill ${container.name} (${pod.name})`);
      try {
        const proof = await killContainer(container, { ledger: ctx.ledger, runId: ctx.runId }, { readyTimeoutMs: RESTART_READY_TIMEOUT_MS, signal: ctx.signal });
        await refreshPid(pod.name);
        action.tookEffect = proof.observedDown && proof.after.pid !== proof.before.pid;
        action.evidence = `pid ${proof.before.pid} → ${proof.after.pid}, started ${proof.before.startedAt} → ${proof.after.startedAt}, answering again ${proof.recoveredInMs} ms after the kill`;
      } catch (error) {
        action.evidence = `kill not proven: ${(error as Error).message}`;
      }
      return {};
    },
  });
}

/**
 * pod-pause on a data-tier service in a container: `docker pause` for TOTAL_CHAOS_DURATION, then
 * unpause. Proof: Docker reports it paused and its freezer cgroup FROZEN.
 */
export async function runDockerPause(spec: ResolvedExperiment, pod: DataTierPod, ctx: InjectorContext): Promise<ExperimentRecord> {
  const start = Date.now();
  const container = pod.container;
  if (!container) return notStarted(spec.name, spec.experiment, `${pod.name} does not run in a container`);
  const action: ChaosAction = { at: start, action: 'pause (docker pause)', target: `${pod.name} (container ${container.name})`, tookEffect: false };
  ctx.log(`${spec.name}: docker pause ${container.name} (${pod.name}) for ${spec.durationMs} ms`);
  try {
    const paused = await pauseContainer(container, { ledger: ctx.ledger, runId: ctx.runId });
    try {
      action.tookEffect = paused.status === 'paused' && (paused.freezerState === undefined || paused.freezerState === 'FROZEN');
      action.evidence = `docker state ${paused.status}, freezer ${paused.freezerState ?? 'unreadable'}`;
      const end = start + spec.durationMs;
      if (end > Date.now()) await sleep(end - Date.now(), ctx.signal).catch(() => undefined);
    } finally {
      const resumed = await paused.unpause();
      action.evidence = `${action.evidence ?? ''}; unpaused: ${resumed.status}, freezer ${resumed.freezerState ?? 'unreadable'}`;
    }
  } catch (error) {
    action.evidence = `pause failed: ${(error as Error).message}`;
  }
  return finish(spec, start, [action], 'paused the container');
}

function finish(spec: ResolvedExperiment, start: number, actions: ChaosAction[], what: string): ExperimentRecord {
  const tookEffect = actions.length > 0 && actions.every((a) => a.tookEffect);
  const record: ExperimentRecord = { name: spec.name, experiment: spec.experiment, start, end: Date.now(), actions, tookEffect };
  if (!tookEffect) {
    record.reason =
      actions.length === 0
        ? `the experiment was stopped before it ${what}`
        : actions
            .filter((a) => !a.tookEffect)
            .map((a) => `${a.target}: ${a.evidence ?? 'not proven'}`)
            .join('; ');
  }
  return record;
}
