/**
 * Scenario definitions → k6's `options` object (https://grafana.com/docs/k6/latest/using-k6/k6-options/).
 *
 * Pure and plain JavaScript at run time (no Node modules): `runtime.ts` calls it inside k6 to build
 * the exported `options`, and the harness calls it in Node for golden files and `resilience plan`.
 * Executor option names and defaults are already k6's (scenarios/types.ts), so the mapping copies
 * them; what it adds is validation (k6 would refuse the script later, with a less precise message)
 * and the `exec` function name that ties each k6 scenario to the function `runtime.ts` exports.
 */
import { parseDuration } from '../types.ts';
import type { Duration, ScenarioDefinition, Stage } from '../types.ts';

/** One threshold as k6 takes it: an expression, or an object with abortOnFail. */
export type K6Threshold = string | { threshold: string; abortOnFail?: boolean; delayAbortEval?: string };

/** k6's `options.thresholds`: metric (with optional `{tag:value}` sub-metric) → threshold list. */
export type K6Thresholds = Readonly<Record<string, readonly K6Threshold[]>>;

/** One entry of k6's `options.scenarios`. Only the fields of the scenario's executor are present. */
export interface K6Scenario {
  executor: ScenarioDefinition['executor'];
  exec: string;
  startTime?: Duration;
  gracefulStop?: Duration;
  tags?: Readonly<Record<string, string>>;
  rate?: number;
  startRate?: number;
  timeUnit?: Duration;
  duration?: Duration;
  preAllocatedVUs?: number;
  maxVUs?: number;
  vus?: number;
  startVUs?: number;
  stages?: readonly Stage[];
  gracefulRampDown?: Duration;
  iterations?: number;
  maxDuration?: Duration;
}

/** The k6 options the harness sets. */
export interface K6Options {
  scenarios: Record<string, K6Scenario>;
  thresholds: Record<string, K6Threshold[]>;
  setupTimeout: Duration;
  summaryTrendStats: string[];
}

export interface K6OptionsInput {
  /**
   * Thresholds, e.g. the `thresholds` of `resilience export slo --format k6-thresholds` (see
   * {@link thresholdsFromExport}). Default none.
   */
  thresholds?: K6Thresholds;
  /** How long k6 lets `setup()` run. Default `"60s"` (k6's default). */
  setupTimeout?: Duration;
  /** Trend statistics in the end-of-test summary. Default avg, min, med, max, p(90), p(95), p(99), count. */
  summaryTrendStats?: readonly string[];
}

/** A definition or option k6 would refuse; the message names the field and the fix. */
export class K6OptionsError extends Error {
  override name = 'K6OptionsError';
}

/** With p(99): the SLOs judge p95 and the reports show p99, so the summary must carry both. */
export const DEFAULT_SUMMARY_TREND_STATS: readonly string[] = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

/** k6 scenario names: letters, digits, `_` and `-` (k6 refuses others). */
const K6_SCENARIO_NAME = /^[0-9A-Za-z_-]+$/;
const TREND_STAT = /^(?:avg|min|med|max|count|p\(\d+(?:\.\d+)?\))$/;
const THRESHOLD_KEY = /^[A-Za-z_][A-Za-z0-9_]*(?:\{[^{}]+\})?$/;

/**
 * The name of the function the bundle exports for scenario `name` and k6 calls through `exec`:
 * `api` → `exec_api`, `spike-web` → `exec_spike_web` (an ES identifier, which `-` is not).
 */
export function execFunctionName(scenarioName: string): string {
  return `exec_${scenarioName.replace(/[^0-9A-Za-z_]/g, '_')}`;
}

/**
 * k6 `options` for `definitions` (one k6 scenario each, keyed by the scenario's name). Throws
 * K6OptionsError naming `scenarios[i].<field>` for anything k6 would refuse: a bad name, a duplicate,
 * two names with the same exec function, a malformed duration, a non-positive count, an empty mix.
 */
