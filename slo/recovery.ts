import { placeQuantile } from './histogram.ts';
import type { LatencySlo, Phase, RatioSlo, SloDefinition } from './types.ts';
import { PrometheusQueryError, PrometheusUnreachableError, type PrometheusClient, type RangeSeries } from './prometheus-client.ts';
import { renderSloQueries, thresholdText, type HistogramStorage } from './promql.ts';
import { sleep } from '../scripts/util/wait.ts';

/**
 * Time to recover, per experiment and per ratio/latency SLO: how long after a fault ended the SLO's
 * objective was met again, for good.
 *
 * Method. The SLO's value is evaluated on a short rolling window (default 5 s) every step (1 s),
 * from the experiment's start to the end of its horizon (the load's end, or the next experiment's
 * start: a later fault's damage belongs to that fault), with one range query of exactly the PromQL
 * the phase verdicts use (`renderSloQueries(slo, window)`): the window ending at each step is
 * judged against the objective. The SLO *recovered* at the first step after its last violation,
 * provided every step from there to the horizon has data and meets the objective; the time to
 * recover is that moment minus the fault's end (0 when it recovered before the fault ended).
 * The first step's window ends at the fault's start: a violation there predates the fault (the
 * system was already failing), and is reported as the first violation all the same.
 *
 * What the figure includes: a window of W seconds still holds the fault's effects up to W seconds
 * after they stop, so the time to recover is "until a user-visible W-second window was healthy
 * again", at a resolution of one step plus one scrape interval. A shorter window reacts faster but
 * judges fewer requests per step.
 *
 * Fail closed: a step with no value (no series, NaN from 0/0, ±Inf), or a latency quantile that the
 * histogram's buckets cannot place on either side of the threshold, is a step without data, and
 * any such step makes the result `insufficient-data` (ttr null): neither "never degraded" nor
 * "recovered" is claimed over a gap. Prometheus errors give the same, with Prometheus's message.
 */

export type RecoveryStatus = 'never-degraded' | 'recovered' | 'not-recovered' | 'insufficient-data';

export interface RecoveryResult {
  slo: string;
  /** The experiment's phase name, e.g. "pod-delete#1". */
  experiment: string;
  status: RecoveryStatus;
  /** A step violated the objective (true even when the result is otherwise insufficient-data). */
  degraded: boolean;
  /** Epoch ms of the first step whose window violated the objective. */
  firstViolationAt?: number;
  /** Epoch ms of the first step from which every window met the objective until the horizon. */
  recoveredAt?: number;
  /** recoveredAt − experiment end, at least 0; 0 when never degraded; null when unknown or never recovered. */
  ttrMs: number | null;
  /** One or two sentences saying what was seen. */
  reason: string;
  /** Evidence: the PromQL evaluated at each step, the window and step, and what the steps showed. */
  query: string;
  rollingWindowSeconds: number;
  stepSeconds: number;
  /** Epoch ms: the steps judged run from `from` to `to`. */
  from: number;
  to: number;
  steps: StepCounts;
}

export interface StepCounts {
  met: number;
  violated: number;
  noData: number;
  unresolved: number;
}

export interface RecoveryOptions {
  client: PrometheusClient;
  /** Ratio and latency SLOs are measured; query SLOs have no objective on a rolling window and are skipped. */
  slos: readonly SloDefinition[];
  /** The experiments' phases (their real start and end); other phase kinds are ignored. */
  phases: readonly Phase[];
  /** Epoch ms at which the load stopped. */
  loadEnd: number;
  /** Default 5. */
  rollingWindowSeconds?: number;
  /** Default 1. */
  stepSeconds?: number;
  /** As in `evaluateSlos`: the client's latency histogram, classic (default) or native (k6). */
  clientHistograms?: HistogramStorage;
  /** The scrape interval Prometheus was configured with; the load's end is judged only once scraped. Default 1. */
  scrapeIntervalSeconds?: number;
  /** Longest wait for `loadEnd` plus one scrape to pass. Default 10 s. */
  maxWaitMs?: number;
  /** Aborting rejects with the abort reason. */
  signal?: AbortSignal;
}

/**
 * What one step's window showed: `no-data` (no value, NaN or ±Inf) and `unresolved` (a latency
 * quantile the histogram's buckets cannot place on either side of the threshold) are both unknown.
 */
export type StepState = 'met' | 'violated' | 'no-data' | 'unresolved';

export interface Step {
  /** Epoch ms: the end of the window this step judged. */
  t: number;
  state: StepState;
}

type MeasuredSlo = RatioSlo | LatencySlo;

/**
 * One result per experiment × ratio/latency SLO, experiments in the order given, SLOs within each.
 * Never rejects because of Prometheus or the data (those give `insufficient-data`); rejects only
 * when `signal` aborts or an option is invalid.
 */
