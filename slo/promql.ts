import type { AlertSlo, LatencySlo, SloDefinition } from './types.ts';

/**
 * The PromQL behind each SLO kind, in one place: the evaluator runs these, the offline check
 * checks them and `resilience plan` prints them, so what is printed is what is evaluated.
 */

/** Where a query takes the phase's range: `rate(x[$window])`. */
export const WINDOW_PLACEHOLDER = '$window';

export interface SloQueries {
  /** The SLO's value: a ratio (0..1), milliseconds, or the raw value of a query SLO. */
  value: string;
  /** The number of samples (requests, observations) behind the value. */
  samples: string;
  /** Latency SLOs only: the histogram's buckets over the window, to check what the quantile can tell. */
  buckets?: string;
  /** Alert SLOs only: one series per alert name that fired in the window, to name them in a failure. */
  firing?: string;
}

/** The scrape job under which Prometheus scrapes its own metrics (the harness adds it). */
export const PROMETHEUS_SELF_JOB = 'prometheus';

/** Rule evaluations per rule group, counted by Prometheus itself and read from its self-scrape. */
export const RULE_EVALUATIONS = `prometheus_rule_evaluations_total{job=${promqlString(PROMETHEUS_SELF_JOB)}}`;

/** Replaces every `$window` with `<seconds>s`. */
export function substituteWindow(expr: string, windowSeconds: number): string {
  return expr.split(WINDOW_PLACEHOLDER).join(`${windowSeconds}s`);
}

/**
 * How the client side's latency histogram is stored. `classic`: `_bucket{le}`/`_count` series (the
 * embedded engine's /metrics, scraped). `native`: one native histogram series (real k6's
 * remote-write output with K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM; Prometheus needs
 * `--enable-feature=native-histograms`).
 */
export type HistogramStorage = 'classic' | 'native';

export interface RenderOptions {
  /** Default `classic`. Server-side SLOs always use classic buckets (the API exposes them). */
  clientHistograms?: HistogramStorage;
}

/** Renders the SLO's queries for a window of `windowSeconds`, evaluated at the window's end. */
export function renderSloQueries(slo: SloDefinition, windowSeconds: number, options: RenderOptions = {}): SloQueries {
  const w = `${windowSeconds}s`;
  switch (slo.kind) {
    case 'ratio':
      return {
        value: `${counterIncrease(slo.good, w)} / ${counterIncrease(slo.total, w)}`,
        samples: counterIncrease(slo.total, w),
      };
    case 'latency': {
      if (slo.side === 'client' && options.clientHistograms === 'native') return renderNativeLatency(slo, w);
      const buckets = counterIncrease(histogramSeries(slo, '_bucket'), w, 'le');
      return {
        value: `histogram_quantile(${slo.quantile}, ${buckets}) * 1000`,
        samples: counterIncrease(histogramSeries(slo, '_count'), w),
        buckets,
      };
    }
    case 'query':
      return { value: substituteWindow(slo.expr, windowSeconds), samples: substituteWindow(slo.samples, windowSeconds) };
    case 'alert':
      return renderAlertQueries(slo, w);
  }
}

/**
 * An alert SLO's queries over the range `w` (a duration, or a template variable such as Flagger's
 * `{{ interval }}`).
 *
 * - value: distinct alerts (label sets) of the severity that were firing at any rule evaluation in
 *   the window. `or vector(0)`: no such series is the good case, 0 alerts, not "no data" — which
 *   is why the samples must show that rules were evaluated at all.
 * - samples: rule evaluations of the least-evaluated rule group in the window. An alert can only
 *   fire when its group is evaluated, and the ALERTS series do not say which group an alert
 *   belongs to, so every group must have been evaluated for "nothing fired" to mean anything.
 *   With no rule group at all (no rules loaded, no self-scrape) the result is empty: 0 samples.
 */
export function renderAlertQueries(slo: AlertSlo, w: string): SloQueries & { firing: string } {
  const firingInWindow = `max_over_time(${alertsSelector(slo)}[${w}])`;
  return {
    value: `count(${firingInWindow}) or vector(0)`,
    samples: `min(${counterIncrease(RULE_EVALUATIONS, w, 'rule_group')})`,
    firing: `max by (alertname) (${firingInWindow})`,
  };
}

