/**
 * When iterations are due (open model) and how many VUs should run (closed model), as pure
 * functions of the time since the scenario started, so the run loop stays executor-agnostic and
 * the arithmetic can be checked on its own.
 */
import type { ResolvedSchedule, ResolvedStage } from './resolve.ts';

/** Due times of an arrival-rate executor's iterations, offsets in ms from the scenario's start. */
export interface ArrivalTimes {
  /** Offset of iteration `index` (0-based). Calls must come with non-decreasing indexes. */
  offsetMs(index: number): number;
}

/**
 * Iteration i is due when the integral of the rate since the start reaches i: constant rate gives
 * i · interval; a ramp gives the root of a quadratic within the stage where the integral passes i.
 */
export function arrivalTimes(schedule: Extract<ResolvedSchedule, { model: 'open' }>): ArrivalTimes {
  if (schedule.executor === 'constant-arrival-rate') {
    const intervalMs = 1000 / schedule.ratePerSec;
    return { offsetMs: (index) => index * intervalMs };
  }
  return new RampingArrivalTimes(schedule.startRatePerSec, schedule.stages);
}

class RampingArrivalTimes implements ArrivalTimes {
  /** Stage the last answer fell in, and the stage's start time, start rate and integral at its start. */
  private stage = 0;
  private stageStartMs = 0;
  private stageStartRate: number;
  private stageStartCount = 0;

  constructor(
    startRatePerSec: number,
    private readonly stages: readonly ResolvedStage[],
  ) {
    this.stageStartRate = startRatePerSec / 1000;
  }

  offsetMs(index: number): number {
    // Bounded by the number of stages: the cursor only moves forward.
    while (this.stage < this.stages.length) {
      const stage = this.stages[this.stage] as ResolvedStage;
      const a = this.stageStartRate;
      const b = stage.target / 1000;
      const t = stage.durationMs;
      const inStage = ((a + b) / 2) * t;
      const k = index - this.stageStartCount;
      if (k < inStage - 1e-9) return this.stageStartMs + solveWithinStage(a, b, t, k);
      this.stage += 1;
      this.stageStartMs += t;
      this.stageStartRate = b;
      this.stageStartCount += inStage;
    }
    return Number.POSITIVE_INFINITY;
  }
}

/** Time into a stage (rate a → b per ms over t ms) at which the stage's integral reaches k. */
function solveWithinStage(a: number, b: number, t: number, k: number): number {
  if (k <= 0) return 0;
  const slope = (b - a) / t;
  if (Math.abs(slope) < 1e-15) return k / a;
  // slope/2 · x² + a · x − k = 0, the root within [0, t].
  const root = (-a + Math.sqrt(Math.max(0, a * a + 2 * slope * k))) / slope;
  return Math.min(t, Math.max(0, root));
}

/**
 * VUs a closed-model executor should have active `elapsedMs` into the scenario: constant for the
 * constant and iteration executors, linear interpolation within each ramping-vus stage (rounded
 * down, as k6 adds a VU only once the ramp reaches it).
 */
export function activeVusAt(schedule: Extract<ResolvedSchedule, { model: 'closed' }>, elapsedMs: number): number {
  if (schedule.executor !== 'ramping-vus') return schedule.vus;
  let from = schedule.startVUs;
  let stageStart = 0;
  for (const stage of schedule.stages) {
    if (elapsedMs < stageStart + stage.durationMs) {
      const fraction = stage.durationMs === 0 ? 1 : (elapsedMs - stageStart) / stage.durationMs;
      return Math.floor(from + (stage.target - from) * fraction + 1e-9);
    }
    stageStart += stage.durationMs;
    from = stage.target;
  }
  return from;
}
