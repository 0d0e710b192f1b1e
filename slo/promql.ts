import type { LatencySlo, SloDefinition } from './types.ts';

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
}

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
  }
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
  }
}

export const OPERATOR_TEXT = { '<': '<', '<=': '≤', '>': '>', '>=': '≥' } as const;

/** 0.99 → "99%", 0.999 → "99.9%", 0.98765 → "98.77%". */
export function formatPercent(ratio: number): string {
  return `${Number((ratio * 100).toFixed(2))}%`;
}
