/**
 * What a load run hands back: the end-of-run summary and the live figures for the progress line.
 * Plain data, so reporters and the run journal can store them as they are.
 */
import type { ErrorKind } from './error-codes.ts';
import type { LatencyPercentilesMs } from './latency.ts';

/** Pass/fail counts of one named check of one request (k6's `checks` metric, per `check` tag). */
export interface CheckCounts {
  scenario: string;
  /** The request's `name`. */
  request: string;
  check: string;
  passes: number;
  fails: number;
}

export interface LoadSummary {
  /** The scenario's name; with several scenarios, their names joined by `+`. */
  scenario: string;
  /** The executor; `"multiple"` when the summary adds up several scenarios. */
  executor: string;
  /** Target arrival rate, iterations per second (0 for closed-model executors; summed over scenarios). */
  targetRate: number;
  /** How long iterations were started for: the scenario's duration, or less when aborted. */
  durationMs: number;
  /** Iterations whose start time came before scheduling stopped. Always `requests + droppedIterations + interruptedIterations`. */
  scheduled: number;
  /** Requests that finished, successfully or not (k6's http_reqs). */
  requests: number;
  /** Requests with an unexpected outcome: network errors, timeouts, unexpected statuses. */
  errors: number;
  /** `errors` by kind; the kinds add up to `errors`. */
  errorsByKind: Record<ErrorKind, number>;
  /** First error message seen per kind, to say what went wrong (absent kinds did not occur). */
  errorSamples: Partial<Record<ErrorKind, string>>;
  /** Finished requests by status; network errors count under "0". Adds up to `requests`. */
  statusCounts: Record<string, number>;
  /** Iterations due but not started: no free VU, or more than the lateness bound behind schedule. */
  droppedIterations: number;
  /** Iterations still in flight when the graceful stop ran out; cancelled and not counted as requests. */
  interruptedIterations: number;
  /** `requests` per second of `durationMs`. */
  achievedRatePerSec: number;
  /** Latency of finished requests (failures included), from each iteration's scheduled start. */
  latencyMs: LatencyPercentilesMs;
  /** Per request and check: passes and fails. A failed check is not an error. Empty without checks. */
  checks: CheckCounts[];
  /** With several scenarios: each one's own summary (absent for a single scenario). */
  perScenario?: LoadSummary[];
  selfHealth: {
    maxEventLoopLagMs: number;
    meanCpuUtilization: number;
    /** True when the generator could not keep up; the harness then calls the run inconclusive. */
    overloaded: boolean;
    /** Why it was overloaded; present exactly when `overloaded`. */
    reason?: string;
  };
}

/** Figures for the harness's live progress line; cheap to ask for once a second. */
export interface LiveStats {
  /** Since the load started (0 before). */
  elapsedMs: number;
  /** The planned load duration (graceful stop not included). */
  totalMs: number;
  requests: number;
  /** Finished requests per second over roughly the last 1–2 s. */
  ratePerSec: number;
  errors: number;
  /** Over the run so far. */
  p95Ms: number;
  droppedIterations: number;
  inFlight: number;
}
