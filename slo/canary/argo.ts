import type { PrometheusClient } from '../prometheus-client.ts';
import { ArgoExpressionError } from './argo-expr.ts';
import { resolveArgs, type AnalysisTemplateSpec, type ArgoMetric } from './argo-template.ts';
import { ReplayQuerier, waitUntilScraped } from './replay-query.ts';
import { formatDuration } from './duration.ts';
import { instantResultType } from './promql-result-type.ts';

export { parseAnalysisTemplate, resolveArgs, analysisRefsFromRollout, DEFAULT_CONSECUTIVE_ERROR_LIMIT } from './argo-template.ts';
export type { AnalysisTemplateSpec, ArgoMetric, RolloutAnalysisRef } from './argo-template.ts';
export { parseArgoCondition, ArgoExpressionError } from './argo-expr.ts';
export { ManifestError } from './manifest.ts';

/**
 * Replays an Argo Rollouts analysis (an AnalysisRun of a Prometheus-provider template) over a
 * run's metrics, with Argo's semantics (analysis/analysis.go, utils/evaluate, the Prometheus
 * metric provider):
 * - each metric measures at start + initialDelay, then every `interval`; `result` is the query's
 *   vector as a list of values (a scalar stays a number); a measurement is Successful or Failed
 *   by its conditions (with only a successCondition, "not successful" is Failed; with only a
 *   failureCondition, "not failed" is Successful; neither holding is Inconclusive), and Error
 *   when the query or a condition fails (e.g. `result[0]` of an empty result);
 * - a metric is Failed once failed measurements exceed failureLimit (-1: never), Inconclusive
 *   once inconclusive ones exceed inconclusiveLimit, Error once consecutive errors exceed
 *   consecutiveErrorLimit, Successful once `count` non-error measurements were taken; errors do
 *   not count toward `count`, and after an error without an interval Argo retries in 10 s;
 * - the first metric that completes other than Successful stops all measuring; the analysis's
 *   phase is then the worst of its metrics (Successful < Inconclusive < Error < Failed), metrics
 *   still running counting as Successful, as Argo does on termination. Dry-run metrics are measured
 *   but do not count.
 *
 * Fail closed. Argo passes what its conditions let through: `len(result) == 0 || result[0] >= x`
 * makes no data a success, and a metric stopped before its first measurement is Successful. The
 * replay keeps Argo's phase as evidence but its verdict is never `successful` when a measurement
 * without data (an empty result, NaN, Prometheus failing) was counted as a success, and never
 * `failed` when the failure needs measurements without data to exceed failureLimit; Error and
 * a run too short to reach `count` are `inconclusive` too.
 */

export type MeasurementPhase = 'Successful' | 'Failed' | 'Inconclusive' | 'Error';
export type AnalysisPhase = MeasurementPhase | 'Running';

export interface ArgoMeasurement {
  /** 1-based, per metric. */
  index: number;
  /** Epoch ms. */
  at: number;
  /** `result` as the conditions saw it; null when Prometheus gave nothing to see. */
  result: number[] | number | null;
  phase: MeasurementPhase;
  /** Why the measurement is Error or Inconclusive. */
  message?: string;
  /** Empty result, NaN, or no answer from Prometheus. */
  noData: boolean;
}

export interface ArgoMetricReplay {
  name: string;
  phase: AnalysisPhase;
  /** The PromQL evaluated, arguments substituted. */
  query: string;
  intervalSeconds: number | null;
  /** null: indefinite. */
  count: number | null;
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveErrorLimit: number;
  dryRun: boolean;
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
  measurements: ArgoMeasurement[];
}

export interface AnalysisReplay {
  tool: 'argo-rollouts';
  name: string;
  verdict: 'successful' | 'failed' | 'inconclusive';
  /** What Argo Rollouts itself would report for the AnalysisRun. */
  phase: AnalysisPhase;
  /** One sentence. */
  reason: string;
  missingData: boolean;
  metrics: ArgoMetricReplay[];
  start: number;
  end: number;
  notes: string[];
}

