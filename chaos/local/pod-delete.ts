import type { Ledger } from '../ledger.ts';
import type { ResolvedPodDelete } from '../../scripts/config/resolve.ts';
import type { ChaosAction, ExperimentRecord, PodControl } from '../types.ts';
import type { Pod } from '../../cluster/targets/local/replica-set.ts';
import { runInRounds } from './rounds.ts';

export interface InjectorContext {
  runId: string;
  ledger: Ledger;
  log: (message: string) => void;
  /** Aborts the experiment: no new deletions; replacements already pending are still awaited briefly. */
  signal: AbortSignal;
  /** Seeded randomness for victim selection (tests pass a fixed one). */
  random?: () => number;
}

/** How long a deleted pod's replacement may take to become ready before the deletion counts as unproven. */
const REPLACEMENT_TIMEOUT_MS = 20_000;

/**
 * Litmus's pod-delete on a PodControl: every CHAOS_INTERVAL for TOTAL_CHAOS_DURATION, delete
 * PODS_AFFECTED_PERC of the pods matching the selector (at least one, as Litmus does for 0),
 * gracefully unless FORCE, all at once (parallel) or one after another (serial).
 *
 * Each deletion is written to the ledger before it happens and removed once its replacement is
 * ready. Proof of effect: a new pod with a new PID replaced each deleted one and became ready.
 */
export async function runPodDelete(spec: ResolvedPodDelete, target: PodControl, ctx: InjectorContext): Promise<ExperimentRecord> {
  return runInRounds<Pod>(spec, ctx, {
    action: 'pod-delete',
    candidates: () => target.pods(spec.selector).filter((pod) => pod.ready),
    stoppedBeforeAnything: 'the experiment was stopped before it deleted any pod',
    noun: 'deletions',
    async inject(victim, actions) {
      const action: ChaosAction = { at: Date.now(), action: spec.force ? 'pod-delete (force)' : 'pod-delete', target: `${victim.name} (pid ${victim.pid})`, tookEffect: false };
      actions.push(action);
      const id = ctx.ledger.record({
        runId: ctx.runId,
        kind: 'fault',
        description: `${spec.name}: delete pod ${victim.name} (pid ${victim.pid})`,
        // The ReplicaSet replaces the pod by itself; after a crash the whole target is stopped.
        revert: { type: 'none' },
      });
      ctx.log(`${spec.name}: deleting ${victim.name} (pid ${victim.pid})`);
      try {
        await target.deletePod(victim.name, spec.force);
      } catch (error) {
        ctx.ledger.remove(id);
        action.evidence = `delete failed: ${(error as Error).message}`;
        return {};
      }
      const proof = target
        .waitForReplacement(victim, REPLACEMENT_TIMEOUT_MS)
        .then((replacement) => {
          action.tookEffect = true;
          action.evidence = `pid ${victim.pid} → ${replacement.name} pid ${replacement.pid}, ready ${Date.now() - action.at} ms after the delete`;
        })
        .catch((error: unknown) => {
          action.evidence = `no ready replacement: ${(error as Error).message}`;
        })
        .finally(() => ctx.ledger.remove(id));
      return { proof };
    },
  });
}
