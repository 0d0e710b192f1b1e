import type { HistogramStorage } from './promql.ts';
import { PrometheusQueryError, PrometheusUnreachableError, type PrometheusClient, type RangeSeries } from './prometheus-client.ts';
import { promqlString } from './promql.ts';

/**
 * The run over time, for the report's charts: request rate, error ratio and latency quantiles from
 * both ends (client: the load driver's k6-named metrics; server: the API's own metrics), and the
 * API replicas up. Each is one range query over the load with a short rolling window, recorded
 * with its PromQL so a reader can paste it into Prometheus.
 *
 * The selectors mirror hasteCRM's SLOs (slo/api.ts) so a chart shows what the verdicts judged: the
 * server's requests and errors count every route of the API job (health probes included, as the
 * success-ratio SLO does), its latency only the `/api` routes (as the latency SLO does).
 */

export type TimeSeriesMetric = 'request-rate' | 'error-ratio' | 'latency-p50' | 'latency-p95' | 'latency-p99' | 'replicas-up' | 'replicas-scraped';

/** `ratio` is 0..1 (a view shows it as a percentage). */
export type TimeSeriesUnit = 'req/s' | 'ratio' | 'ms' | 'replicas';

interface TimeSeriesBase {
  /** `${side}-${metric}`, e.g. "client-request-rate": unique within a RunTimeSeries. */
  name: string;
  metric: TimeSeriesMetric;
  unit: TimeSeriesUnit;
  side: 'client' | 'server';
  /** The exact PromQL of the range query. */
  query: string;
}

/** A series that loaded. */
export interface LoadedTimeSeries extends TimeSeriesBase {
  /**
   * `[epoch ms, value]`, oldest first, on the step grid from `RunTimeSeries.start`. A step without
   * a value is absent: no series at that step, or a non-finite value (NaN from 0/0 when a window
   * held no request, ±Inf). A gap is never filled with zero; empty means no data at all.
   */
  points: [number, number][];
  /** Steps at which Prometheus returned NaN or ±Inf, left out of `points` (JSON cannot hold them). */
  nonFinite: number;
}

/** A series whose query failed: recorded with the reason, never silently left out. */
export interface FailedTimeSeries extends TimeSeriesBase {
  error: string;
}

export type TimeSeries = LoadedTimeSeries | FailedTimeSeries;

/** What `collectTimeSeries` returns and `RunResult.timeseries` holds. */
export interface RunTimeSeries {
  /** Epoch ms of the first and last step. */
  start: number;
  end: number;
  stepSeconds: number;
  /** Each point is computed over the `windowSeconds` ending at it. */
  windowSeconds: number;
  /** Always every series of `TIME_SERIES_NAMES`, in that order, loaded or failed. */
  series: TimeSeries[];
}

export interface CollectTimeSeriesOptions {
  client: PrometheusClient;
  /** Epoch ms, usually the load's start and end. */
  start: number;
  end: number;
  /** Default 1 s; raised when needed to keep at most `maxPoints` steps per series. */
  stepSeconds?: number;
  /** Rolling window of rates, ratios and quantiles, whole seconds. Default 5 s; never below the step. */
  windowSeconds?: number;
  /** Default 2000: about one point per pixel of a wide chart, and well below Prometheus's 11,000. */
  maxPoints?: number;
  /**
   * Scrape jobs of the load driver and of the API replicas. Default `{ client: 'k6', server: 'hastecrm-api' }`.
   * `client: null` when the driver pushes its metrics (k6's remote write: no job label to select on).
   */
  jobs?: { client: string | null; server: string };
  /** The client's latency histogram: classic buckets (the embedded engine, default) or native (k6's remote write). */
  clientHistograms?: HistogramStorage;
  /** Aborting rejects with the abort reason. */
  signal?: AbortSignal;
}

interface SeriesSpec {
  metric: TimeSeriesMetric;
  unit: TimeSeriesUnit;
  side: 'client' | 'server';
  query: string;
}

/** The series a RunTimeSeries holds, in order. */
export const TIME_SERIES_NAMES: readonly string[] = seriesSpecs({ client: 'k6', server: 'hastecrm-api' }, 5).map(nameOf);

/**
 * Collects every series between `start` and `end`. Never rejects because of Prometheus or the data:
 * a query that fails gives a `FailedTimeSeries` with Prometheus's message (and once Prometheus has
 * not answered at all, the remaining series fail with that error instead of each waiting for its
 * retries). Rejects only when `signal` aborts, or for invalid options (RangeError).
 */
export async function collectTimeSeries(options: CollectTimeSeriesOptions): Promise<RunTimeSeries> {
  const { client, start, end, signal } = options;
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) throw new RangeError(`the range must have start ≤ end, got ${start} → ${end}`);
  const requestedStep = options.stepSeconds ?? 1;
  if (!(requestedStep > 0)) throw new RangeError(`stepSeconds must be positive, got ${requestedStep}`);
  const maxPoints = options.maxPoints ?? 2000;
  if (!(maxPoints >= 2)) throw new RangeError(`maxPoints must be at least 2, got ${maxPoints}`);
  const requestedWindow = options.windowSeconds ?? 5;
  if (!Number.isInteger(requestedWindow) || requestedWindow <= 0) throw new RangeError(`windowSeconds must be a positive whole number, got ${requestedWindow}`);

  const stepSeconds = Math.max(requestedStep, Math.ceil((end - start) / 1000 / (maxPoints - 1)));
  // A window shorter than the step would skip the data between steps.
  const windowSeconds = Math.max(requestedWindow, Math.ceil(stepSeconds));
  const stepMs = stepSeconds * 1000;

  let unreachable: PrometheusUnreachableError | undefined;
  const series: TimeSeries[] = [];
  for (const spec of seriesSpecs(options.jobs ?? { client: 'k6', server: 'hastecrm-api' }, windowSeconds, options.clientHistograms ?? 'classic')) {
    const base = { name: nameOf(spec), ...spec };
    try {
      if (unreachable) throw unreachable;
      const result = await client.rangeQuery(spec.query, start, end, stepMs, { signal });
      series.push({ ...base, ...toPoints(result) });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof PrometheusUnreachableError && error.status === undefined) unreachable ??= error;
      const message = error instanceof PrometheusUnreachableError || error instanceof PrometheusQueryError ? error.message : `the query failed: ${error instanceof Error ? error.message : String(error)}`;
      series.push({ ...base, error: message });
    }
  }
  return { start, end, stepSeconds, windowSeconds, series };
}