export interface ArgoReplayOptions {
  client: PrometheusClient;
  template: AnalysisTemplateSpec;
  /** Argument values (e.g. from the Rollout's analysis args); they override the template's defaults. */
  args?: Readonly<Record<string, string>>;
  /** When the AnalysisRun starts (epoch ms). */
  start: number;
  /** End of the run (epoch ms): no measurement after it. */
  end: number;
  /** Default 1. */
  scrapeIntervalSeconds?: number;
  /** Longest wait for a measurement's moment to be scraped; later ones are left out. Default 10 s. */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

/** Argo retries a measurement that errored after this long when the metric has no interval. */
const ERROR_RETRY_SECONDS = 10;
/** analysisutil.IsWorse: a completed analysis takes the worst phase of its metrics. */
const PHASE_ORDER: readonly MeasurementPhase[] = ['Successful', 'Inconclusive', 'Error', 'Failed'];

function worstPhase(phases: readonly AnalysisPhase[]): AnalysisPhase {
  let worst: MeasurementPhase = 'Successful';
  for (const phase of phases) {
    if (phase === 'Running') return 'Running';
    if (PHASE_ORDER.indexOf(phase) > PHASE_ORDER.indexOf(worst)) worst = phase;
  }
  return worst;
}

interface MetricRun {
  spec: ArgoMetric;
  /** Argo binds a scalar result as a number, a vector as a list. */
  resultType: 'scalar' | 'vector';
  replay: ArgoMetricReplay;
  consecutiveErrors: number;
  nextAt: number;
  /** The measurement that completed the metric, for the reason. */
  decisive?: ArgoMeasurement;
}

/**
 * Replays `template` over [start, end]. Rejects for a usage error (start/end, arguments without
 * a value) or when `signal` aborts; Prometheus errors are Error measurements, not rejections.
 */
export async function replayArgoAnalysis(options: ArgoReplayOptions): Promise<AnalysisReplay> {
  const { template, start, end } = options;
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) throw new RangeError(`the replay needs start < end (epoch ms), got start=${start}, end=${end}`);
  const queries = resolveArgs(template, options.args);
  const querier = new ReplayQuerier(options.client, options.signal);
  const notes: string[] = [];
  const runs: MetricRun[] = template.metrics.map((spec) => ({
    spec,
    resultType: instantResultType(queries.get(spec.name) ?? spec.query),
    consecutiveErrors: 0,
    nextAt: start + spec.initialDelaySeconds * 1000,
    replay: {
      name: spec.name,
      phase: 'Running',
      query: queries.get(spec.name) ?? spec.query,
      intervalSeconds: spec.intervalSeconds ?? null,
      count: spec.count ?? null,
      failureLimit: spec.failureLimit,
      inconclusiveLimit: spec.inconclusiveLimit,
      consecutiveErrorLimit: spec.consecutiveErrorLimit,
      dryRun: spec.dryRun,
      successful: 0,
      failed: 0,
      inconclusive: 0,
      error: 0,
      measurements: [],
    },
  }));

