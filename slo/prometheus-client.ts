import { fetch } from 'undici';
import { sleep } from '../scripts/util/wait.ts';

/**
 * The only way the harness reads metrics: instant and range queries against Prometheus's HTTP API.
 *
 * Built on undici's fetch rather than the `prometheus-query` package, because that package
 * (a) parses sample values with `parseFloat`, which turns "+Inf" and "-Inf" into NaN — the
 * evaluator must tell them apart; (b) takes no AbortSignal, so a Ctrl-C could not cancel a query
 * in flight; (c) rejects with plain objects rather than Errors, and brings axios as a second HTTP
 * stack. The API used here is a few fields of two endpoints; owning it is simpler than adapting it.
 */

/** One element of an instant vector (or the scalar result, with no labels). */
export interface Sample {
  labels: Record<string, string>;
  /** As Prometheus returned it: NaN, +Inf and -Inf are kept; the caller decides what they mean. */
  value: number;
}

/** One series of a range query: its labels and its points, oldest first. */
export interface RangeSeries {
  labels: Record<string, string>;
  /**
   * `[time in epoch ms, value]` at the steps where the series had a value. Steps without one are
   * absent (Prometheus omits them), so a gap in the data is a gap in `points`, never a zero.
   * Values are kept as returned: NaN, +Inf and -Inf included.
   */
  points: [number, number][];
}

export interface PrometheusClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:9090`. */
  url: string;
  /** Per-request timeout (also sent to Prometheus as the query's `timeout`). Default 10 s. */
  timeoutMs?: number;
  /** Tries per query, first one included. Default 3. */
  attempts?: number;
  /** Delay before the first retry; doubles for each further retry. Default 200 ms. */
  backoffMs?: number;
  /** Upper bound of one backoff delay. Default 2 s. */
  maxBackoffMs?: number;
}

/**
 * Prometheus could not answer: connection refused, timeouts, or 5xx on every try, or a response
 * that is not from Prometheus's API. `status` is the last HTTP status when there was a response.
 */
export class PrometheusUnreachableError extends Error {
  override name = 'PrometheusUnreachableError';
  constructor(
    message: string,
    readonly url: string,
    readonly attempts: number,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Prometheus rejected the query (HTTP 400/422): `message` carries Prometheus's own error text. */
export class PrometheusQueryError extends Error {
  override name = 'PrometheusQueryError';
  constructor(
    message: string,
    readonly query: string,
    readonly status: number,
    /** Prometheus's errorType: "bad_data", "execution", … */
    readonly errorType: string,
  ) {
    super(message);
  }
}

interface ApiResponse {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

/** Safe to share: holds no state between queries. */
export class PrometheusClient {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(options: PrometheusClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.backoffMs = options.backoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 2_000;
  }

  /**
   * Evaluates `query` at `atMs` (epoch milliseconds). Retries network errors, timeouts and 5xx
   * with exponential backoff, at most `attempts` tries in all; never retries a rejected query.
   *
   * Resolves with the vector's samples (empty when no series matched) or the scalar as one sample.
   * Rejects with `PrometheusQueryError` (bad query, or a range vector result),
   * `PrometheusUnreachableError` (after the last try), or the abort reason when `signal` aborts.
   */
  async instantQuery(query: string, atMs: number, options: { signal?: AbortSignal } = {}): Promise<Sample[]> {
    const body = new URLSearchParams({ query, time: (atMs / 1000).toFixed(3), timeout: `${this.timeoutMs}ms` });
    const data = await this.post('/api/v1/query', body, query, options.signal);
    return toSamples(data, query);
  }

  /**
   * Evaluates `query` at every step from `startMs` to `endMs` (inclusive, epoch milliseconds),
   * `stepMs` apart, as Prometheus's `/api/v1/query_range` does. Same timeout, retries and errors as
   * `instantQuery`: `PrometheusQueryError` for a rejected query (including Prometheus's own limits,
   * e.g. more than 11,000 points per series, or an end before the start) or a result that is not a
   * matrix; `PrometheusUnreachableError` after the last try; the abort reason when `signal` aborts.
   *
   * Resolves with one entry per series (empty when nothing matched at any step).
   */
  async rangeQuery(query: string, startMs: number, endMs: number, stepMs: number, options: { signal?: AbortSignal } = {}): Promise<RangeSeries[]> {
    const body = new URLSearchParams({
      query,
      start: (startMs / 1000).toFixed(3),
      end: (endMs / 1000).toFixed(3),
      step: String(stepMs / 1000),
      timeout: `${this.timeoutMs}ms`,
    });
    const data = await this.post('/api/v1/query_range', body, query, options.signal);
    return toRangeSeries(data, query);
  }

  private async post(path: string, body: URLSearchParams, query: string, signal: AbortSignal | undefined): Promise<NonNullable<ApiResponse['data']>> {
    let lastError: unknown;
    let lastStatus: number | undefined;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      signal?.throwIfAborted();
      if (attempt > 1) await sleep(Math.min(this.backoffMs * 2 ** (attempt - 2), this.maxBackoffMs), signal);
      const timeout = AbortSignal.timeout(this.timeoutMs);
      let response;
      let text: string;
      try {
        response = await fetch(`${this.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: body.toString(),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
        text = await response.text();
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        lastError = timeout.aborted ? new Error(`no answer within ${this.timeoutMs} ms`) : error;
        lastStatus = undefined;
        continue;
      }
      const parsed = parseJson(text);
      if (response.status === 400 || response.status === 422) {
        throw new PrometheusQueryError(
          `Prometheus rejected the query (HTTP ${response.status}): ${parsed?.error ?? text.trim()}`,
          query,
          response.status,
          parsed?.errorType ?? 'unknown',
        );
      }
      if (response.status >= 500) {
        lastStatus = response.status;
        lastError = new Error(`HTTP ${response.status}: ${parsed?.error ?? text.trim().slice(0, 200)}`);
        continue;
      }
      if (response.status !== 200 || parsed?.status !== 'success' || parsed.data === undefined) {
        // Not a Prometheus API answer (wrong URL, a proxy's page): retrying will not change that.
        throw new PrometheusUnreachableError(
          `${this.url}${path} did not answer like Prometheus's API (HTTP ${response.status}): ${text.trim().slice(0, 200)}`,
          this.url,
          attempt,
          response.status,
        );
      }
      return parsed.data;
    }
    throw new PrometheusUnreachableError(
      `Prometheus at ${this.url} did not answer after ${this.attempts} tries: ${describeError(lastError)}`,
      this.url,
      this.attempts,
      lastStatus,
      { cause: lastError },
    );
  }
}

