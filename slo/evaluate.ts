import type { AlertSlo, LatencySlo, Phase, Severity, SloDefinition, SloPhaseResult, Verdict } from './types.ts';
import { PrometheusClient, PrometheusQueryError, PrometheusUnreachableError, type Sample } from './prometheus-client.ts';
import { placeQuantile } from './histogram.ts';
import { OPERATOR_TEXT, formatPercent, renderSloQueries, thresholdText, type HistogramStorage } from './promql.ts';
import { sleep } from '../scripts/util/wait.ts';

/**
 * Judges each SLO in each phase it applies to, from a real Prometheus, failing closed.
 *
 * Window alignment. Each phase is judged by one instant query at `phase.end` with the range
 * `[Δ]`, Δ = the phase's duration in whole seconds, so the range (end − Δ, end] covers the phase
 * and nothing else: `sum(increase(x[Δ]))` at the phase's end. Why this and not something finer:
 * - Scrapes are 1 s apart, so a phase boundary always falls between two scrapes and up to one
 *   scrape interval of requests is attributed to the neighbouring phase. Rounding Δ to whole
 *   seconds moves the boundary by at most half a second, well inside that error.
 * - `increase()` takes the difference between the first and last sample inside the range and
 *   extrapolates it to the range's edges (by at most ~1.1 scrape intervals). Requests before
 *   the first in-range sample are therefore never counted in this phase, so the previous phase's
 *   errors cannot leak in; the extrapolation scales good and total series of one target by the
 *   same factor, so ratios are unbiased even though the counts are not integers (sample counts are
 *   rounded).
 * - `increase()` handles counter resets (a replica killed and restarted by chaos) but cannot count
 *   a series' first value: a `status="503"` series that first appears mid-phase would lose its
 *   first scrape's worth of errors, a bias toward `pass`. The rendered queries add that first
 *   value back for series born inside the window (see `counterIncrease` in promql.ts).
 * - The last request of a phase is only in Prometheus after the next scrape. The harness ends a
 *   phase at least one scrape interval after its last request; the evaluator additionally never
 *   queries a time Prometheus has not finished scraping: it waits until `end + one scrape
 *   interval` has passed (a scrape's timeout equals its interval) and refuses phases that end
 *   further in the future than `maxWaitMs` (inconclusive).
 *
 * Fail closed: no data, NaN or ±Inf, too few samples, missing scrapes, a rejected query,
 * Prometheus unreachable, a latency quantile the histogram's buckets cannot place on either side of
 * the threshold: each gives `inconclusive` with a one-sentence reason, never `pass`.
 */

export interface EvaluateOptions {
  /** A client, or the URL to create one with default timeouts and retries. */
  client?: PrometheusClient;
  prometheusUrl?: string;
  slos: readonly SloDefinition[];
  phases: readonly Phase[];
  /** The scrape interval Prometheus was configured with (1 s for the local target). */
  scrapeIntervalSeconds: number;
  /**
   * The scrape job behind each side's metrics, whose scrape coverage is checked per phase.
   * Default `{ client: 'k6', server: 'hastecrm-api' }`. `null`: that side's metrics are not
   * scraped (k6 remote-writes them), so there is no `up` series and the check is skipped.
   */
  jobs?: { client: string | null; server: string | null };
  /** Fewer scrapes than this fraction of the expected number make a phase inconclusive. Default 0.7. */
  minScrapeCoverage?: number;
  /** Longest wait for a phase's end (plus one scrape) to pass before it is refused. Default 10 s. */
  maxWaitMs?: number;
  /** Queries in flight at once. Default 4. */
  concurrency?: number;
  /** How the client's latency histogram is stored: `native` under real k6 (see renderSloQueries). Default `classic`. */
  clientHistograms?: HistogramStorage;
  /** Aborting rejects the evaluation with the abort reason. */
  signal?: AbortSignal;
}

const DEFAULT_JOBS = { client: 'k6', server: 'hastecrm-api' } as const;

/**
 * One result per SLO × phase whose kind is in the SLO's `phases`, ordered by SLO then phase as
 * given. Never rejects because of Prometheus or the data (those give `inconclusive`); rejects
 * only when `signal` aborts or neither `client` nor `prometheusUrl` is given.
 */