  let terminating = false;
  let lastScraped = end;
  for (;;) {
    const due = runs.filter((run) => run.replay.phase === 'Running' && run.nextAt <= Math.min(end, lastScraped)).sort((a, b) => a.nextAt - b.nextAt)[0];
    if (due === undefined || terminating) break;
    if (!(await waitUntilScraped(due.nextAt, options.scrapeIntervalSeconds ?? 1, options.maxWaitMs ?? 10_000, options.signal))) {
      notes.push(`Measurements from ${new Date(due.nextAt).toISOString()} on are not scraped yet and were left out.`);
      lastScraped = due.nextAt - 1;
      continue;
    }
    await measure(querier, due);
    // A metric that completes other than Successful (dry-run ones aside) terminates the run.
    if (!due.spec.dryRun && (due.replay.phase === 'Failed' || due.replay.phase === 'Error' || due.replay.phase === 'Inconclusive')) terminating = true;
  }
  for (const run of runs) {
    if (run.replay.phase !== 'Running') continue;
    if (terminating) run.replay.phase = 'Successful';
    else if (run.spec.count === undefined && run.replay.measurements.length > 0) {
      run.replay.phase = 'Successful';
      notes.push(`${run.spec.name} has no count: it runs until the analysis is stopped; the end of the replay stops it, as the end of a rollout would.`);
    }
  }
  const counted = runs.filter((run) => !run.spec.dryRun);
  const phase = worstPhase(counted.map((run) => run.replay.phase));
  const missingData = runs.some((run) => run.replay.measurements.some((m) => m.noData));
  const { verdict, reason } = judge(phase, counted, start, end);
  return { tool: 'argo-rollouts', name: template.name, verdict, phase, reason, missingData, metrics: runs.map((run) => run.replay), start, end, notes };
}

async function measure(querier: ReplayQuerier, run: MetricRun): Promise<void> {
  const { spec, replay } = run;
  const at = run.nextAt;
  const index = replay.measurements.length + 1;
  const answer = await querier.query(replay.query, at);
  let measurement: ArgoMeasurement;
  if (!answer.ok) {
    measurement = { index, at, result: null, phase: 'Error', message: answer.message, noData: true };
  } else {
    const result = run.resultType === 'scalar' ? (answer.samples[0]?.value ?? NaN) : answer.samples.map((sample) => sample.value);
    const noData = Array.isArray(result) ? result.length === 0 || result.some(Number.isNaN) : Number.isNaN(result);
    measurement = { index, at, result, noData, ...evaluateConditions(spec, result) };
  }
  replay.measurements.push(measurement);
  switch (measurement.phase) {
    case 'Successful':
      replay.successful++;
      run.consecutiveErrors = 0;
      break;
    case 'Failed':
      replay.failed++;
      run.consecutiveErrors = 0;
      break;
    case 'Inconclusive':
      replay.inconclusive++;
      run.consecutiveErrors = 0;
      break;
    case 'Error':
      replay.error++;
      run.consecutiveErrors++;
      break;
  }
  replay.phase = assess(spec, replay, run.consecutiveErrors);
  if (replay.phase !== 'Running') run.decisive = measurement;
  const interval = spec.intervalSeconds ?? (measurement.phase === 'Error' ? ERROR_RETRY_SECONDS : undefined);
  run.nextAt = interval === undefined ? Infinity : at + interval * 1000;
}

/** utils/evaluate EvaluateResult. */
function evaluateConditions(spec: ArgoMetric, result: number[] | number): { phase: MeasurementPhase; message?: string } {
  let success = false;
  let failure = false;
  try {
    if (spec.successCondition) success = spec.successCondition.evaluate(result);
    if (spec.failureCondition) failure = spec.failureCondition.evaluate(result);
  } catch (error) {
    if (error instanceof ArgoExpressionError) return { phase: 'Error', message: error.message };
    throw error;
  }
  if (!spec.successCondition && !spec.failureCondition) return { phase: 'Successful' };
  if (spec.successCondition && !spec.failureCondition) failure = !success;
  if (!spec.successCondition && spec.failureCondition) success = !failure;
  if (failure) return { phase: 'Failed' };
  if (!success) return { phase: 'Inconclusive', message: 'neither the success nor the failure condition held' };
  return { phase: 'Successful' };
}

/** analysis.go assessMetricStatus, after a completed measurement. */
function assess(spec: ArgoMetric, replay: ArgoMetricReplay, consecutiveErrors: number): AnalysisPhase {
  if (spec.failureLimit >= 0 && replay.failed > spec.failureLimit) return 'Failed';
  if (replay.inconclusive > spec.inconclusiveLimit) return 'Inconclusive';
  if (consecutiveErrors > spec.consecutiveErrorLimit) return 'Error';
  if (spec.count !== undefined && replay.successful + replay.failed + replay.inconclusive >= spec.count) return 'Successful';
  return 'Running';
}