/** `ALERTS{alertstate="firing",severity="critical"[,alertname=~"A|B"]}` for the SLO's alerts. */
export function alertsSelector(slo: Pick<AlertSlo, 'alertSeverity' | 'alertnames'>): string {
  const matchers = ['alertstate="firing"', `severity=${promqlString(slo.alertSeverity)}`];
  const names = slo.alertnames ?? [];
  if (names.length === 1) matchers.push(`alertname=${promqlString(names[0] ?? '')}`);
  else if (names.length > 1) matchers.push(`alertname=~${promqlString(names.map(escapeRegex).join('|'))}`);
  return `ALERTS{${matchers.join(',')}}`;
}

/**
 * A PromQL string literal. PromQL unquotes double-quoted strings as Go does, and every escape
 * JSON.stringify writes (\", \\, \n, \uXXXX …) is also a Go escape.
 */
export function promqlString(text: string): string {
  return JSON.stringify(text);
}

/** Escapes RE2 metacharacters, so an alert name matches only itself inside `=~"a|b"`. */
function escapeRegex(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/**
 * How much the counters behind `selector` grew in the window ending now, summed (by `by`).
 *
 * A series that existed before the window grew by `increase()`, which also handles resets (a
 * replica restarted by chaos). A series born inside the window (the first `status="503"`, the first
 * `expected_response="false"` — exactly the errors chaos causes — or the load's own series at its
 * start) counted everything since its birth: `increase()` alone gives 0 for one born with a burst
 * and flat since (30 errors at once), a bias toward `pass`. For those, the last value
 * (`max_over_time`, counters only grow from 0) is the growth; the larger of it and `increase()`
 * is taken, so nothing is counted twice.
 *
 * "Born" means absent for the 5 minutes before the window (`last_over_time(s[5m] offset w)`), not
 * merely at its start: a series that only missed a few scrapes (a replica too busy, or paused)
 * is not new, and its whole counter value must not be counted again. The same form draws the
 * report's rolling charts (slo/timeseries.ts).
 */
export function counterIncrease(selector: string, w: string, by?: string): string {
  const sum = by ? `sum by (${by})` : 'sum';
  const existed = `last_over_time(${selector}[5m] offset ${w})`;
  const increase = `increase(${selector}[${w}])`;
  const last = `max_over_time(${selector}[${w}])`;
  return `${sum} ((${increase} and ${existed}) or (((${increase} >= ${last}) or ${last}) unless ${existed}))`;
}

/**
 * A latency SLO over a native histogram: `increase()` of a native histogram is a histogram, which
 * `histogram_quantile` and `histogram_count` read directly (Prometheus ≥ 2.40). There is no
 * `buckets` query: the evaluator's check of where the quantile falls between classic bucket
 * bounds does not apply, and a native histogram's exponential buckets (schema ≥ 0: at most a
 * factor of 2 wide) bound the interpolation error instead. A series that appears inside the window
 * loses its first push (increase() cannot count it); k6 pushes every second, so at most the first
 * second of the load is missed.
 */
function renderNativeLatency(slo: LatencySlo, w: string): SloQueries {
  const increase = `sum(increase(${histogramSeries(slo, '')}[${w}]))`;
  return { value: `histogram_quantile(${slo.quantile}, ${increase}) * 1000`, samples: `histogram_count(${increase})` };
}

function histogramSeries(slo: LatencySlo, suffix: '' | '_bucket' | '_count'): string {
  const matchers = slo.matchers?.trim() ?? '';
  return matchers ? `${slo.histogram}${suffix}{${matchers}}` : `${slo.histogram}${suffix}`;
}

/** The objective as people read it: "≥ 99%", "< 500 ms", "≤ 0.5". */
export function thresholdText(slo: SloDefinition): string {
  switch (slo.kind) {
    case 'ratio':
      return `≥ ${formatPercent(slo.objective)}`;
    case 'latency':
      return `< ${slo.thresholdMs} ms`;
    case 'query': {
      const unit = slo.unit ? (slo.unit === '%' ? '%' : ` ${slo.unit}`) : '';
      return `${OPERATOR_TEXT[slo.op]} ${slo.bound}${unit}`;
    }
    case 'alert': {
      const names = slo.alertnames !== undefined && slo.alertnames.length > 0 ? ` (${slo.alertnames.join(', ')})` : '';
      return `no alert of severity ${slo.alertSeverity} firing${names}`;
    }
  }
}

export const OPERATOR_TEXT = { '<': '<', '<=': '≤', '>': '>', '>=': '≥' } as const;

/** 0.99 → "99%", 0.999 → "99.9%", 0.98765 → "98.77%". */
export function formatPercent(ratio: number): string {
  return `${Number((ratio * 100).toFixed(2))}%`;
}
