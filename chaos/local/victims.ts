import { affectedPodCount } from '../litmus/experiments.ts';
import type { ChaosAction, ExperimentRecord } from '../types.ts';

/**
 * Litmus's choice of targets: floor(PODS_AFFECTED_PERC × matching / 100) of them, at least one
 * (Litmus reads 0 as "one"), picked at random.
 */
export function pickVictims<T>(candidates: readonly T[], podsAffectedPerc: number, random: () => number = Math.random): T[] {
  if (candidates.length === 0) return [];
  const count = affectedPodCount(podsAffectedPerc, candidates.length);
  return shuffle(candidates, random).slice(0, count);
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * One record for an experiment that acted on several targets at once (a CPU hog in two replicas):
 * the window spans them all and it took effect only if every part did.
 */
export function mergeRecords(name: string, experiment: string, parts: readonly ExperimentRecord[], startedAt: number): ExperimentRecord {
  const actions: ChaosAction[] = parts.flatMap((p) => p.actions);
  const record: ExperimentRecord = {
    name,
    experiment,
    start: Math.min(startedAt, ...parts.map((p) => p.start)),
    end: Math.max(startedAt, ...parts.map((p) => p.end)),
    actions,
    tookEffect: parts.length > 0 && parts.every((p) => p.tookEffect),
  };
  if (!record.tookEffect) {
    const reasons = parts.flatMap((p) => (p.tookEffect ? [] : [p.reason ?? 'not proven']));
    record.reason = parts.length === 0 ? 'no target matched' : reasons.join('; ');
  }
  return record;
}

/** An experiment that could not start: nothing was injected, so nothing is proven. */
export function notStarted(name: string, experiment: string, reason: string): ExperimentRecord {
  const now = Date.now();
  return { name, experiment, start: now, end: now, actions: [], tookEffect: false, reason };
}