export async function evaluateSlos(options: EvaluateOptions): Promise<SloPhaseResult[]> {
  const client = options.client ?? (options.prometheusUrl ? new PrometheusClient({ url: options.prometheusUrl }) : undefined);
  if (!client) throw new Error('evaluateSlos needs a Prometheus client or prometheusUrl');
  if (!(options.scrapeIntervalSeconds > 0)) throw new Error(`scrapeIntervalSeconds must be positive, got ${options.scrapeIntervalSeconds}`);
  const context: Context = {
    client,
    scrapeIntervalSeconds: options.scrapeIntervalSeconds,
    jobs: options.jobs ?? DEFAULT_JOBS,
    minScrapeCoverage: options.minScrapeCoverage ?? 0.7,
    maxWaitMs: options.maxWaitMs ?? 10_000,
    signal: options.signal,
    coverage: new Map(),
    unreachable: undefined,
    clientHistograms: options.clientHistograms ?? 'classic',
  };
  const tasks: (() => Promise<SloPhaseResult>)[] = [];
  for (const slo of options.slos) {
    for (const phase of options.phases) {
      if (slo.phases.includes(phase.kind)) tasks.push(() => evaluateOne(context, slo, phase));
    }
  }
  return runLimited(tasks, options.concurrency ?? 4);
}

interface Context {
  client: PrometheusClient;
  scrapeIntervalSeconds: number;
  jobs: { client: string | null; server: string | null };
  minScrapeCoverage: number;
  maxWaitMs: number;
  signal: AbortSignal | undefined;
  /** Scrape coverage per job × phase, shared by the SLOs of that side. */
  coverage: Map<string, Promise<string | undefined>>;
  /** Set once Prometheus did not answer at all: later queries are not tried again (each would wait for its retries). */
  unreachable: PrometheusUnreachableError | undefined;
  clientHistograms: HistogramStorage;
}

async function evaluateOne(context: Context, slo: SloDefinition, phase: Phase): Promise<SloPhaseResult> {
  const windowSeconds = Math.round((phase.end - phase.start) / 1000);
  const queries = renderSloQueries(slo, Math.max(windowSeconds, 1), { clientHistograms: context.clientHistograms });
  const base: SloPhaseResult = {
    slo: slo.name,
    side: slo.side,
    severity: slo.severity,
    phase: phase.name,
    phaseKind: phase.kind,
    verdict: 'inconclusive',
    value: null,
    threshold: thresholdText(slo),
    samples: 0,
    queries: { value: queries.value, samples: queries.samples },
    evaluatedAt: phase.end,
    windowSeconds,
  };
  const inconclusive = (reason: string, extra: Partial<SloPhaseResult> = {}): SloPhaseResult => ({ ...base, ...extra, verdict: 'inconclusive', reason });

  if (windowSeconds < 2 * context.scrapeIntervalSeconds) {
    return inconclusive(`Phase ${phase.name} lasted ${((phase.end - phase.start) / 1000).toFixed(1)} s, too short to judge with a ${context.scrapeIntervalSeconds} s scrape interval (at least two scrapes are needed).`);
  }
  const waitMs = phase.end + context.scrapeIntervalSeconds * 1000 - Date.now();
  if (waitMs > context.maxWaitMs) {
    return inconclusive(`Phase ${phase.name} ends ${Math.ceil((phase.end - Date.now()) / 1000)} s in the future; it can only be judged once Prometheus has scraped it.`);
  }
  if (waitMs > 0) await sleep(waitMs, context.signal);

  try {
    const job = context.jobs[slo.side];
    if (job !== null) {
      const gap = await scrapeCoverageProblem(context, job, phase, windowSeconds);
      if (gap !== undefined) return inconclusive(gap);
    }
    const [valueSamples, countSamples, bucketSamples, firingSamples] = await Promise.all([
      query(context, queries.value, phase.end),
      query(context, queries.samples, phase.end),
      queries.buckets === undefined ? Promise.resolve(undefined) : query(context, queries.buckets, phase.end),
      queries.firing === undefined ? Promise.resolve(undefined) : query(context, queries.firing, phase.end),
    ]);
    const count = countSamples[0]?.value;
    const samples = count !== undefined && Number.isFinite(count) ? Math.round(count) : 0;
    if (valueSamples.length === 0) {
      return inconclusive(`No data: the value query returned no series for phase ${phase.name} (the metric is not scraped, or no series matched in the window).`, { samples });
    }
    if (valueSamples.length > 1) {
      return inconclusive(`The value query returned ${valueSamples.length} series; an SLO query must return exactly one (aggregate it, e.g. with sum()).`, { samples });
    }
    const value = valueSamples[0]?.value ?? NaN;
    if (Number.isNaN(value)) {
      return inconclusive(`The value is NaN (0/0: no ${slo.kind === 'ratio' || slo.kind === 'latency' ? 'requests' : 'data'} counted in phase ${phase.name}).`, { samples });
    }
    if (!Number.isFinite(value)) {
      return inconclusive(`The value is ${value > 0 ? '+Inf' : '-Inf'} (a division by zero or an empty histogram range), which cannot be judged.`, { samples });
    }
    // An alert that fired is proof whatever the number of rule evaluations: the samples only give
    // meaning to an empty result.
    if (slo.kind === 'alert' && value > 0) {
      const names = (firingSamples ?? []).map((sample) => sample.labels.alertname ?? '(unnamed)').sort();
      return { ...judge(base, slo, value, samples), reason: `${alertCount(slo, value)} fired in phase ${phase.name}: ${names.join(', ')}.` };
    }
    if (samples < slo.minSamples) {
      if (slo.kind === 'alert') {
        return inconclusive(
          `Prometheus evaluated its rules only ${samples} times in phase ${phase.name} (least-evaluated rule group; ${slo.minSamples} needed), so no alert firing proves nothing.`,
          { samples, value },
        );
      }
      return inconclusive(`Only ${samples} samples in phase ${phase.name}, fewer than the ${slo.minSamples} needed to judge.`, { samples, value });
    }
    if (slo.kind === 'latency' && bucketSamples !== undefined) {
      const verdict = latencyBucketVerdict(slo, bucketSamples);
      if (verdict !== undefined) return { ...base, samples, value, ...verdict };
    }
    return judge(base, slo, value, samples);
  } catch (error) {
    if (context.signal?.aborted) throw context.signal.reason;
    // Both messages are already sentences naming Prometheus: "Prometheus at … did not answer after 3 tries: …".
    if (error instanceof PrometheusUnreachableError || error instanceof PrometheusQueryError) return inconclusive(`${error.message}.`);
    return inconclusive(`The evaluation failed: ${error instanceof Error ? error.message : String(error)}.`);
  }
}