export function buildK6Options(definitions: readonly ScenarioDefinition<unknown>[], input: K6OptionsInput = {}): K6Options {
  if (definitions.length === 0) throw new K6OptionsError('no scenarios: pass at least one scenario definition');
  const scenarios: Record<string, K6Scenario> = {};
  const execNames = new Map<string, string>();
  definitions.forEach((definition, index) => {
    const where = `scenarios[${index}]`;
    const { name } = definition;
    if (typeof name !== 'string' || !K6_SCENARIO_NAME.test(name)) {
      throw new K6OptionsError(`${where}.name: got ${JSON.stringify(name)}; k6 scenario names use only letters, digits, "_" and "-", e.g. "api"`);
    }
    if (Object.prototype.hasOwnProperty.call(scenarios, name)) throw new K6OptionsError(`${where}.name: "${name}" is used twice; give each scenario its own name`);
    const exec = execFunctionName(name);
    const clash = execNames.get(exec);
    if (clash !== undefined) throw new K6OptionsError(`${where}.name: "${name}" and "${clash}" both become the function ${exec}; rename one`);
    execNames.set(exec, name);
    if (!Array.isArray(definition.requests) || definition.requests.length === 0) {
      throw new K6OptionsError(`${where}.requests: empty; a scenario needs at least one request in its mix`);
    }
    scenarios[name] = k6Scenario(definition, exec, where);
  });
  return {
    scenarios,
    thresholds: checkedThresholds(input.thresholds ?? {}),
    setupTimeout: checkedDuration(input.setupTimeout ?? '60s', 'setupTimeout'),
    summaryTrendStats: checkedTrendStats(input.summaryTrendStats ?? DEFAULT_SUMMARY_TREND_STATS),
  };
}

/**
 * The thresholds of `resilience export slo --format k6-thresholds` output (`{ thresholds, skipped }`),
 * as text or parsed. Throws K6OptionsError when the shape is not that export's.
 */
export function thresholdsFromExport(exported: unknown): K6Thresholds {
  let value: unknown = exported;
  if (typeof exported === 'string') {
    try {
      value = JSON.parse(exported);
    } catch (error) {
      throw new K6OptionsError(`k6 thresholds export is not JSON (${(error as Error).message}); produce it with \`resilience export slo --format k6-thresholds\``);
    }
  }
  const thresholds = (value as { thresholds?: unknown } | null)?.thresholds;
  if (typeof thresholds !== 'object' || thresholds === null || Array.isArray(thresholds)) {
    throw new K6OptionsError('k6 thresholds export has no "thresholds" object; produce it with `resilience export slo --format k6-thresholds`');
  }
  return checkedThresholds(thresholds as K6Thresholds);
}

function k6Scenario(definition: ScenarioDefinition<unknown>, exec: string, where: string): K6Scenario {
  const common: K6Scenario = { executor: definition.executor, exec };
  if (definition.startTime !== undefined) common.startTime = checkedDuration(definition.startTime, `${where}.startTime`);
  if (definition.gracefulStop !== undefined) common.gracefulStop = checkedDuration(definition.gracefulStop, `${where}.gracefulStop`);
  if (definition.tags !== undefined && Object.keys(definition.tags).length > 0) common.tags = { ...definition.tags };
  switch (definition.executor) {
    case 'constant-arrival-rate':
      return {
        ...common,
        rate: positive(definition.rate, `${where}.rate`),
        timeUnit: checkedDuration(definition.timeUnit ?? '1s', `${where}.timeUnit`),
        duration: checkedDuration(definition.duration, `${where}.duration`),
        preAllocatedVUs: positiveInteger(definition.preAllocatedVUs, `${where}.preAllocatedVUs`),
        // Written out, not left to k6's default, so the options say what will run.
        maxVUs: maxVUs(definition.preAllocatedVUs, definition.maxVUs, where),
      };
    case 'ramping-arrival-rate':
      return {
        ...common,
        startRate: nonNegative(definition.startRate ?? 0, `${where}.startRate`),
        timeUnit: checkedDuration(definition.timeUnit ?? '1s', `${where}.timeUnit`),
        stages: checkedStages(definition.stages, where),
        preAllocatedVUs: positiveInteger(definition.preAllocatedVUs, `${where}.preAllocatedVUs`),
        maxVUs: maxVUs(definition.preAllocatedVUs, definition.maxVUs, where),
      };
    case 'constant-vus':
      return { ...common, vus: positiveInteger(definition.vus, `${where}.vus`), duration: checkedDuration(definition.duration, `${where}.duration`) };
    case 'ramping-vus': {
      const scenario: K6Scenario = { ...common, startVUs: nonNegativeInteger(definition.startVUs ?? 1, `${where}.startVUs`), stages: checkedStages(definition.stages, where) };
      if (definition.gracefulRampDown !== undefined) scenario.gracefulRampDown = checkedDuration(definition.gracefulRampDown, `${where}.gracefulRampDown`);
      return scenario;
    }
    case 'per-vu-iterations':
    case 'shared-iterations':
      return {
        ...common,
        vus: positiveInteger(definition.vus ?? 1, `${where}.vus`),
        iterations: positiveInteger(definition.iterations ?? 1, `${where}.iterations`),
        maxDuration: checkedDuration(definition.maxDuration ?? '10m', `${where}.maxDuration`),
      };
    default: {
      const executor = (definition as { executor?: unknown }).executor;
      throw new K6OptionsError(
        `${where}.executor: got ${JSON.stringify(executor)}; one of constant-arrival-rate, ramping-arrival-rate, constant-vus, ramping-vus, per-vu-iterations, shared-iterations`,
      );
    }
  }
}

