import type { PrometheusClient } from '../prometheus-client.ts';
import { checkTemplateVariables, renderFlaggerQuery, type FlaggerCanarySpec, type FlaggerMetric, type ThresholdRange } from './flagger-canary.ts';
import { checksToPromote, firstTick, tick, type FlaggerDecision, type FlaggerState } from './flagger-scheduler.ts';
import { ingressBuiltinQueries, type FlaggerBuiltinQueries } from './flagger-queries.ts';
import { ReplayQuerier, waitUntilScraped } from './replay-query.ts';
import { formatDuration } from './duration.ts';
export { ManifestError } from './manifest.ts';

export { parseFlaggerCanary, BUILTIN_METRICS } from './flagger-canary.ts';
export type { FlaggerCanarySpec, FlaggerMetric, FlaggerStrategy, ThresholdRange } from './flagger-canary.ts';
export { ingressBuiltinQueries } from './flagger-queries.ts';
export type { FlaggerBuiltinQueries } from './flagger-queries.ts';

/**
 * "Would Flagger have promoted this?": replays a Canary's analysis over a run's real metrics,
 * interval by interval, with Flagger's own schedule (flagger-scheduler.ts) and metric semantics
 * (pkg/controller/scheduler_metrics.go):
 * - every `analysis.interval` after the start, each metric is queried over its own `interval`
 *   at that moment; a value outside `thresholdRange` (value < min or value > max; equal passes)
 *   fails the check; request-duration is compared in whole milliseconds, as Flagger truncates it;
 * - a metric with no value ("no values found", or Prometheus failing) fails the check, as in
 *   Flagger — and the replay also marks it as missing data.
 *
 * Fail closed. Flagger itself has fail-open corners the replay does not copy: it parses NaN (0/0,
 * no traffic in the window) and compares it, and NaN is never below a min or above a max, so an
 * idle canary passes; it takes the last of several series. Here NaN, ±Inf and several series are
 * "no data". Missing data never yields `promote` or `rollback` by itself: the checks are replayed
 * twice, once counting no-data checks as failed (Flagger's rule, the table reported) and once as
 * passed; unless both agree on the decision, the verdict is `halt` for lack of data. A run too short
 * for Flagger to decide is `halt` as well, saying how many intervals were needed and available.
 *
 * Flagger runs the analysis at least every 10 s (shorter intervals are raised to 10 s); the
 * replay does the same unless `minIntervalSeconds` says otherwise (tests, compressed replays).
 * Webhooks (load tests, acceptance tests) are not replayed: they are listed in `notes`.
 */