function judge(base: SloPhaseResult, slo: SloDefinition, value: number, samples: number): SloPhaseResult {
  const result = { ...base, value, samples };
  switch (slo.kind) {
    case 'ratio':
      return value >= slo.objective
        ? { ...result, verdict: 'pass' }
        : { ...result, verdict: 'fail', reason: `The ratio was ${formatPercent(value)}, below the objective of ${formatPercent(slo.objective)}.` };
    case 'latency':
      return value < slo.thresholdMs
        ? { ...result, verdict: 'pass' }
        : { ...result, verdict: 'fail', reason: `p${quantileLabel(slo.quantile)} was ${Math.round(value)} ms, not < ${slo.thresholdMs} ms.` };
    case 'query': {
      const ok = compare(value, slo.op, slo.bound);
      return ok ? { ...result, verdict: 'pass' } : { ...result, verdict: 'fail', reason: `The value was ${value}, not ${OPERATOR_TEXT[slo.op]} ${slo.bound}.` };
    }
    case 'alert':
      return value === 0 ? { ...result, verdict: 'pass' } : { ...result, verdict: 'fail', reason: `${alertCount(slo, value)} fired.` };
  }
}

/** "1 alert of severity critical", "2 alerts of severity critical". */
function alertCount(slo: AlertSlo, count: number): string {
  return `${count} alert${count === 1 ? '' : 's'} of severity ${slo.alertSeverity}`;
}

function compare(value: number, op: '<' | '<=' | '>' | '>=', bound: number): boolean {
  switch (op) {
    case '<':
      return value < bound;
    case '<=':
      return value <= bound;
    case '>':
      return value > bound;
    case '>=':
      return value >= bound;
  }
}

function quantileLabel(quantile: number): string {
  return String(Number((quantile * 100).toFixed(2)));
}

