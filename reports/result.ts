import type { ExperimentRecord } from '../chaos/types.ts';
import type { Phase, SloPhaseResult, Verdict } from '../slo/types.ts';
import type { RecoveryResult } from '../slo/recovery.ts';
import type { Divergence } from '../slo/divergence.ts';
import type { AlertInterval } from '../slo/alerts.ts';
import type { GateResult } from './gate.ts';
import type { CanaryReplay } from '../slo/canary/flagger.ts';
import type { AnalysisReplay } from '../slo/canary/argo.ts';
import type { RunTimeSeries } from '../slo/timeseries.ts';

/**
 * `result.json`: the source of every report view. Bump RESULT_SCHEMA_VERSION on any change that
 * is not a pure addition of optional fields.
 */
export const RESULT_SCHEMA_VERSION = 1;

export interface LoadResult {
  driver: 'engine' | 'k6';
  scenario: string;
  /** k6's executor name; `multiple` for several scenarios. Absent in results written before executors were added. */
  executor?: string;
  targetRate: number;
  durationMs: number;
  scheduled: number;
  requests: number;
  errors: number;
  errorsByKind: Record<string, number>;
  statusCounts: Record<string, number>;
  droppedIterations: number;
  interruptedIterations: number;
  achievedRatePerSec: number;
  latencyMs: { p50: number; p90: number; p95: number; p99: number; max: number };
  selfHealth: { maxEventLoopLagMs: number; meanCpuUtilization: number; overloaded: boolean; reason?: string };
  /** The first error message seen per kind, to tell a refused connection from a reset at a glance. */
  errorSamples?: Partial<Record<string, string>>;
  /** Pass/fail counts per request and named check (k6's `checks`). */
  checks?: { scenario: string; request: string; check: string; passes: number; fails: number }[];
}

export interface RunResult {
  schemaVersion: typeof RESULT_SCHEMA_VERSION;
  runId: string;
  suite: string;
  description: string;
  target: { type: string; replicas: number; ingress: { timeoutMs: number; attempts: number; perTryTimeoutMs: number } };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** The run's verdict: the worst of every judged item; `inconclusive` when the run did not complete. */
  verdict: Verdict;
  /** One sentence: why this verdict. */
  reason: string;
  exitCode: number;
  /** `completed`, or how the run ended early. */
  status: 'completed' | 'failed' | 'interrupted' | 'deadline';
  phases: Phase[];
  slos: SloPhaseResult[];
  load?: LoadResult;
  experiments: ExperimentRecord[];
  /** The critical SLO that failed while the load ran and stopped it early. */
  breach?: SloPhaseResult;
  /** Time to recover per experiment and SLO. */
  recovery: RecoveryResult[];
  /** Client-side vs server-side values of paired SLOs, per phase. */
  divergence: Divergence[];
  /** Alerts pending or firing during the load; absent when they could not be read (not "none"). */
  alerts?: AlertInterval[];
  /** Flagger canary and Argo Rollouts analysis replayed over the run. */
  canary: (CanaryReplay | AnalysisReplay)[];
  /** True when the canary replays decide the verdict (a suite's `canary.gate`); else report-only. */
  canaryGate?: boolean;
  /** Request rate, error ratio, latency and replicas over the load, for the charts; absent when they were not collected (not "no data"). */
  timeseries?: RunTimeSeries;
  /** This run against the last passing runs of the same suite (the history), when there is one. */
  comparison?: GateResult;
  /** Replicas restarted during the run (chaos deletions and crashes). */
  restarts: number;
  prometheus?: { url: string; scrapeIntervalMs: number };
  environment: { node: string; platform: string; hostname: string; gitCommit?: string; harnessVersion: string };
  errors: string[];
}
