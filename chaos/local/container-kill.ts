import type { Pod } from '../../cluster/targets/local/replica-set.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import type { ChaosAction, ExperimentRecord } from '../types.ts';
import type { InjectorContext } from './pod-delete.ts';
import { runInRounds } from './rounds.ts';

/** What container-kill needs from a target: pods, and a container restart in place. */
export interface ContainerControl {
  pods(selector: Record<string, string>): Pod[];
  killContainer(name: string, signal: NodeJS.Signals): Promise<Pod>;
  waitForContainerRestart(previous: Pod, timeoutMs: number, signal?: AbortSignal): Promise<Pod>;
}

const RESTART_TIMEOUT_MS = 20_000;

/**
 * Litmus's container-kill on local replicas: every CHAOS_INTERVAL for TOTAL_CHAOS_DURATION, send
 * SIGNAL to the container (the replica's process) of PODS_AFFECTED_PERC of the matching pods. The
 * pod survives and its container restarts in place, as the kubelet restarts a killed container.
 *
 * Proof of effect: the same pod runs a new PID, its restart count went up, and it is ready again.
 */
export async function runContainerKill(spec: ResolvedExperiment, target: ContainerControl, ctx: InjectorContext): Promise<ExperimentRecord> {
  const signal = String((spec.definition.env as { SIGNAL?: string }).SIGNAL ?? 'SIGKILL') as NodeJS.Signals;
  return runInRounds<Pod>(spec, ctx, {
    action: 'container-kill',
    candidates: () => target.pods(spec.selector).filter((pod) => pod.ready),
    stoppedBeforeAnything: 'the experiment was stopped before it killed any container',
    noun: 'kills',
    async inject(victim, actions) {
      const action: ChaosAction = { at: Date.now(), action: `container-kill (${signal})`, target: `${victim.name} (pid ${victim.pid})`, tookEffect: false };
      actions.push(action);
      // The container comes back by itself (restart in place); after a crash the target is stopped whole.
      const id = ctx.ledger.record({ runId: ctx.runId, kind: 'fault', description: `${spec.name}: ${signal} to the container of ${victim.name} (pid ${victim.pid})`, revert: { type: 'none' } });
      ctx.log(`${spec.name}: ${signal} → ${victim.name} (pid ${victim.pid})`);
      try {
        await target.killContainer(victim.name, signal);
      } catch (error) {
        ctx.ledger.remove(id);
        action.evidence = `kill failed: ${(error as Error).message}`;
        return {};
      }
      const proof = target
        .waitForContainerRestart(victim, RESTART_TIMEOUT_MS)
        .then((restarted) => {
          action.tookEffect = restarted.restarts > victim.restarts;
          action.evidence = `${victim.name}: pid ${victim.pid} → ${restarted.pid}, restarts ${victim.restarts} → ${restarted.restarts}, ready ${Date.now() - action.at} ms after the kill`;
        })
        .catch((error: unknown) => {
          action.evidence = `the container did not come back ready: ${(error as Error).message}`;
        })
        .finally(() => ctx.ledger.remove(id));
      return { proof };
    },
  });
}