/**
 * `histogram_quantile` interpolates inside the bucket the quantile falls in. When that bucket
 * straddles the threshold, the true quantile may lie on either side of it, so neither pass nor fail
 * is proven (inconclusive); when it falls in the +Inf bucket, Prometheus returns the highest finite
 * bound, which would pass a threshold above that bound whatever the real latency (inconclusive), or
 * is certainly a fail when that bound is already at or above the threshold. Undefined when the
 * interpolated value is on the right side of the threshold and can be judged as it is.
 */
function latencyBucketVerdict(slo: LatencySlo, buckets: Sample[]): { verdict: 'fail' | 'inconclusive'; reason: string } | undefined {
  const placement = placeQuantile(
    slo,
    buckets.map((sample) => ({ le: Number(sample.labels.le === '+Inf' ? Infinity : sample.labels.le), count: sample.value })),
  );
  if (placement === undefined) return undefined;
  const p = `p${quantileLabel(slo.quantile)}`;
  if (placement.where === 'above-finite') {
    return placement.certainlyAbove
      ? { verdict: 'fail', reason: `${p} lies above the histogram's highest finite bucket (${placement.highestFinite} s), which is already ≥ ${slo.thresholdMs} ms.` }
      : { verdict: 'inconclusive', reason: `${p} lies above the histogram's highest finite bucket (${placement.highestFinite} s), so the histogram cannot tell whether it is under ${slo.thresholdMs} ms.` };
  }
  return {
    verdict: 'inconclusive',
    reason: `${p} lies in the bucket (${placement.lower} s, ${placement.upper} s], which contains the ${slo.thresholdMs} ms threshold, so the histogram cannot tell which side it is on; add a bucket boundary at ${slo.thresholdMs / 1000} s.`,
  };
}

/**
 * Counts the scrapes Prometheus attempted of `job` in the phase (`up` is written for failed scrapes
 * too, so a target that chaos took down is data, not a gap) and compares the least-scraped instance
 * with the number a phase of this length should have. Undefined when coverage is sufficient.
 */
function scrapeCoverageProblem(context: Context, job: string, phase: Phase, windowSeconds: number): Promise<string | undefined> {
  const key = `${job}\u0000${phase.start}\u0000${phase.end}`;
  let pending = context.coverage.get(key);
  if (pending === undefined) {
    pending = (async () => {
      const expected = Math.floor(windowSeconds / context.scrapeIntervalSeconds);
      const samples = await query(context, `count_over_time(up{job=${JSON.stringify(job)}}[${windowSeconds}s])`, phase.end);
      if (samples.length === 0) return `Prometheus has no scrapes of job ${job} in phase ${phase.name} (0 of ${expected} expected).`;
      let worst = samples[0];
      for (const sample of samples) if (worst === undefined || sample.value < worst.value) worst = sample;
      const scraped = Math.round(worst?.value ?? 0);
      if (scraped < context.minScrapeCoverage * expected) {
        const instance = worst?.labels.instance ? ` (${worst.labels.instance})` : '';
        return `Prometheus scraped job ${job}${instance} only ${scraped} of ${expected} times in phase ${phase.name}.`;
      }
      return undefined;
    })();
    context.coverage.set(key, pending);
  }
  return pending;
}

async function query(context: Context, promql: string, atMs: number): Promise<Sample[]> {
  if (context.unreachable) throw context.unreachable;
  try {
    return await context.client.instantQuery(promql, atMs, { signal: context.signal });
  } catch (error) {
    // No answer at all (as opposed to 5xx for one heavy query): the next query would fare no better.
    if (error instanceof PrometheusUnreachableError && error.status === undefined) context.unreachable ??= error;
    throw error;
  }
}

async function runLimited<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++;
      const task = tasks[index];
      if (task) results[index] = await task();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  return results;
}

const VERDICT_RANK: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };

/**
 * The run's verdict from its results: pass < inconclusive < fail. Only results whose severity is
 * in `countedSeverities` (default `error` and `critical`) count, so a failing `warning` SLO is
 * reported but does not fail the run. With no counted result at all the verdict is `inconclusive`:
 * nothing was proven.
 */
export function worstVerdict(results: readonly SloPhaseResult[], countedSeverities: readonly Severity[] = ['error', 'critical']): Verdict {
  let worst: Verdict | undefined;
  for (const result of results) {
    if (!countedSeverities.includes(result.severity)) continue;
    if (worst === undefined || VERDICT_RANK[result.verdict] > VERDICT_RANK[worst]) worst = result.verdict;
  }
  return worst ?? 'inconclusive';
}
