/**
 * The engine's Prometheus metrics, in k6's names (the contract that lets one SLO read k6 and the
 * embedded engine alike), written out by hand in the text exposition format.
 *
 * Why hand-written rather than prom-client: the hot path is one Map lookup by a number and a few
 * additions into preallocated arrays; label strings are built once per series, not per request,
 * and histogram series are summed per label set only when Prometheus scrapes.
 */
import type { ResolvedScenario } from './resolve.ts';

/** Upper bounds of `k6_http_req_duration_seconds`; 0.5 is one of them so "latency < 500 ms" is exact. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const BUCKET_LABELS = [...DURATION_BUCKETS_SECONDS.map(String), '+Inf'];

/** Requests of one spec with one (status, error_code): a row of k6_http_reqs_total and its share of the histogram. */
class RequestSeries {
  count = 0;
  sumSeconds = 0;
  /** Non-cumulative counts per bucket, the last one for +Inf. */
  readonly buckets = new Float64Array(DURATION_BUCKETS_SECONDS.length + 1);
  constructor(
    /** Label set of k6_http_reqs_total, braces included. */
    readonly reqsLabels: string,
    /** Label set of k6_http_req_duration_seconds without braces (error_code is not one of its labels). */
    readonly durationLabels: string,
  ) {}
}

/** Values of the engine's gauges; the engine and its self-health monitor write them directly. */
export interface EngineGauges {
  /** Iterations in flight (k6's `vus` for arrival-rate executors: VUs busy). */
  vus: number;
  /** VUs allocated so far (k6's `vus_max`). */
  vusMax: number;
  /** Largest event-loop delay over the last sampling interval. */
  eventLoopLagSeconds: number;
  /** Process CPU time / wall time over the last sampling interval (may exceed 1 with helper threads). */
  cpuUtilization: number;
}

export class EngineMetrics {
  readonly gauges: EngineGauges = { vus: 0, vusMax: 0, eventLoopLagSeconds: 0, cpuUtilization: 0 };
  private iterations = 0;
  private dropped = 0;
  /** Per request spec: series keyed by `status * 10_000 + errorCode`. */
  private readonly series: Map<number, RequestSeries>[];
  private readonly scenarioLabel: string;
  private readonly specLabels: string[];
  /** Per request spec, per check: label set without braces, passes, fails. */
  private readonly checkSeries: { labels: string; passes: number; fails: number }[][];

  constructor(private readonly scenario: ResolvedScenario) {
    this.scenarioLabel = `scenario="${escapeLabelValue(scenario.name)}"`;
    const tagLabels = Object.entries(scenario.tags)
      .map(([key, value]) => `,${key}="${escapeLabelValue(value)}"`)
      .join('');
    this.specLabels = scenario.requests.map(
      (request) => `${this.scenarioLabel},name="${escapeLabelValue(request.name)}",method="${request.method}"${tagLabels}`,
    );
    this.series = scenario.requests.map(() => new Map<number, RequestSeries>());
    this.checkSeries = scenario.requests.map((request, i) =>
      request.checks.map((check) => ({ labels: `${this.specLabels[i]},check="${escapeLabelValue(check.name)}"`, passes: 0, fails: 0 })),
    );
  }

  /** Counts one evaluation of check `checkIndex` of spec `specIndex`. */
  recordCheck(specIndex: number, checkIndex: number, passed: boolean): void {
    const series = this.checkSeries[specIndex]?.[checkIndex];
    if (series === undefined) throw new RangeError(`no check #${checkIndex} on request spec #${specIndex} in scenario ${this.scenario.name}`);
    if (passed) series.passes += 1;
    else series.fails += 1;
  }