export interface FlaggerReplayOptions {
  client: PrometheusClient;
  canary: FlaggerCanarySpec;
  /** When the analysis starts (epoch ms): Flagger's first tick, which shifts traffic and checks nothing. */
  start: number;
  /** End of the run (epoch ms): no check after it. */
  end: number;
  /** The built-in metrics' meaning on this target. Default: the local ingress (`ingressBuiltinQueries()`). */
  queries?: FlaggerBuiltinQueries;
  /** `spec.query` of the MetricTemplates the canary references, by "namespace/name" (or "name"). */
  metricTemplates?: Readonly<Record<string, string>>;
  /** Prometheus's scrape interval; a check is queried only once Prometheus has scraped its moment. Default 1. */
  scrapeIntervalSeconds?: number;
  /** Flagger's floor for `analysis.interval`. Default 10, as in Flagger. */
  minIntervalSeconds?: number;
  /** Longest wait for the last check's moment to be scraped; later checks are left out. Default 10 s. */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

export type MetricOutcome = 'ok' | 'fail' | 'no-data';

export interface FlaggerMetricCheck {
  name: string;
  /** Percent for request-success-rate, milliseconds for request-duration, the raw value otherwise; null without data. */
  value: number | null;
  thresholdRange: ThresholdRange;
  outcome: MetricOutcome;
  /** The PromQL evaluated at the check's moment. */
  query: string;
  /** Why the outcome is `fail` or `no-data`. */
  reason?: string;
}

export interface FlaggerCheck {
  /** 1-based; check n runs n intervals after the start. */
  iteration: number;
  /** Epoch ms of the check. */
  at: number;
  /** Traffic weight of the canary during the interval judged. */
  weight: number;
  metrics: FlaggerMetricCheck[];
  passed: boolean;
  /** Failed checks so far, this one included, counted as Flagger counts them (no data = failed). */
  failedChecks: number;
}

export interface CanaryReplay {
  tool: 'flagger';
  name: string;
  namespace: string;
  /** The interval the replay ran at (Flagger's floor applied). */
  intervalSeconds: number;
  threshold: number;
  /** Passing checks Flagger needs to promote. */
  stepsToPromote: number;
  /**
   * `promote` / `rollback`: what Flagger would have decided, the same whatever the missing data
   * held. `halt`: no decision within the run, or one that rests on missing data.
   */
  verdict: 'promote' | 'rollback' | 'halt';
  /** One sentence. */
  reason: string;
  /** Some metric of some check had no data. */
  missingData: boolean;
  /** Flagger's own decision under its rules (no data = failed check), whether or not the verdict adopts it. */
  flaggerDecision: { decision: FlaggerDecision; iteration: number; at: number } | null;
  /** Checks that fit between start and end (and were scraped). */
  checksAvailable: number;
  checks: FlaggerCheck[];
  start: number;
  end: number;
  /** What the replay could not reproduce (webhooks, a raised interval …). */
  notes: string[];
}

/**
 * Replays `canary` over [start, end]. Rejects for a usage error (start/end not a window, a
 * template the canary references that was not supplied or uses unknown variables) or when
 * `signal` aborts; Prometheus errors and missing data are results (`no-data` checks), not rejections.
 */
export async function replayFlaggerCanary(options: FlaggerReplayOptions): Promise<CanaryReplay> {
  const { canary, start, end } = options;
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) throw new RangeError(`the replay needs start < end (epoch ms), got start=${start}, end=${end}`);
  const scrapeIntervalSeconds = options.scrapeIntervalSeconds ?? 1;
  const minIntervalSeconds = options.minIntervalSeconds ?? 10;
  const intervalSeconds = Math.max(canary.analysis.intervalSeconds, minIntervalSeconds);
  const { strategy, threshold, metrics } = canary.analysis;
  const stepsToPromote = checksToPromote(strategy);
  const builtins = options.queries ?? ingressBuiltinQueries();
  const queries = metrics.map((metric) => metricQuery(canary, metric, builtins, options.metricTemplates ?? {}));

  const notes: string[] = [];
  if (intervalSeconds !== canary.analysis.intervalSeconds) {
    notes.push(`analysis.interval ${formatDuration(canary.analysis.intervalSeconds)} is below Flagger's minimum; Flagger runs it every ${formatDuration(intervalSeconds)}, and so does the replay.`);
  }
  if (canary.analysis.rolloutWebhooks.length > 0) {
    notes.push(`Webhooks run during the analysis are not replayed (${canary.analysis.rolloutWebhooks.join(', ')}); a failing webhook would fail the check too.`);
  }
  const checksAvailable = Math.floor((end - start) / (intervalSeconds * 1000) + 1e-9);
  const base = { tool: 'flagger' as const, name: canary.name, namespace: canary.namespace, intervalSeconds, threshold, stepsToPromote, start, end, notes };

  if (canary.skipAnalysis) {
    return { ...base, verdict: 'halt', reason: 'spec.skipAnalysis is set: Flagger would promote without checking anything, so there is no analysis to replay.', missingData: false, flaggerDecision: null, checksAvailable, checks: [] };
  }
  if (metrics.length === 0) {
    return {
      ...base,
      verdict: 'halt',
      reason: `The canary has no metric checks: Flagger would promote after ${stepsToPromote} intervals whatever the data, so the replay cannot judge it.`,
      missingData: false,
      flaggerDecision: null,
      checksAvailable,
      checks: [],
    };
  }