export async function measureTimeToRecover(options: RecoveryOptions): Promise<RecoveryResult[]> {
  const windowSeconds = options.rollingWindowSeconds ?? 5;
  const stepSeconds = options.stepSeconds ?? 1;
  if (!(windowSeconds > 0) || !Number.isInteger(windowSeconds)) throw new RangeError(`rollingWindowSeconds must be a positive whole number, got ${windowSeconds}`);
  if (!(stepSeconds > 0)) throw new RangeError(`stepSeconds must be positive, got ${stepSeconds}`);
  const scrapeMs = (options.scrapeIntervalSeconds ?? 1) * 1000;
  const experiments = options.phases.filter((p) => p.kind === 'experiment').sort((a, b) => a.start - b.start);
  const slos = options.slos.filter((slo): slo is MeasuredSlo => slo.kind === 'ratio' || slo.kind === 'latency');

  // The last window must be in Prometheus: wait for one scrape after the load's end, boundedly.
  const waitMs = options.loadEnd + scrapeMs - Date.now();
  const tooEarly = waitMs > (options.maxWaitMs ?? 10_000) ? `The load ends ${Math.ceil((options.loadEnd - Date.now()) / 1000)} s in the future; time to recover can only be measured once Prometheus has scraped it.` : undefined;
  if (tooEarly === undefined && waitMs > 0) await sleep(waitMs, options.signal);

  let unreachable: PrometheusUnreachableError | undefined;
  const results: RecoveryResult[] = [];
  for (const [index, experiment] of experiments.entries()) {
    const next = experiments[index + 1];
    const horizon = next !== undefined && next.start < options.loadEnd ? { end: next.start, what: `the next experiment (${next.name}) started` } : { end: options.loadEnd, what: 'the load ended' };
    for (const slo of slos) {
      const queries = renderSloQueries(slo, windowSeconds, options.clientHistograms ? { clientHistograms: options.clientHistograms } : {});
      const stepMs = stepSeconds * 1000;
      const base = { slo: slo.name, experiment: experiment.name, query: queries.value, rollingWindowSeconds: windowSeconds, stepSeconds, from: experiment.start, to: horizon.end };
      const insufficient = (reason: string): RecoveryResult => ({ ...base, status: 'insufficient-data', degraded: false, ttrMs: null, reason, steps: { met: 0, violated: 0, noData: 0, unresolved: 0 } });
      if (tooEarly !== undefined) {
        results.push(insufficient(tooEarly));
        continue;
      }
      if (horizon.end <= experiment.start) {
        results.push(insufficient(`Nothing to measure: ${horizon.what} before or when experiment ${experiment.name} started.`));
        continue;
      }
      try {
        if (unreachable) throw unreachable;
        const [values, buckets] = await Promise.all([
          options.client.rangeQuery(queries.value, experiment.start, horizon.end, stepMs, { signal: options.signal }),
          slo.kind === 'latency' && queries.buckets !== undefined
            ? options.client.rangeQuery(queries.buckets, experiment.start, horizon.end, stepMs, { signal: options.signal })
            : Promise.resolve(undefined),
        ]);
        const steps = classifySteps(slo, stepTimes(experiment.start, horizon.end, stepMs), values, buckets);
        results.push({ ...base, ...judgeRecovery(steps, experiment, horizon.what, `the objective (${thresholdText(slo)}) on a ${windowSeconds} s rolling window`) });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        // No answer at all: the next query would fare no better (and each would wait for its retries).
        if (error instanceof PrometheusUnreachableError && error.status === undefined) unreachable ??= error;
        const message = error instanceof PrometheusUnreachableError || error instanceof PrometheusQueryError ? error.message : `The measurement failed: ${error instanceof Error ? error.message : String(error)}`;
        results.push(insufficient(`${message}.`));
      }
    }
  }
  return results;
}

function stepTimes(start: number, end: number, stepMs: number): number[] {
  const times: number[] = [];
  // Multiplying (rather than adding) keeps the times exactly on Prometheus's grid.
  for (let k = 0; start + k * stepMs <= end; k++) times.push(start + k * stepMs);
  return times;
}

/**
 * Judges each step's window against the SLO's objective. A step Prometheus returned no value for,
 * or a non-finite value, is `no-data`; for latency SLOs, so is a step whose quantile falls in a
 * bucket containing the threshold, or beyond the highest finite bucket when that bound is below the
 * threshold (the histogram cannot tell which side it is on). Exported for tests.
 */