function judge(phase: AnalysisPhase, runs: MetricRun[], start: number, end: number): { verdict: AnalysisReplay['verdict']; reason: string } {
  const after = (at: number): string => formatDuration((at - start) / 1000);
  const show = (m: ArgoMeasurement): string => (m.result === null ? 'no result' : `result ${Array.isArray(m.result) ? `[${m.result.join(', ')}]` : String(m.result)}`);
  const completing = runs.find((run) => run.replay.phase === phase && run.decisive !== undefined);
  const decisive = completing?.decisive;
  const where = completing && decisive ? `${completing.spec.name} measurement ${decisive.index} at ${after(decisive.at)}` : '';
  switch (phase) {
    case 'Successful': {
      const unmeasured = runs.find((run) => run.replay.measurements.length === 0);
      if (unmeasured) return { verdict: 'inconclusive', reason: `Argo Rollouts would mark the analysis Successful, but ${unmeasured.spec.name} was never measured, so nothing was judged.` };
      const blind = runs.flatMap((run) => run.replay.measurements.filter((m) => m.noData && m.phase === 'Successful').map((m) => `${run.spec.name} #${m.index}`));
      if (blind.length > 0) {
        return { verdict: 'inconclusive', reason: `Argo Rollouts would mark the analysis Successful, but ${blind.length} measurement(s) without data (${blind.join(', ')}) passed only because the template's conditions let no data through.` };
      }
      const summary = runs.map((run) => `${run.spec.name} ${run.replay.successful}/${run.replay.measurements.length} successful`).join(', ');
      return { verdict: 'successful', reason: `Argo Rollouts would mark the analysis Successful (${summary}).` };
    }
    case 'Failed': {
      const run = completing;
      if (!run || !decisive) return { verdict: 'failed', reason: 'Argo Rollouts would mark the analysis Failed.' };
      const withData = run.replay.measurements.filter((m) => m.phase === 'Failed' && !m.noData).length;
      const limit = `${run.replay.failed} failed > failureLimit ${run.spec.failureLimit}`;
      if (withData <= run.spec.failureLimit) {
        return { verdict: 'inconclusive', reason: `Argo Rollouts would fail the analysis at ${where} (${limit}), but only ${withData} of those measurements had data: the failure rests on missing data.` };
      }
      return { verdict: 'failed', reason: `Argo Rollouts would fail the analysis at ${where} (${limit}; ${show(decisive)}).` };
    }
    case 'Inconclusive':
      return { verdict: 'inconclusive', reason: `Argo Rollouts would mark the analysis Inconclusive and pause the rollout at ${where} (${show(decisive ?? emptyMeasurement())}: ${decisive?.message ?? 'inconclusiveLimit exceeded'}).` };
    case 'Error':
      return {
        verdict: 'inconclusive',
        reason: `Argo Rollouts would mark the analysis Error and abort the rollout at ${where}: ${completing?.consecutiveErrors ?? 0} consecutive errors > consecutiveErrorLimit ${completing?.spec.consecutiveErrorLimit ?? 0} (${decisive?.message ?? 'measurement error'}).`,
      };
    case 'Running': {
      const short = runs.filter((run) => run.replay.phase === 'Running');
      const detail = short
        .map((run) => `${run.spec.name} took ${run.replay.successful + run.replay.failed + run.replay.inconclusive} of ${run.spec.count ?? 'its'} measurements (every ${formatDuration(run.spec.intervalSeconds ?? ERROR_RETRY_SECONDS)} from ${formatDuration(run.spec.initialDelaySeconds)} after the start)`)
        .join('; ');
      return { verdict: 'inconclusive', reason: `Halted: the run (${formatDuration((end - start) / 1000)}) was too short for the analysis to complete: ${detail}.` };
    }
  }
}

function emptyMeasurement(): ArgoMeasurement {
  return { index: 0, at: 0, result: null, phase: 'Inconclusive', noData: true };
}