  const querier = new ReplayQuerier(options.client, options.signal);
  const checks: FlaggerCheck[] = [];
  // Flagger's rule (no data = failed check) and the other reading of the missing data.
  let flagger: FlaggerState = firstTick(strategy);
  let optimistic: FlaggerState = flagger;
  let flaggerDecision: CanaryReplay['flaggerDecision'] = null;
  let optimisticDecision: FlaggerDecision | undefined;
  let scraped = checksAvailable;
  for (let iteration = 1; iteration <= checksAvailable && flaggerDecision === null; iteration++) {
    const at = start + iteration * intervalSeconds * 1000;
    if (!(await waitUntilScraped(at, scrapeIntervalSeconds, options.maxWaitMs ?? 10_000, options.signal))) {
      scraped = iteration - 1;
      notes.push(`Checks from ${iteration} on (at ${new Date(at).toISOString()}) are not scraped yet and were left out.`);
      break;
    }
    const results = await Promise.all(metrics.map((metric, index) => checkMetric(querier, metric, queries[index] ?? '', at)));
    const passed = results.every((result) => result.outcome === 'ok');
    const passedIfDataWereGood = results.every((result) => result.outcome !== 'fail');
    const weight = flagger.weight;
    const step = tick(strategy, threshold, flagger, passed);
    flagger = step.state;
    if (optimisticDecision === undefined) {
      const other = tick(strategy, threshold, optimistic, passedIfDataWereGood);
      optimistic = other.state;
      optimisticDecision = other.decision;
    }
    checks.push({ iteration, at, weight, metrics: results, passed, failedChecks: flagger.failedChecks });
    if (step.decision) flaggerDecision = { decision: step.decision, iteration, at };
  }

  const missingData = checks.some((check) => check.metrics.some((metric) => metric.outcome === 'no-data'));
  const verdict = decide(flaggerDecision, optimisticDecision);
  const reason = explain({ verdict, flaggerDecision, checks, start, intervalSeconds, threshold, stepsToPromote, available: scraped, end });
  return { ...base, verdict, reason, missingData, flaggerDecision, checksAvailable: scraped, checks };
}

/** Flagger's decision stands when the other reading of the missing data reaches the same one. */
function decide(flagger: CanaryReplay['flaggerDecision'], optimistic: FlaggerDecision | undefined): CanaryReplay['verdict'] {
  if (flagger === null) return 'halt';
  // Counting no-data checks as passed can only bring a promotion earlier, never prevent it.
  if (flagger.decision === 'promote') return 'promote';
  return optimistic === 'rollback' ? 'rollback' : 'halt';
}

function metricQuery(canary: FlaggerCanarySpec, metric: FlaggerMetric, builtins: FlaggerBuiltinQueries, templates: Readonly<Record<string, string>>): string {
  switch (metric.source.kind) {
    case 'builtin':
      return metric.source.metric === 'request-success-rate' ? builtins.successRate(metric.intervalSeconds) : builtins.durationP99(metric.intervalSeconds);
    case 'query':
      return renderFlaggerQuery(metric.source.query, canary, metric);
    case 'template': {
      const key = `${metric.source.namespace}/${metric.source.name}`;
      const template = templates[key] ?? templates[metric.source.name];
      if (template === undefined) {
        throw new Error(`metric ${metric.name} references MetricTemplate ${key}; pass its spec.query in metricTemplates["${key}"] to replay it`);
      }
      checkTemplateVariables(template, `metricTemplates["${key}"]`);
      return renderFlaggerQuery(template, canary, metric);
    }
  }
}