/** Narrows a series to one that loaded. */
export function isLoaded(series: TimeSeries): series is LoadedTimeSeries {
  return !('error' in series);
}

function nameOf(spec: Pick<SeriesSpec, 'side' | 'metric'>): string {
  return `${spec.side}-${spec.metric}`;
}

function toPoints(result: readonly RangeSeries[]): Pick<LoadedTimeSeries, 'points' | 'nonFinite'> {
  // Every query aggregates to one series; more would mean a query that does not, which no chart can show as one line.
  if (result.length > 1) throw new Error(`expected one series, got ${result.length}`);
  const points: [number, number][] = [];
  let nonFinite = 0;
  for (const [t, value] of result[0]?.points ?? []) {
    if (Number.isFinite(value)) points.push([t, Number(value.toPrecision(6))]);
    else nonFinite++;
  }
  return { points, nonFinite };
}

function seriesSpecs(jobs: { client: string | null; server: string }, windowSeconds: number, clientHistograms: HistogramStorage = 'classic'): SeriesSpec[] {
  const w = `${windowSeconds}s`;
  const client = jobs.client === null ? '' : `job=${promqlString(jobs.client)}`;
  const server = `job=${promqlString(jobs.server)}`;
  const sides = [
    {
      side: 'client' as const,
      requests: `k6_http_reqs_total{${client}}`,
      errors: `k6_http_reqs_total{${client},expected_response="false"}`,
      buckets: `k6_http_req_duration_seconds_bucket{${client}}`,
      native: clientHistograms === 'native' ? `k6_http_req_duration_seconds{${client}}` : undefined,
    },
    {
      side: 'server' as const,
      requests: `http_requests_total{${server}}`,
      errors: `http_requests_total{${server},status=~"5.."}`,
      buckets: `http_request_duration_seconds_bucket{${server},route=~"/api.*"}`,
      native: undefined,
    },
  ];
  const specs: SeriesSpec[] = [];
  for (const s of sides) {
    specs.push(
      { side: s.side, metric: 'request-rate', unit: 'req/s', query: `${rollingIncrease(s.requests, w)} / ${windowSeconds}` },
      // No error series at all (none was ever counted) is 0 errors, but only where there were requests: the denominator decides what has data.
      { side: s.side, metric: 'error-ratio', unit: 'ratio', query: `(${rollingIncrease(s.errors, w)} or vector(0)) / ${rollingIncrease(s.requests, w)}` },
    );
    for (const q of [0.5, 0.95, 0.99] as const) {
      // A native histogram (k6's remote write) is one series per label set: no buckets to sum by `le`.
      const query = s.native !== undefined ? `histogram_quantile(${q}, sum(increase(${s.native}[${w}]))) * 1000` : `histogram_quantile(${q}, ${rollingIncrease(s.buckets, w, 'le')}) * 1000`;
      specs.push({ side: s.side, metric: `latency-p${Math.round(q * 100)}` as TimeSeriesMetric, unit: 'ms', query });
    }
  }
  specs.push(
    { side: 'server', metric: 'replicas-up', unit: 'replicas', query: `sum(up{${server}})` },
    { side: 'server', metric: 'replicas-scraped', unit: 'replicas', query: `count(up{${server}})` },
  );
  return specs;
}

/**
 * How much the counters behind `selector` grew in the window ending at each step, summed (by `by`).
 *
 * A series that existed before the window grew by `increase()`. A series born inside the window
 * (the first `status="503"` or `expected_response="false"`, exactly what chaos causes; the load's
 * own series at its start; a new replica's) counted everything since its birth. `increase()`
 * extrapolates such a series down to zero, which is right for a steady one, but gives 0 for one
 * born with a burst and flat since (30 errors at once, then none): for those its last value,
 * `max_over_time()`, is the growth (counters only grow). So a born series grows by the larger of
 * the two. (Adding the first value to `increase()`, as promql.ts's `counterIncrease` does for whole
 * phases, would count it twice whenever `increase()` extrapolated to zero: the rate would
 * overshoot at every birth.)
 *
 * "Born" means absent for the 5 minutes before the window (`last_over_time(s[5m] offset w)`), not
 * merely at its start: on a rolling window a series that only missed a few scrapes (a replica too
 * busy to be scraped) would otherwise be taken for new at every step after the gap, and its whole
 * counter value counted again.
 */
function rollingIncrease(selector: string, w: string, by?: string): string {
  const sum = by ? `sum by (${by})` : 'sum';
  const existed = `last_over_time(${selector}[5m] offset ${w})`;
  const increase = `increase(${selector}[${w}])`;
  const last = `max_over_time(${selector}[${w}])`;
  return `${sum} ((${increase} and ${existed}) or (((${increase} >= ${last}) or ${last}) unless ${existed}))`;
}
