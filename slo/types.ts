/**
 * SLOs are data: they can be validated, printed in a plan, evaluated per phase and rendered into
 * reports. Queries are written with `$window` where the phase's range goes (e.g. `[$window]`); the
 * evaluator substitutes the phase's duration and evaluates at the phase's end.
 */

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export type PhaseKind = 'baseline' | 'experiment' | 'recovery' | 'overall';

/** A window of the run judged on its own data. Times are epoch milliseconds, end exclusive. */
export interface Phase {
  /** "baseline", "pod-delete#1", "recovery", "overall". */
  name: string;
  kind: PhaseKind;
  start: number;
  end: number;
}

export type Severity = 'warning' | 'error' | 'critical';

interface SloBase {
  /** Unique, kebab-case: "api-success-ratio". */
  name: string;
  description: string;
  /** The kinds of phase this SLO is judged in. */
  phases: readonly PhaseKind[];
  /**
   * Below this many samples the verdict is `inconclusive`: requests for ratio and latency SLOs,
   * the `samples` query's value for query SLOs, rule evaluations for alert SLOs.
   */
  minSamples: number;
  /** `error` fails the run; `warning` is reported only; `critical` fails it too. */
  severity: Severity;
  /** `client` (load driver's k6-named metrics) or `server` (the API's own metrics). */
  side: 'client' | 'server';
}

/** good / total ≥ objective. `good` and `total` are series selectors of counters. */
export interface RatioSlo extends SloBase {
  kind: 'ratio';
  good: string;
  total: string;
  /** Between 0 and 1, e.g. 0.99. */
  objective: number;
}

/** The `quantile` of a histogram < thresholdMs. `histogram` is the metric name without `_bucket`. */
export interface LatencySlo extends SloBase {
  kind: 'latency';
  histogram: string;
  /** Label matchers without braces, e.g. `job="hastecrm-api"`; may be empty. */
  matchers?: string;
  quantile: number;
  thresholdMs: number;
}

/** Any PromQL with a bound. `expr` and `samples` use `$window`. */
export interface QuerySlo extends SloBase {
  kind: 'query';
  expr: string;
  op: '<' | '<=' | '>' | '>=';
  bound: number;
  /** A query giving the number of samples behind `expr` in the window. */
  samples: string;
  /** How to print the value ("ms", "%", ""). */
  unit?: string;
}

/**
 * "No alert of severity `alertSeverity` fired in the phase", from the `ALERTS` series of the run's
 * Prometheus. The value is the number of distinct alerts (label sets) firing at any rule
 * evaluation in the window; it passes at 0. An empty `ALERTS` result is evidence only when rules
 * were evaluated, so the samples are rule evaluations (of the least-evaluated rule group, from
 * Prometheus's self-scrape, job `prometheus`): none in the window makes the phase `inconclusive`.
 */
export interface AlertSlo extends SloBase {
  kind: 'alert';
  /** The value of the alerts' `severity` label, e.g. "critical". */
  alertSeverity: string;
  /** Only these alert names count; all alerts of the severity when absent. */
  alertnames?: readonly string[];
}

export type SloDefinition = RatioSlo | LatencySlo | QuerySlo | AlertSlo;

/** One SLO judged in one phase, with the evidence behind the verdict. */
export interface SloPhaseResult {
  slo: string;
  side: 'client' | 'server';
  severity: Severity;
  phase: string;
  phaseKind: PhaseKind;
  verdict: Verdict;
  /** The measured value in the SLO's unit (ratio 0..1, milliseconds, or the raw value); null when none. */
  value: number | null;
  /** Human-readable objective: "≥ 99%", "< 500 ms". */
  threshold: string;
  samples: number;
  /** The exact PromQL evaluated, copyable into Prometheus. */
  queries: { value: string; samples: string };
  /** Evaluation time (phase end) and range in seconds. */
  evaluatedAt: number;
  windowSeconds: number;
  /** Why the verdict is `inconclusive` or `fail`, in one sentence. */
  reason?: string;
}