async function checkMetric(querier: ReplayQuerier, metric: FlaggerMetric, query: string, at: number): Promise<FlaggerMetricCheck> {
  const base = { name: metric.name, thresholdRange: metric.thresholdRange, query };
  const noData = (reason: string): FlaggerMetricCheck => ({ ...base, value: null, outcome: 'no-data', reason });
  const result = await querier.query(query, at);
  if (!result.ok) return noData(result.message);
  if (result.samples.length === 0) return noData('no values found: the query returned no series (no traffic reached the target, or the metric is not scraped)');
  if (result.samples.length > 1) return noData(`the query returned ${result.samples.length} series; a canary metric must return one`);
  const value = result.samples[0]?.value ?? NaN;
  if (Number.isNaN(value)) return noData('the value is NaN (0/0: no requests in the interval)');
  if (!Number.isFinite(value)) return noData(`the value is ${value > 0 ? '+Inf' : '-Inf'}, which cannot be judged`);
  // Flagger converts request-duration to a time.Duration of whole milliseconds before comparing.
  const compared = metric.source.kind === 'builtin' && metric.source.metric === 'request-duration' ? Math.trunc(value) : value;
  const { min, max } = metric.thresholdRange;
  if (min !== undefined && compared < min) return { ...base, value, outcome: 'fail', reason: `${metric.name} ${formatValue(metric, value)} < ${min}` };
  if (max !== undefined && compared > max) return { ...base, value, outcome: 'fail', reason: `${metric.name} ${formatValue(metric, value)} > ${max}` };
  return { ...base, value, outcome: 'ok' };
}

function formatValue(metric: FlaggerMetric, value: number): string {
  if (metric.source.kind === 'builtin') return metric.source.metric === 'request-success-rate' ? `${value.toFixed(2)}%` : `${Math.round(value)} ms`;
  return String(Number(value.toPrecision(6)));
}

interface Explanation {
  verdict: CanaryReplay['verdict'];
  flaggerDecision: CanaryReplay['flaggerDecision'];
  checks: FlaggerCheck[];
  start: number;
  end: number;
  intervalSeconds: number;
  threshold: number;
  stepsToPromote: number;
  available: number;
}

function explain(e: Explanation): string {
  const after = (at: number): string => formatDuration((at - e.start) / 1000);
  const noDataChecks = e.checks.filter((check) => check.metrics.some((metric) => metric.outcome === 'no-data'));
  const noDataMetrics = [...new Set(noDataChecks.flatMap((check) => check.metrics.filter((m) => m.outcome === 'no-data').map((m) => m.name)))].join(', ');
  const decision = e.flaggerDecision;
  if (decision?.decision === 'promote') {
    const passes = e.checks.filter((check) => check.passed).length;
    const gaps = noDataChecks.length > 0 ? `; ${noDataChecks.length} check(s) without data (${noDataMetrics}) count as failed but stay below the threshold of ${e.threshold}` : '';
    return `Flagger would promote at check ${decision.iteration} (${after(decision.at)} into the analysis), after ${passes} passing checks${gaps}.`;
  }
  if (decision?.decision === 'rollback') {
    const deciding = e.checks[decision.iteration - 1];
    const why = deciding?.metrics.filter((m) => m.outcome !== 'ok').map((m) => (m.outcome === 'fail' ? m.reason : `${m.name} had no data`)).join(', ');
    if (e.verdict === 'rollback') return `Flagger would roll back after the ${ordinal(e.threshold)} failed check at ${after(decision.at)} (${why}).`;
    return (
      `Halted for lack of data: ${noDataChecks.length} of ${e.checks.length} checks had no data (${noDataMetrics}); Flagger counts them as failed and would roll back after the ` +
      `${ordinal(e.threshold)} failed check at ${after(decision.at)}, but the checks with data alone do not reach the threshold.`
    );
  }
  const passes = e.checks.filter((check) => check.passed).length;
  const fails = e.checks.length - passes;
  const lasted = formatDuration((e.end - e.start) / 1000);
  const missing = noDataChecks.length > 0 ? ` (${noDataChecks.length} of them without data: ${noDataMetrics})` : '';
  return (
    `Halted: the run (${lasted}) allowed ${e.available} check(s) of ${formatDuration(e.intervalSeconds)}; Flagger needs ${e.stepsToPromote} passing checks ` +
    `(${formatDuration(e.stepsToPromote * e.intervalSeconds)} of analysis) to promote or ${e.threshold} failed ones to roll back, and saw ${passes} passing and ${fails} failed${missing}.`
  );
}

function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th'}`;
}

