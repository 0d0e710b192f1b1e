import type { FlaggerStrategy } from './flagger-canary.ts';

/**
 * Flagger's analysis state machine, as its controller runs it every `analysis.interval`
 * (pkg/controller/scheduler.go, advanceCanary / runCanary / runBlueGreen / runAB), reduced to the
 * decision: pure, so it can be replayed over any sequence of check outcomes.
 *
 * What the source says, and this module follows:
 * - The first tick of an analysis runs no metric check (weight 0, iterations 0: only the
 *   pre-rollout webhooks run) and shifts traffic: progressive canaries go to the first step, A/B
 *   tests route everything to the canary, blue/green counts iteration 1.
 * - Every later tick runs the checks. A failed check increments `failedChecks` and changes
 *   nothing else; failed checks are never reset by later successes (they need not be consecutive).
 *   Once `failedChecks >= threshold` the canary is rolled back (Flagger does so at the start of the
 *   next tick; the replay reports the check that reached the threshold).
 * - A passing check on a progressive canary below maxWeight adds the next step (weights are capped
 *   at 100, not at maxWeight: 40 + 20 with maxWeight 50 gives 60); at or above maxWeight it promotes.
 *   So promotion needs one passing check per step plus one at maxWeight: 5 for maxWeight 50 and
 *   stepWeight 10, the final step counted.
 * - Blue/green: passing checks count iterations up to `iterations`, then one more routes all
 *   traffic to the canary and the next one promotes: iterations + 1 passing checks.
 * - A/B testing: iterations counted up to `iterations`, and the check at `iterations` promotes.
 */

export interface FlaggerState {
  /** Percentage of traffic the canary gets while the next check's interval runs. */
  weight: number;
  /** Flagger's `status.iterations` (blue/green and A/B). */
  iterations: number;
  failedChecks: number;
}

export type FlaggerDecision = 'promote' | 'rollback';

const TOTAL_WEIGHT = 100;

/** The state after the analysis's first tick, which runs no metric check. */
export function firstTick(strategy: FlaggerStrategy): FlaggerState {
  switch (strategy.kind) {
    case 'canary':
      return { weight: nextStepWeight(strategy, 0), iterations: 0, failedChecks: 0 };
    case 'blue-green':
      return { weight: 0, iterations: 1, failedChecks: 0 };
    case 'ab-testing':
      return { weight: TOTAL_WEIGHT, iterations: 1, failedChecks: 0 };
  }
}

/**
 * Applies one tick whose checks `passed` (or not). Returns the new state and, when this check
 * decides the analysis, the decision. Pure: `state` is not modified.
 */
export function tick(strategy: FlaggerStrategy, threshold: number, state: FlaggerState, passed: boolean): { state: FlaggerState; decision?: FlaggerDecision } {
  if (!passed) {
    const failed = { ...state, failedChecks: state.failedChecks + 1 };
    return failed.failedChecks >= threshold ? { state: failed, decision: 'rollback' } : { state: failed };
  }
  switch (strategy.kind) {
    case 'canary':
      if (state.weight < strategy.maxWeight) {
        return { state: { ...state, weight: Math.min(TOTAL_WEIGHT, state.weight + nextStepWeight(strategy, state.weight)) } };
      }
      return { state, decision: 'promote' };
    case 'blue-green':
      if (strategy.iterations > state.iterations) return { state: { ...state, iterations: state.iterations + 1 } };
      if (strategy.iterations === state.iterations) return { state: { ...state, weight: TOTAL_WEIGHT, iterations: state.iterations + 1 } };
      return { state, decision: 'promote' };
    case 'ab-testing':
      if (strategy.iterations > state.iterations) return { state: { ...state, iterations: state.iterations + 1 } };
      return { state, decision: 'promote' };
  }
}

/** Passing checks Flagger needs to promote (the first, check-less tick not counted). */
export function checksToPromote(strategy: FlaggerStrategy): number {
  let state = firstTick(strategy);
  for (let checks = 1; checks <= 10_000; checks++) {
    const next = tick(strategy, Number.MAX_SAFE_INTEGER, state, true);
    if (next.decision === 'promote') return checks;
    state = next.state;
  }
  throw new Error(`a ${strategy.kind} analysis that never promotes`); // unreachable for a parsed spec
}

/** Flagger's nextStepWeight(): stepWeight when set, else the distance to the next of stepWeights. */
function nextStepWeight(strategy: Extract<FlaggerStrategy, { kind: 'canary' }>, weight: number): number {
  if (strategy.stepWeight > 0 || strategy.stepWeights.length === 0) return strategy.stepWeight;
  const maxStep = TOTAL_WEIGHT - weight;
  if (maxStep === 0) return 1;
  if (weight === 0) return Math.min(maxStep, strategy.stepWeights[0] ?? maxStep);
  for (let i = 0; i < strategy.stepWeights.length - 1; i++) {
    if (strategy.stepWeights[i] === weight) return Math.min(maxStep, (strategy.stepWeights[i + 1] ?? TOTAL_WEIGHT) - weight);
  }
  return maxStep;
}
