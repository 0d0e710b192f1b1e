/**
 * User scenario in, resolved scenario out: every default filled in, every duration in
 * milliseconds, every problem reported at once before anything starts (plan before act).
 */
import { parseDuration } from '../types.ts';
import type { CheckResponse, Checks, ExecutorName, ExpectedStatus, HttpMethod, IterationContext, JsonValue, ScenarioDefinition, SetupContext, Stage } from '../types.ts';

export const DEFAULT_TIME_UNIT = '1s';
export const DEFAULT_GRACEFUL_STOP = '30s';
/** k6's default per-request timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** k6's default `expected_response`: 200–399. */
export const DEFAULT_EXPECTED_STATUSES: readonly ExpectedStatus[] = [{ min: 200, max: 399 }];

/** Statuses above this are never "expected"; the lookup table stops here. */
const MAX_STATUS = 599;
const HTTP_METHODS: ReadonlySet<string> = new Set<HttpMethod>(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Labels the engine sets itself; a scenario tag may not overwrite them. */
const RESERVED_LABELS = new Set(['scenario', 'check', 'result', 'name', 'method', 'status', 'expected_response', 'error_code', 'le', 'job', 'instance']);

export class ScenarioValidationError extends Error {
  constructor(
    readonly scenario: string,
    readonly problems: readonly string[],
  ) {
    super(`scenario ${JSON.stringify(scenario)} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ScenarioValidationError';
  }
}

/** Things a run may change without editing the scenario file. */
export interface ScenarioOverrides {
  /** Target arrival rate in iterations per second (replaces `rate`/`timeUnit`). */
  rate?: number;
  /** Load duration in milliseconds (replaces `duration`, or scales ramping stages to add up to it). */
  durationMs?: number;
}

export interface ResolvedRequest {
  /** Position in the scenario's `requests`. */
  index: number;
  name: string;
  method: HttpMethod;
  weight: number;
  path: string | ((it: IterationContext<unknown>) => string);
  /** A static body already serialised to JSON, a function building one, or undefined. */
  body: string | ((it: IterationContext<unknown>) => JsonValue) | undefined;
  /** Headers as sent, `content-type: application/json` included when there is a body. */
  headers: Readonly<Record<string, string>>;
  expectedStatuses: readonly ExpectedStatus[];
  /** `isExpected[status] === 1` when the status counts as success; index by status 0–599. */
  isExpected: Uint8Array;
  timeoutMs: number;
  /** The request's named checks, in declaration order (empty without `checks`). */
  checks: readonly ResolvedCheck[];
}

/** One named check of a request. */
export interface ResolvedCheck {
  name: string;
  test: (res: CheckResponse) => boolean;
}

/** A ramping stage with its duration in milliseconds (target: iterations per second, or VUs). */
export interface ResolvedStage {
  durationMs: number;
  target: number;
}

/**
 * How a scenario's iterations are scheduled, per executor. `open` models start iterations on a
 * clock whatever the latency; `closed` models start a VU's next iteration when its last one ended.
 */
export type ResolvedSchedule =
  | { model: 'open'; executor: 'constant-arrival-rate'; ratePerSec: number }
  | { model: 'open'; executor: 'ramping-arrival-rate'; startRatePerSec: number; stages: readonly ResolvedStage[] }
  | { model: 'closed'; executor: 'constant-vus'; vus: number }
  | { model: 'closed'; executor: 'ramping-vus'; startVUs: number; stages: readonly ResolvedStage[]; gracefulRampDownMs: number }
  | { model: 'closed'; executor: 'per-vu-iterations'; vus: number; iterations: number }
  | { model: 'closed'; executor: 'shared-iterations'; vus: number; iterations: number };

export interface ResolvedScenario {
  name: string;
  executor: ExecutorName;
  schedule: ResolvedSchedule;
  /**
   * Target arrival rate in iterations per second: the rate of constant-arrival-rate, the peak of
   * ramping-arrival-rate; 0 for the closed-model executors, which have no target rate.
   */
  ratePerSec: number;
  /** Time between two scheduled iteration starts (constant-arrival-rate only; 0 otherwise). */
  intervalMs: number;
  /**
   * How long iterations may be started for: `duration`, the sum of the stages, or `maxDuration`
   * (per-vu-iterations and shared-iterations end earlier once their iterations are done).
   */
  durationMs: number;
  /** Offset from the start of the run (k6's `startTime`). */
  startTimeMs: number;
  /**
   * Iterations the schedule starts if nothing stops it early: arrival-rate executors' integral of
   * the rate (starts strictly before durationMs), vus × iterations, the shared iterations; 0 for
   * constant-vus and ramping-vus, which loop for as long as the duration lasts.
   */
  plannedIterations: number;
  preAllocatedVUs: number;
  /** The most VUs (concurrency slots) the scenario ever uses. */
  maxVUs: number;
  gracefulStopMs: number;
  requests: readonly ResolvedRequest[];
  /** Running sums of the weights, for picking a request with one random number. */
  cumulativeWeights: Float64Array;
  totalWeight: number;
  setup: ((ctx: SetupContext) => Promise<unknown>) | undefined;
  tags: Readonly<Record<string, string>>;
}

/** k6's defaults for the options the executors leave optional. */
export const EXECUTOR_DEFAULTS = {
  startRate: 0,
  startVUs: 1,
  vus: 1,
  iterations: 1,
  maxDuration: '10m',
  gracefulRampDown: '30s',
} as const;

/** What resolving one executor's options produces before the common fields are added. */
interface ResolvedExecutor {
  schedule: ResolvedSchedule;
  ratePerSec: number;
  intervalMs: number;
  durationMs: number;
  plannedIterations: number;
  preAllocatedVUs: number;
  maxVUs: number;
}

/**
 * Validates `def` (with `overrides` applied) and returns it resolved. Throws one
 * ScenarioValidationError listing every problem found; never starts anything.
 *
 * Overrides apply to the arrival-rate executors only: for constant-arrival-rate they replace the
 * rate and the duration; for ramping-arrival-rate `rate` scales startRate and every stage target so
 * the peak equals it, and `durationMs` scales every stage's duration so they add up to it. Any
 * override on another executor is reported as a problem (they have no rate to change).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- accepts any scenario's setup-data type; the engine never looks inside it
export function resolveScenario(def: ScenarioDefinition<any>, overrides: ScenarioOverrides = {}): ResolvedScenario {
  const problems: string[] = [];
  const duration = (field: string, text: string | undefined, fallback: string): number => {
    try {
      return parseDuration(text ?? fallback);
    } catch (error) {
      problems.push(`${field}: ${(error as Error).message}`);
      return Number.NaN;
    }
  };
  const name = typeof def.name === 'string' ? def.name : '';
  if (name.trim() === '') problems.push('name: must be a non-empty string');
  if (overrides.rate !== undefined && !(Number.isFinite(overrides.rate) && overrides.rate > 0)) {
    problems.push(`rate override: must be a positive number of iterations per second, got ${String(overrides.rate)}`);
  }
  if (overrides.durationMs !== undefined && !(Number.isFinite(overrides.durationMs) && overrides.durationMs > 0)) {
    problems.push(`duration override: must be a positive number of milliseconds, got ${String(overrides.durationMs)}`);
  }

  const executor = resolveExecutor(def, overrides, duration, problems);
  const gracefulStopMs = duration('gracefulStop', def.gracefulStop, DEFAULT_GRACEFUL_STOP);
  const startTimeMs = duration('startTime', def.startTime, '0s');

  const tags: Record<string, string> = {};
  for (const [label, value] of Object.entries(def.tags ?? {})) {
    if (!LABEL_NAME.test(label)) problems.push(`tags.${label}: not a valid Prometheus label name`);
    else if (RESERVED_LABELS.has(label)) problems.push(`tags.${label}: reserved, the engine sets this label itself`);
    else if (typeof value !== 'string') problems.push(`tags.${label}: value must be a string`);
    else tags[label] = value;
  }

  const requests = resolveRequests(def.requests, problems);
  if (problems.length > 0 || executor === undefined) throw new ScenarioValidationError(name || '(unnamed)', problems);

  const cumulativeWeights = new Float64Array(requests.length);
  let totalWeight = 0;
  requests.forEach((request, i) => {
    totalWeight += request.weight;
    cumulativeWeights[i] = totalWeight;
  });
  return {
    name,
    executor: executor.schedule.executor,
    ...executor,
    startTimeMs,
    gracefulStopMs,
    requests,
    cumulativeWeights,
    totalWeight,
    setup: def.setup as ResolvedScenario['setup'],
    tags,
  };
}

type DurationReader = (field: string, text: string | undefined, fallback: string) => number;

/** The executor's options resolved, or undefined after pushing its problems. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see resolveScenario
function resolveExecutor(def: ScenarioDefinition<any>, overrides: ScenarioOverrides, duration: DurationReader, problems: string[]): ResolvedExecutor | undefined {
  const before = problems.length;
  const positiveInteger = (field: string, value: unknown): number => {
    if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1)) problems.push(`${field}: must be an integer ≥ 1, got ${String(value)}`);
    return value as number;
  };
  const noOverrides = (): void => {
    if (overrides.rate !== undefined || overrides.durationMs !== undefined) {
      problems.push(`overrides (--rate/--duration): only the arrival-rate executors can be overridden, scenario ${JSON.stringify(def.name)} uses ${def.executor}; edit the scenario file instead`);
    }
  };
  switch (def.executor) {
    case 'constant-arrival-rate': {
      const timeUnitMs = duration('timeUnit', def.timeUnit, DEFAULT_TIME_UNIT);
      if (timeUnitMs === 0) problems.push('timeUnit: must be longer than 0');
      if (overrides.rate === undefined && !(Number.isFinite(def.rate) && def.rate > 0)) {
        problems.push(`rate: must be a positive number of iterations per timeUnit, got ${String(def.rate)}`);
      }
      const ratePerSec = overrides.rate ?? (def.rate * 1000) / timeUnitMs;
      const durationMs = overrides.durationMs ?? duration('duration', def.duration, '');
      if (durationMs === 0) problems.push('duration: must be longer than 0');
      const vus = arrivalVus(def.preAllocatedVUs, def.maxVUs, problems);
      if (problems.length > before) return undefined;
      const intervalMs = 1000 / ratePerSec;
      return {
        schedule: { model: 'open', executor: 'constant-arrival-rate', ratePerSec },
        ratePerSec,
        intervalMs,
        durationMs,
        // The small epsilon keeps 3000 ms / 5 ms at exactly 600 despite floating-point division.
        plannedIterations: Math.max(1, Math.ceil(durationMs / intervalMs - 1e-9)),
        ...vus,
      };
    }
    case 'ramping-arrival-rate': {
      const timeUnitMs = duration('timeUnit', def.timeUnit, DEFAULT_TIME_UNIT);
      if (timeUnitMs === 0) problems.push('timeUnit: must be longer than 0');
      const startRate = def.startRate ?? EXECUTOR_DEFAULTS.startRate;
      if (!(Number.isFinite(startRate) && startRate >= 0)) problems.push(`startRate: must be a number ≥ 0, got ${String(startRate)}`);
      let stages = resolveStages(def.stages, 'iterations per timeUnit', duration, problems);
      const vus = arrivalVus(def.preAllocatedVUs, def.maxVUs, problems);
      if (problems.length > before) return undefined;
      let startRatePerSec = (startRate * 1000) / timeUnitMs;
      stages = stages.map((stage) => ({ durationMs: stage.durationMs, target: (stage.target * 1000) / timeUnitMs }));
      let peak = Math.max(startRatePerSec, ...stages.map((s) => s.target));
      if (peak === 0) {
        problems.push('stages: every target and startRate are 0, so no iteration would ever start; raise a target');
        return undefined;
      }
      if (overrides.rate !== undefined) {
        const factor = overrides.rate / peak;
        startRatePerSec *= factor;
        stages = stages.map((s) => ({ durationMs: s.durationMs, target: s.target * factor }));
        peak = overrides.rate;
      }
      let total = stages.reduce((sum, s) => sum + s.durationMs, 0);
      if (overrides.durationMs !== undefined) {
        const factor = overrides.durationMs / total;
        stages = stages.map((s) => ({ durationMs: s.durationMs * factor, target: s.target }));
        total = overrides.durationMs;
      }
      const integral = stages.reduce((acc, s) => ({ rate: s.target, n: acc.n + ((acc.rate + s.target) / 2) * (s.durationMs / 1000) }), { rate: startRatePerSec, n: 0 }).n;
      return {
        schedule: { model: 'open', executor: 'ramping-arrival-rate', startRatePerSec, stages },
        ratePerSec: peak,
        intervalMs: 0,
        durationMs: total,
        plannedIterations: Math.ceil(integral - 1e-9),
        ...vus,
      };
    }
    case 'constant-vus': {
      noOverrides();
      const vus = positiveInteger('vus', def.vus);
      const durationMs = duration('duration', def.duration, '');
      if (durationMs === 0) problems.push('duration: must be longer than 0');
      if (problems.length > before) return undefined;
      return { schedule: { model: 'closed', executor: 'constant-vus', vus }, ratePerSec: 0, intervalMs: 0, durationMs, plannedIterations: 0, preAllocatedVUs: vus, maxVUs: vus };
    }
    case 'ramping-vus': {
      noOverrides();
      const startVUs = def.startVUs ?? EXECUTOR_DEFAULTS.startVUs;
      if (!(Number.isInteger(startVUs) && startVUs >= 0)) problems.push(`startVUs: must be an integer ≥ 0, got ${String(startVUs)}`);
      const stages = resolveStages(def.stages, 'VUs', duration, problems);
      for (const [i, stage] of stages.entries()) if (!Number.isInteger(stage.target)) problems.push(`stages[${i}].target: must be a whole number of VUs, got ${stage.target}`);
      const gracefulRampDownMs = duration('gracefulRampDown', def.gracefulRampDown, EXECUTOR_DEFAULTS.gracefulRampDown);
      if (problems.length > before) return undefined;
      const maxVUs = Math.max(startVUs, ...stages.map((s) => s.target));
      if (maxVUs === 0) {
        problems.push('stages: startVUs and every target are 0, so no VU would ever run; raise a target');
        return undefined;
      }
      return {
        schedule: { model: 'closed', executor: 'ramping-vus', startVUs, stages, gracefulRampDownMs },
        ratePerSec: 0,
        intervalMs: 0,
        durationMs: stages.reduce((sum, s) => sum + s.durationMs, 0),
        plannedIterations: 0,
        preAllocatedVUs: maxVUs,
        maxVUs,
      };
    }
    case 'per-vu-iterations':
    case 'shared-iterations': {
      noOverrides();
      const vus = positiveInteger('vus', def.vus ?? EXECUTOR_DEFAULTS.vus);
      const iterations = positiveInteger('iterations', def.iterations ?? EXECUTOR_DEFAULTS.iterations);
      const durationMs = duration('maxDuration', def.maxDuration, EXECUTOR_DEFAULTS.maxDuration);
      if (durationMs === 0) problems.push('maxDuration: must be longer than 0');
      if (def.executor === 'shared-iterations' && problems.length === before && iterations < vus) {
        problems.push(`iterations (${iterations}) must be ≥ vus (${vus}) for shared-iterations, as k6 requires; lower vus or raise iterations`);
      }
      if (problems.length > before) return undefined;
      const perVu = def.executor === 'per-vu-iterations';
      return {
        schedule: { model: 'closed', executor: def.executor, vus, iterations },
        ratePerSec: 0,
        intervalMs: 0,
        durationMs,
        plannedIterations: perVu ? vus * iterations : iterations,
        preAllocatedVUs: vus,
        maxVUs: vus,
      };
    }
    default: {
      const unknown: unknown = (def as { executor: unknown }).executor;
      problems.push(`executor: ${JSON.stringify(unknown)} is not one of ${EXECUTOR_NAMES.map((n) => JSON.stringify(n)).join(', ')}`);
      return undefined;
    }
  }
}

const EXECUTOR_NAMES: readonly ExecutorName[] = ['constant-arrival-rate', 'ramping-arrival-rate', 'constant-vus', 'ramping-vus', 'per-vu-iterations', 'shared-iterations'];

function arrivalVus(preAllocatedVUs: number, maxVUsOption: number | undefined, problems: string[]): { preAllocatedVUs: number; maxVUs: number } {
  const maxVUs = maxVUsOption ?? preAllocatedVUs;
  if (!(Number.isInteger(preAllocatedVUs) && preAllocatedVUs >= 1)) {
    problems.push(`preAllocatedVUs: must be an integer ≥ 1, got ${String(preAllocatedVUs)}`);
  }
  if (!(Number.isInteger(maxVUs) && maxVUs >= 1)) {
    problems.push(`maxVUs: must be an integer ≥ 1, got ${String(maxVUs)}`);
  } else if (Number.isInteger(preAllocatedVUs) && maxVUs < preAllocatedVUs) {
    problems.push(`maxVUs (${maxVUs}) must be ≥ preAllocatedVUs (${preAllocatedVUs})`);
  }
  return { preAllocatedVUs, maxVUs };
}

function resolveStages(stages: readonly Stage[] | undefined, unit: string, duration: DurationReader, problems: string[]): ResolvedStage[] {
  if (stages === undefined || stages === null || typeof stages.length !== 'number' || stages.length === 0) {
    problems.push('stages: must list at least one stage, e.g. [{ duration: "30s", target: 10 }]');
    return [];
  }
  const resolved = stages.map((stage, i) => {
    const target = stage.target;
    if (!(typeof target === 'number' && Number.isFinite(target) && target >= 0)) problems.push(`stages[${i}].target: must be a number of ${unit} ≥ 0, got ${String(target)}`);
    return { durationMs: duration(`stages[${i}].duration`, stage.duration, ''), target };
  });
  if (resolved.every((s) => s.durationMs === 0)) problems.push('stages: the stages last 0 s in total; give at least one a duration');
  return resolved;
}

function resolveRequests(specs: ScenarioDefinition<unknown>['requests'] | undefined, problems: string[]): ResolvedRequest[] {
  // Not Array.isArray: it narrows readonly arrays to any[].
  if (specs === undefined || specs === null || typeof specs.length !== 'number' || specs.length === 0) {
    problems.push('requests: must list at least one request');
    return [];
  }
  const seen = new Set<string>();
  return specs.map((spec, index): ResolvedRequest => {
    const where = `requests[${index}] (${JSON.stringify(spec.name)})`;
    if (typeof spec.name !== 'string' || spec.name.trim() === '') problems.push(`requests[${index}].name: must be a non-empty string`);
    else if (seen.has(`${spec.method} ${spec.name}`)) problems.push(`${where}: a request with this name and method is already listed`);
    seen.add(`${spec.method} ${spec.name}`);
    if (!HTTP_METHODS.has(spec.method)) problems.push(`${where}.method: ${JSON.stringify(spec.method)} is not one of ${[...HTTP_METHODS].join(', ')}`);
    if (!(Number.isFinite(spec.weight) && spec.weight > 0)) problems.push(`${where}.weight: must be a positive number, got ${String(spec.weight)}`);
    if (typeof spec.path === 'string' && !spec.path.startsWith('/')) problems.push(`${where}.path: must start with "/", got ${JSON.stringify(spec.path)}`);
    const timeoutMs = spec.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) problems.push(`${where}.timeoutMs: must be a positive number, got ${String(timeoutMs)}`);
    const expectedStatuses = spec.expectedStatuses ?? DEFAULT_EXPECTED_STATUSES;
    const isExpected = expectedTable(expectedStatuses, `${where}.expectedStatuses`, problems);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries<unknown>(spec.headers ?? {})) {
      if (typeof value === 'string') headers[key.toLowerCase()] = value;
      else problems.push(`${where}.headers.${key}: value must be a string`);
    }
    let body: ResolvedRequest['body'];
    if (typeof spec.body === 'function') body = spec.body;
    else if (spec.body !== undefined) body = JSON.stringify(spec.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    return {
      index,
      name: spec.name,
      method: spec.method,
      weight: spec.weight,
      path: spec.path,
      body,
      headers,
      expectedStatuses,
      isExpected,
      timeoutMs,
      checks: resolveChecks(spec.checks, where, problems),
    };
  });
}

function resolveChecks(checks: Checks | undefined, where: string, problems: string[]): ResolvedCheck[] {
  if (checks === undefined) return [];
  if (checks === null || typeof checks !== 'object') {
    problems.push(`${where}.checks: must be an object of named functions, e.g. { 'status is 200': (r) => r.status === 200 }`);
    return [];
  }
  const resolved: ResolvedCheck[] = [];
  for (const [name, test] of Object.entries<unknown>(checks)) {
    if (typeof test !== 'function') problems.push(`${where}.checks[${JSON.stringify(name)}]: must be a function of the response returning a boolean`);
    else if (name.trim() === '') problems.push(`${where}.checks: a check name must not be empty`);
    else resolved.push({ name, test: test as ResolvedCheck['test'] });
  }
  return resolved;
}

/** A lookup table so the hot path checks "expected?" with one array read. */
function expectedTable(statuses: readonly ExpectedStatus[], where: string, problems: string[]): Uint8Array {
  const table = new Uint8Array(MAX_STATUS + 1);
  for (const entry of statuses) {
    const [min, max] = typeof entry === 'number' ? [entry, entry] : [entry.min, entry.max];
    if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 100 && max <= MAX_STATUS && min <= max)) {
      problems.push(`${where}: ${JSON.stringify(entry)} is not a status or a {min, max} range within 100–${MAX_STATUS}`);
      continue;
    }
    table.fill(1, min, max + 1);
  }
  return table;
}