function toSamples(data: NonNullable<ApiResponse['data']>, query: string): Sample[] {
  switch (data.resultType) {
    case 'vector': {
      const result = Array.isArray(data.result) ? (data.result as { metric?: Record<string, string>; value?: [number, string] }[]) : [];
      return result.map((item) => ({ labels: item.metric ?? {}, value: parsePrometheusValue(item.value?.[1]) }));
    }
    case 'scalar': {
      const value = data.result as [number, string] | undefined;
      return [{ labels: {}, value: parsePrometheusValue(value?.[1]) }];
    }
    default:
      throw new PrometheusQueryError(
        `the query returned a ${data.resultType ?? 'missing'} result; an instant query must return an instant vector or a scalar (is a range selector left without a function?)`,
        query,
        200,
        'unexpected_result_type',
      );
  }
}

function toRangeSeries(data: NonNullable<ApiResponse['data']>, query: string): RangeSeries[] {
  if (data.resultType !== 'matrix') {
    throw new PrometheusQueryError(`the range query returned a ${data.resultType ?? 'missing'} result; a range query must return a matrix`, query, 200, 'unexpected_result_type');
  }
  const result = Array.isArray(data.result) ? (data.result as { metric?: Record<string, string>; values?: [number, string][] }[]) : [];
  return result.map((item) => ({
    labels: item.metric ?? {},
    // Prometheus's timestamps are seconds with millisecond precision: round away float noise.
    points: (item.values ?? []).map(([seconds, value]): [number, number] => [Math.round(seconds * 1000), parsePrometheusValue(value)]),
  }));
}

/** Prometheus encodes sample values as strings, with "NaN", "+Inf" and "-Inf" for the specials. */
export function parsePrometheusValue(text: string | undefined): number {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case undefined:
      return NaN;
    default:
      return Number(text);
  }
}

function parseJson(text: string): ApiResponse | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // undici reports "fetch failed" with the socket error as the cause.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
