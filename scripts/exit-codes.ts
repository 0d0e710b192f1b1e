/**
 * The harness's exit codes. CI branches on these numbers, so they never change meaning.
 * Each has one sentence in the README's "Exit codes" section.
 */
export const ExitCode = {
  /** Every SLO in every phase passed. */
  Pass: 0,
  /** At least one SLO of severity `error` failed in at least one phase. */
  SloFailed: 1,
  /** The config, a flag or an argument is invalid; nothing was started. */
  InvalidConfig: 2,
  /** No SLO failed, but at least one could not be judged (no data, too few samples, Prometheus unreachable …). */
  Inconclusive: 3,
  /** The target could not be provisioned: a binary is missing, a port or a service did not come up. */
  Environment: 4,
  /** Cleanup failed: faults or processes may remain. Run `resilience cleanup`. */
  CleanupFailed: 5,
  /** Interrupted by SIGINT/SIGTERM; cleanup has run. */
  Interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
