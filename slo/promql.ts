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

/** Renders the SLO's queries for a window of `windowSeconds`, evaluated at the window's end. */
export function renderSloQueries(slo: SloDefinition, windowSeconds: number): SloQueries {
  const w = `${windowSeconds}s`;
  switch (slo.kind) {
    case 'ratio':
      return {
        value: `${counterIncrease(slo.good, w)} / ${counterIncrease(slo.total, w)}`,
        samples: counterIncrease(slo.total, w),
      };
    case 'latency': {
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
 * `increase()` handles resets (a replica restarted by chaos) but cannot count a series' first
 * value: a series born inside the window (the first `status="503"`, the first
 * `expected_response="false"` — exactly the errors chaos causes) would lose everything it counted
 * before its first scrape, biasing the verdict toward `pass`. So the first value of every series
 * that did not exist at the window's start is added back:
 * `min_over_time(s[w]) unless s offset w` is that first value (counters only grow), for exactly
 * the series absent at the start. Exporters that create their series at 0 need no correction,
 * and get none (their series exist at the start).
 */
export function counterIncrease(selector: string, w: string, by?: string): string {
  const sum = by ? `sum by (${by})` : 'sum';
  const increase = `${sum} (increase(${selector}[${w}]))`;
  // Without new series the correction is empty; `or` then supplies zeros with the same labels,
  // so the addition keeps every element of `increase` (and stays empty when there is no data).
  const zero = by ? `${increase} * 0` : 'vector(0)';
  return `(${increase} + (${sum} (min_over_time(${selector}[${w}]) unless ${selector} offset ${w}) or ${zero}))`;
}

function histogramSeries(slo: LatencySlo, suffix: '_bucket' | '_count'): string {
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
