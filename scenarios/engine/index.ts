/** The embedded load engine's public surface; the rest of the folder is its inside. */
export { createEmbeddedEngine } from './engine.ts';
export type { EmbeddedEngine, EmbeddedEngineOptions } from './engine.ts';
export type { LiveStats, LoadSummary } from './results.ts';
export { resolveScenario, ScenarioValidationError } from './resolve.ts';
export type { ResolvedRequest, ResolvedScenario, ScenarioOverrides } from './resolve.ts';
export { ERROR_KINDS, K6_ERROR_CODE } from './error-codes.ts';
export type { ErrorKind } from './error-codes.ts';
export { DURATION_BUCKETS_SECONDS } from './metrics.ts';
export { LATE_START_BOUND_MS } from './scenario-run.ts';
export { EXECUTOR_DEFAULTS } from './resolve.ts';
export type { ResolvedSchedule, ResolvedStage, ResolvedCheck } from './resolve.ts';
export type { CheckCounts } from './results.ts';
export { DEFAULT_SELF_HEALTH_THRESHOLDS } from './self-health.ts';
