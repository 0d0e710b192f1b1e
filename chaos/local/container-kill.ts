import type { Pod } from '../../cluster/targets/local/replica-set.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import { sleep } from '../../scripts/util/wait.ts';
import type { ChaosAction, ExperimentRecord } from '../types.ts';
import type { InjectorContext } from './pod-delete.ts';
import { pickVictims, selectorText } from './victims.ts';

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
  const random = ctx.random ?? Math.random;
  const start = Date.now();
  const actions: ChaosAction[] = [];
  const proofs: Promise<void>[] = [];
  const rounds = Math.max(1, Math.floor(spec.durationMs / spec.intervalMs));
  for (let round = 0; round < rounds && !ctx.signal.aborted; round++) {
    const due = start + round * spec.intervalMs;
    if (due > Date.now()) await sleep(due - Date.now(), ctx.signal).catch(() => undefined);
    if (ctx.signal.aborted) break;
    const candidates = target.pods(spec.selector).filter((pod) => pod.ready);
    if (candidates.length === 0) {
      actions.push({ at: Date.now(), action: 'container-kill', target: selectorText(spec.selector), tookEffect: false, evidence: 'no ready pod matched the selector' });
      continue;
    }
    const killOne = async (victim: Pod): Promise<void> => {
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
        return;
      }
      proofs.push(
        target
          .waitForContainerRestart(victim, RESTART_TIMEOUT_MS)
          .then((restarted) => {
            action.tookEffect = restarted.restarts > victim.restarts;
            action.evidence = `${victim.name}: pid ${victim.pid} → ${restarted.pid}, restarts ${victim.restarts} → ${restarted.restarts}, ready ${Date.now() - action.at} ms after the kill`;
          })
          .catch((error: unknown) => {
            action.evidence = `the container did not come back ready: ${(error as Error).message}`;
          })
          .finally(() => ctx.ledger.remove(id)),
      );
    };
    const victims = pickVictims(candidates, spec.podsAffectedPerc, random);
    if (spec.sequence === 'serial') for (const victim of victims) await killOne(victim);
    else await Promise.all(victims.map(killOne));
  }
  const end = start + spec.durationMs;
  if (end > Date.now()) await sleep(end - Date.now(), ctx.signal).catch(() => undefined);
  await Promise.all(proofs);
  const tookEffect = actions.length > 0 && actions.every((a) => a.tookEffect);
  const record: ExperimentRecord = { name: spec.name, experiment: spec.experiment, start, end: Math.min(Date.now(), end), actions, tookEffect };
  if (!tookEffect) {
    const unproven = actions.filter((a) => !a.tookEffect);
    record.reason =
      actions.length === 0
        ? 'the experiment was stopped before it killed any container'
        : `${unproven.length} of ${actions.length} kills were not proven: ${unproven.map((a) => `${a.target}: ${a.evidence ?? 'pending'}`).join('; ')}`;
  }
  return record;
}