export function classifySteps(slo: MeasuredSlo, times: readonly number[], values: readonly RangeSeries[], buckets: readonly RangeSeries[] | undefined): Step[] {
  // More than one series would be an SLO query that does not aggregate: nothing can be judged.
  const valueAt = new Map(values.length === 1 ? (values[0]?.points ?? []) : []);
  const bucketsAt = new Map<number, { le: number; count: number }[]>();
  for (const series of buckets ?? []) {
    const le = series.labels.le === '+Inf' ? Infinity : Number(series.labels.le);
    if (Number.isNaN(le)) continue;
    for (const [t, count] of series.points) {
      const list = bucketsAt.get(t) ?? [];
      list.push({ le, count });
      bucketsAt.set(t, list);
    }
  }
  return times.map((t) => {
    const value = valueAt.get(t);
    if (value === undefined || !Number.isFinite(value)) return { t, state: 'no-data' };
    if (slo.kind === 'ratio') return { t, state: value >= slo.objective ? 'met' : 'violated' };
    const placed = placeStep(slo, bucketsAt.get(t) ?? []);
    if (placed !== undefined) return { t, state: placed };
    return { t, state: value < slo.thresholdMs ? 'met' : 'violated' };
  });
}

/**
 * The same reading of a histogram as the phase evaluator's: `histogram_quantile` interpolates inside
 * the bucket the quantile falls in, so a bucket straddling the threshold proves neither side, and
 * the +Inf bucket proves a violation only when the highest finite bound is already ≥ the threshold.
 * Undefined when the interpolated value can be judged as it is.
 */
function placeStep(slo: LatencySlo, buckets: { le: number; count: number }[]): StepState | undefined {
  const placement = placeQuantile(slo, buckets);
  if (placement === undefined) return undefined;
  return placement.where === 'above-finite' && placement.certainlyAbove ? 'violated' : 'unresolved';
}

/**
 * Reads the time to recover from judged steps (oldest first). Pure; exported for tests.
 * `horizon` says how the steps end ("the load ended"); `objective` how the objective reads.
 */
export function judgeRecovery(
  steps: readonly Step[],
  experiment: Pick<Phase, 'name' | 'start' | 'end'>,
  horizon: string,
  objective: string,
): Pick<RecoveryResult, 'status' | 'degraded' | 'firstViolationAt' | 'recoveredAt' | 'ttrMs' | 'reason' | 'steps'> {
  const counts: StepCounts = { met: 0, violated: 0, noData: 0, unresolved: 0 };
  for (const step of steps) counts[step.state === 'no-data' ? 'noData' : step.state]++;
  const firstViolation = steps.find((s) => s.state === 'violated');
  const lastViolationIndex = steps.findLastIndex((s) => s.state === 'violated');
  const degraded = firstViolation !== undefined;
  const sinceStart = (t: number): string => (t === experiment.start ? 'the moment the fault began' : `${formatSeconds(t - experiment.start)} after the fault began`);
  const violated = firstViolation ? `Violated from ${sinceStart(firstViolation.t)}` : '';

  if (steps.length === 0) {
    return { status: 'insufficient-data', degraded, ttrMs: null, steps: counts, reason: `No step to judge between the start of ${experiment.name} and when ${horizon}.` };
  }
  if (counts.noData + counts.unresolved > 0) {
    const firstGap = steps.find((s) => s.state === 'no-data' || s.state === 'unresolved');
    const unknown = [
      counts.noData > 0 ? `no data at ${counts.noData} of ${steps.length} steps` : '',
      counts.unresolved > 0 ? `a quantile the histogram's buckets cannot place against the threshold at ${counts.unresolved} of ${steps.length} steps` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    return {
      status: 'insufficient-data',
      degraded,
      ...(firstViolation ? { firstViolationAt: firstViolation.t } : {}),
      ttrMs: null,
      steps: counts,
      reason: `${degraded ? `${violated}, but ${unknown}` : capitalize(unknown)} (the first at ${firstGap ? sinceStart(firstGap.t) : 'an unknown time'}): cannot tell ${degraded ? 'when it recovered' : 'whether it degraded'}.`,
    };
  }
  if (!degraded) {
    return { status: 'never-degraded', degraded, ttrMs: 0, steps: counts, reason: `Never degraded: ${objective} was met at all ${steps.length} steps until ${horizon}.` };
  }
  const recovery = steps[lastViolationIndex + 1];
  if (recovery === undefined) {
    return {
      status: 'not-recovered',
      degraded,
      firstViolationAt: firstViolation.t,
      ttrMs: null,
      steps: counts,
      reason: `${violated} and still violated when ${horizon}: did not recover.`,
    };
  }
  const afterEnd = recovery.t - experiment.end;
  const ttrMs = Math.max(0, afterEnd);
  const when =
    afterEnd >= 0
      ? `recovered ${formatSeconds(afterEnd)} after the fault ended`
      : `recovered ${formatSeconds(-afterEnd)} before the fault ended, which counts as 0 (the system absorbed the fault while it was still running)`;
  return {
    status: 'recovered',
    degraded,
    firstViolationAt: firstViolation.t,
    recoveredAt: recovery.t,
    ttrMs,
    steps: counts,
    reason: `${violated}; met again from ${sinceStart(recovery.t)} and held until ${horizon}: ${when}.`,
  };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