  /**
   * Counts one finished request of spec `specIndex`. `status` is 0 for network errors; `errorCode`
   * is k6's number, 0 for none. Allocates only the first time a (spec, status, error_code) is seen.
   */
  recordRequest(specIndex: number, status: number, errorCode: number, seconds: number): void {
    const bySpec = this.series[specIndex];
    if (bySpec === undefined) throw new RangeError(`no request spec #${specIndex} in scenario ${this.scenario.name}`);
    const key = status * 10_000 + errorCode;
    let series = bySpec.get(key);
    if (series === undefined) {
      series = this.newSeries(specIndex, status, errorCode);
      bySpec.set(key, series);
    }
    series.count += 1;
    series.sumSeconds += seconds;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS_SECONDS.length && seconds > (DURATION_BUCKETS_SECONDS[bucket] ?? Infinity)) bucket += 1;
    series.buckets[bucket] = (series.buckets[bucket] ?? 0) + 1;
    this.iterations += 1;
  }

  /** Counts one iteration that was due but not started (no free VU, or too late to start). */
  recordDropped(): void {
    this.dropped += 1;
  }

  /** The exposition, version 0.0.4 of the text format. */
  render(): string {
    return renderExposition([this]);
  }

  /** Adds this scenario's samples to `families` (family name → HELP/TYPE header and sample lines). */
  collect(families: MetricFamilies): void {
    const add = (name: string, help: string, type: string, sampleLines: readonly string[]): void => {
      let family = families.get(name);
      if (family === undefined) {
        family = { header: [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`], lines: [] };
        families.set(name, family);
      }
      family.lines.push(...sampleLines);
    };
    const reqs: string[] = [];
    for (const bySpec of this.series) for (const series of bySpec.values()) reqs.push(`k6_http_reqs_total${series.reqsLabels} ${series.count}`);
    add('k6_http_reqs_total', 'HTTP requests completed, failed ones included.', 'counter', reqs);

    const durations: string[] = [];
    for (const [labels, merged] of this.mergedDurations()) {
      let cumulative = 0;
      merged.buckets.forEach((count, i) => {
        cumulative += count;
        durations.push(`k6_http_req_duration_seconds_bucket{${labels},le="${BUCKET_LABELS[i]}"} ${cumulative}`);
      });
      durations.push(`k6_http_req_duration_seconds_sum{${labels}} ${merged.sumSeconds}`);
      durations.push(`k6_http_req_duration_seconds_count{${labels}} ${merged.count}`);
    }
    add('k6_http_req_duration_seconds', 'HTTP request latency measured from the scheduled start of the iteration (no coordinated omission).', 'histogram', durations);

    // k6's `checks` is a Rate; its Prometheus remote-write output sends it as the gauge
    // k6_checks_rate (passes / evaluations). A ratio since the start cannot be windowed per phase,
    // so the counters below carry the same information in a form increase() can use:
    // sum(increase(k6_checks_total{result="pass"}[w])) / sum(increase(k6_checks_total[w])).
    const checkTotals: string[] = [];
    const checkRates: string[] = [];
    for (const bySpec of this.checkSeries) {
      for (const series of bySpec) {
        checkTotals.push(`k6_checks_total{${series.labels},result="pass"} ${series.passes}`, `k6_checks_total{${series.labels},result="fail"} ${series.fails}`);
        const evaluated = series.passes + series.fails;
        checkRates.push(`k6_checks_rate{${series.labels}} ${evaluated === 0 ? 0 : series.passes / evaluated}`);
      }
    }
    if (checkTotals.length > 0) {
      add('k6_checks_total', 'Check evaluations by result (pass, fail); a failed check is not an HTTP error.', 'counter', checkTotals);
      add('k6_checks_rate', 'Share of check evaluations that passed since the start (k6 remote-write name of the checks rate).', 'gauge', checkRates);
    }

    const scenario = `{${this.scenarioLabel}}`;
    add('k6_iterations_total', 'Iterations completed.', 'counter', [`k6_iterations_total${scenario} ${this.iterations}`]);
    add('k6_dropped_iterations_total', 'Iterations that were due but not started: no free VU, or too late.', 'counter', [`k6_dropped_iterations_total${scenario} ${this.dropped}`]);
    add('k6_vus', 'Iterations in flight.', 'gauge', [`k6_vus${scenario} ${this.gauges.vus}`]);
    add('k6_vus_max', 'VUs allocated.', 'gauge', [`k6_vus_max${scenario} ${this.gauges.vusMax}`]);
    add('resilience_engine_event_loop_lag_seconds', 'Largest event-loop delay of the load engine over the last sampling interval.', 'gauge', [
      `resilience_engine_event_loop_lag_seconds${scenario} ${this.gauges.eventLoopLagSeconds}`,
    ]);
    add('resilience_engine_cpu_utilization', 'Load engine process CPU time over wall time in the last sampling interval.', 'gauge', [
      `resilience_engine_cpu_utilization${scenario} ${this.gauges.cpuUtilization}`,
    ]);
  }

  private newSeries(specIndex: number, status: number, errorCode: number): RequestSeries {
    const request = this.scenario.requests[specIndex];
    const expected = request !== undefined && request.isExpected[status] === 1;
    const durationLabels = `${this.specLabels[specIndex]},status="${status}",expected_response="${expected}"`;
    const reqsLabels = `{${durationLabels}${errorCode === 0 ? '' : `,error_code="${errorCode}"`}}`;
    return new RequestSeries(reqsLabels, durationLabels);
  }

  /** Histogram series merged over error_code, which is a label of the counter only. */
  private mergedDurations(): Map<string, { count: number; sumSeconds: number; buckets: Float64Array }> {
    const merged = new Map<string, { count: number; sumSeconds: number; buckets: Float64Array }>();
    for (const bySpec of this.series) {
      for (const series of bySpec.values()) {
        let target = merged.get(series.durationLabels);
        if (target === undefined) {
          target = { count: 0, sumSeconds: 0, buckets: new Float64Array(series.buckets.length) };
          merged.set(series.durationLabels, target);
        }
        target.count += series.count;
        target.sumSeconds += series.sumSeconds;
        for (let i = 0; i < series.buckets.length; i++) target.buckets[i] = (target.buckets[i] ?? 0) + (series.buckets[i] ?? 0);
      }
    }
    return merged;
  }
}

/** Escapes a label value for the text format: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Metric families being rendered, in first-seen order: each HELP/TYPE header written once. */
export type MetricFamilies = Map<string, { header: string[]; lines: string[] }>;

/**
 * One exposition for several scenarios' metrics: each family's HELP and TYPE once, then every
 * scenario's samples (Prometheus rejects a family whose TYPE appears twice).
 */
export function renderExposition(metrics: readonly EngineMetrics[]): string {
  const families: MetricFamilies = new Map();
  for (const m of metrics) m.collect(families);
  const lines: string[] = [];
  for (const family of families.values()) lines.push(...family.header, ...family.lines);
  return `${lines.join('\n')}\n`;
}
