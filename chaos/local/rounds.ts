import { formatLabelSelector } from '../litmus/experiments.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import { sleep } from '../../scripts/util/wait.ts';
import type { ChaosAction, ExperimentRecord } from '../types.ts';
import type { InjectorContext } from './pod-delete.ts';
import { pickVictims } from './victims.ts';

/** What one repeating experiment (pod-delete, container-kill) does to each victim of a round. */
export interface RoundsPlan<V> {
  /** The action recorded for a round in which no target matched. */
  action: string;
  /** The ready targets at the start of a round. */
  candidates(): readonly V[];
  /**
   * Injects into one victim: pushes its action onto `actions` first, then acts. Returns the proof
   * still pending when the effect is proven later (a replacement becoming ready); wrapped, because
   * an async function cannot hand back an unsettled promise.
   */
  inject(victim: V, actions: ChaosAction[]): Promise<{ proof?: Promise<void> }>;
  /** The record's reason when the experiment was stopped before it did anything. */
  stoppedBeforeAnything: string;
  /** How the actions are counted in the reason: "deletions", "kills". */
  noun: string;
}

/**
 * Litmus's repeating experiments: every CHAOS_INTERVAL for TOTAL_CHAOS_DURATION, PODS_AFFECTED_PERC
 * of the ready targets (at least one), all at once or one after another (SEQUENCE). Rounds are
 * scheduled from the experiment's start, so a slow round does not shift the rest; the window lasts
 * TOTAL_CHAOS_DURATION even when the last round came early, and every proof is awaited.
 */
export async function runInRounds<V>(spec: ResolvedExperiment, ctx: InjectorContext, plan: RoundsPlan<V>): Promise<ExperimentRecord> {
  const start = Date.now();
  const actions: ChaosAction[] = [];
  const proofs: Promise<void>[] = [];
  const rounds = Math.max(1, Math.floor(spec.durationMs / spec.intervalMs));
  const injectOne = async (victim: V): Promise<void> => {
    const { proof } = await plan.inject(victim, actions);
    if (proof) proofs.push(proof);
  };
  for (let round = 0; round < rounds && !ctx.signal.aborted; round++) {
    const due = start + round * spec.intervalMs;
    if (due > Date.now()) await sleep(due - Date.now(), ctx.signal).catch(() => undefined);
    if (ctx.signal.aborted) break;
    const candidates = plan.candidates();
    if (candidates.length === 0) {
      actions.push({ at: Date.now(), action: plan.action, target: formatLabelSelector(spec.selector), tookEffect: false, evidence: 'no ready pod matched the selector' });
      continue;
    }
    const victims = pickVictims(candidates, spec.podsAffectedPerc, ctx.random ?? Math.random);
    if (spec.sequence === 'serial') for (const victim of victims) await injectOne(victim);
    else await Promise.all(victims.map(injectOne));
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
        ? plan.stoppedBeforeAnything
        : `${unproven.length} of ${actions.length} ${plan.noun} were not proven: ${unproven.map((a) => `${a.target}: ${a.evidence ?? 'pending'}`).join('; ')}`;
  }
  return record;
}
