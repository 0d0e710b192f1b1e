import type { Ledger } from '../../chaos/ledger.ts';
import type { ExperimentRecord } from '../../chaos/types.ts';
import type { LocalTarget } from '../../cluster/targets/local/local-target.ts';
import type { KindTarget } from '../../cluster/targets/kind/kind-target.ts';
import type { RunningPrometheus } from '../../cluster/targets/local/prometheus.ts';
import type { EmbeddedEngine } from '../../scenarios/engine/engine.ts';
import type { LoadSummary } from '../../scenarios/engine/results.ts';
import type { Phase, SloPhaseResult } from '../../slo/types.ts';
import type { RecoveryResult } from '../../slo/recovery.ts';
import type { Divergence } from '../../slo/divergence.ts';
import type { AlertInterval } from '../../slo/alerts.ts';
import type { RunTimeSeries } from '../../slo/timeseries.ts';
import type { CanaryReplay } from '../../slo/canary/flagger.ts';
import type { AnalysisReplay } from '../../slo/canary/argo.ts';
import type { RunPlan } from './plan.ts';
import type { Progress } from '../cli/progress.ts';
import type { LoadDriver } from './k6-driver.ts';

/** What the run's stages share. Each stage fills in its part; teardowns read what exists. */
export interface RunContext {
  runId: string;
  plan: RunPlan;
  runDir: string;
  ledger: Ledger;
  progress: Progress;
  workDir?: string;
  target?: LocalTarget;
  /** The kind target's handle, when the suite's target is `kind` (kind-stages.ts). */
  kindTarget?: KindTarget;
  engine?: EmbeddedEngine;
  /** The load driver the plan chose: the engine above, or k6. */
  driver?: LoadDriver;
  /** Either runtime's Prometheus: later stages use only its url and stop(). */
  prometheus?: Pick<RunningPrometheus, 'url' | 'stop'>;
  loadStart?: number;
  loadEnd?: number;
  load?: LoadSummary;
  experiments: ExperimentRecord[];
  /** Aborts the chaos schedule (run abort, or the load ended). */
  chaosAbort?: AbortController;
  chaosRuns: Promise<ExperimentRecord>[];
  phases: Phase[];
  slos: SloPhaseResult[];
  /** The first critical SLO that failed while the load ran; the load was stopped early. */
  breach?: SloPhaseResult;
  recovery: RecoveryResult[];
  divergence: Divergence[];
  /** Alerts pending or firing during the load; undefined when they could not be read. */
  alerts?: AlertInterval[];
  /** Rate, errors, latency and replicas over the load, for the report's charts. */
  timeseries?: RunTimeSeries;
  /** Release analyses replayed over the run. */
  canary: (CanaryReplay | AnalysisReplay)[];
  /** Problems worth reporting that did not stop the run. */
  notes: string[];
}

/** A value an earlier stage sets; its absence is a bug in the stage order, not a user error. */
export function requireValue<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`internal: ${what} is not set; an earlier stage did not run`);
  return value;
}