function checkedDuration(value: Duration, field: string): Duration {
  try {
    parseDuration(value);
  } catch (error) {
    throw new K6OptionsError(`${field}: ${(error as Error).message}`);
  }
  return value;
}

function checkedStages(stages: readonly Stage[], where: string): Stage[] {
  // Not Array.isArray: it would widen the list to any[].
  if (stages === undefined || stages === null || stages.length === 0) throw new K6OptionsError(`${where}.stages: empty; give at least one { duration, target }`);
  return stages.map((stage, i) => ({
    duration: checkedDuration(stage.duration, `${where}.stages[${i}].duration`),
    target: nonNegative(stage.target, `${where}.stages[${i}].target`),
  }));
}

function maxVUs(preAllocated: number, max: number | undefined, where: string): number {
  if (max === undefined) return preAllocated;
  const checked = positiveInteger(max, `${where}.maxVUs`);
  if (checked < preAllocated) throw new K6OptionsError(`${where}.maxVUs: ${checked} is below preAllocatedVUs ${preAllocated}; raise maxVUs or lower preAllocatedVUs`);
  return checked;
}

function positive(value: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new K6OptionsError(`${field}: got ${JSON.stringify(value)}; expected a number > 0`);
  return value;
}

function nonNegative(value: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new K6OptionsError(`${field}: got ${JSON.stringify(value)}; expected a number ≥ 0`);
  return value;
}

function positiveInteger(value: number, field: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new K6OptionsError(`${field}: got ${JSON.stringify(value)}; expected an integer > 0`);
  return value;
}

function nonNegativeInteger(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0) throw new K6OptionsError(`${field}: got ${JSON.stringify(value)}; expected an integer ≥ 0`);
  return value;
}

function checkedTrendStats(stats: readonly string[]): string[] {
  for (const stat of stats) {
    if (!TREND_STAT.test(stat)) throw new K6OptionsError(`summaryTrendStats: got ${JSON.stringify(stat)}; k6 takes avg, min, med, max, count or p(N)`);
  }
  return [...stats];
}

function checkedThresholds(thresholds: K6Thresholds): Record<string, K6Threshold[]> {
  const checked: Record<string, K6Threshold[]> = {};
  for (const [metric, list] of Object.entries(thresholds)) {
    const where = `thresholds[${JSON.stringify(metric)}]`;
    if (!THRESHOLD_KEY.test(metric)) throw new K6OptionsError(`${where}: not a k6 metric name with optional {tag:value} sub-metric, e.g. "http_req_duration{scenario:api}"`);
    if (!Array.isArray(list) || list.length === 0) throw new K6OptionsError(`${where}: expected a non-empty list of threshold expressions such as "p(95)<500"`);
    checked[metric] = list.map((threshold: K6Threshold, i) => {
      const expression = typeof threshold === 'string' ? threshold : threshold?.threshold;
      if (typeof expression !== 'string' || expression.trim() === '') {
        throw new K6OptionsError(`${where}[${i}]: expected "p(95)<500" or { threshold, abortOnFail, delayAbortEval }, got ${JSON.stringify(threshold)}`);
      }
      if (typeof threshold !== 'string' && threshold.delayAbortEval !== undefined) checkedDuration(threshold.delayAbortEval, `${where}[${i}].delayAbortEval`);
      return typeof threshold === 'string' ? threshold : { ...threshold };
    });
  }
  return checked;
}
