/**
 * User scenario in, resolved scenario out: every default filled in, every duration in
 * milliseconds, every problem reported at once before anything starts (plan before act).
 */
import { parseDuration } from '../types.ts';
import type { ExpectedStatus, HttpMethod, IterationContext, JsonValue, ScenarioDefinition, SetupContext } from '../types.ts';

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
const RESERVED_LABELS = new Set(['scenario', 'name', 'method', 'status', 'expected_response', 'error_code', 'le', 'job', 'instance']);

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
}

export interface ResolvedScenario {
  name: string;
  executor: 'constant-arrival-rate';
  /** Target arrival rate in iterations per second. */
  ratePerSec: number;
  /** Time between two scheduled iteration starts. */
  intervalMs: number;
  durationMs: number;
  /** Iterations scheduled over the whole duration: starts at 0, intervalMs, … strictly before durationMs. */
  plannedIterations: number;
  preAllocatedVUs: number;
  maxVUs: number;
  gracefulStopMs: number;
  requests: readonly ResolvedRequest[];
  /** Running sums of the weights, for picking a request with one random number. */
  cumulativeWeights: Float64Array;
  totalWeight: number;
  setup: ((ctx: SetupContext) => Promise<unknown>) | undefined;
  tags: Readonly<Record<string, string>>;
}

/**
 * Validates `def` (with `overrides` applied) and returns it resolved. Throws one
 * ScenarioValidationError listing every problem found; never starts anything.
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
  if (def.executor !== 'constant-arrival-rate') {
    problems.push(`executor: ${JSON.stringify(def.executor)} is not supported by the embedded engine (supported: "constant-arrival-rate")`);
  }

  const timeUnitMs = duration('timeUnit', def.timeUnit, DEFAULT_TIME_UNIT);
  if (timeUnitMs === 0) problems.push('timeUnit: must be longer than 0');
  const ratePerSec = overrides.rate ?? (def.rate * 1000) / timeUnitMs;
  if (overrides.rate !== undefined && !(Number.isFinite(overrides.rate) && overrides.rate > 0)) {
    problems.push(`rate override: must be a positive number of iterations per second, got ${String(overrides.rate)}`);
  } else if (overrides.rate === undefined && !(Number.isFinite(def.rate) && def.rate > 0)) {
    problems.push(`rate: must be a positive number of iterations per timeUnit, got ${String(def.rate)}`);
  }

  const durationMs = overrides.durationMs ?? duration('duration', def.duration, '');
  if (overrides.durationMs !== undefined && !(Number.isFinite(overrides.durationMs) && overrides.durationMs > 0)) {
    problems.push(`duration override: must be a positive number of milliseconds, got ${String(overrides.durationMs)}`);
  } else if (durationMs === 0) {
    problems.push('duration: must be longer than 0');
  }
  const gracefulStopMs = duration('gracefulStop', def.gracefulStop, DEFAULT_GRACEFUL_STOP);

  const preAllocatedVUs = def.preAllocatedVUs;
  const maxVUs = def.maxVUs ?? def.preAllocatedVUs;
  if (!(Number.isInteger(preAllocatedVUs) && preAllocatedVUs >= 1)) {
    problems.push(`preAllocatedVUs: must be an integer ≥ 1, got ${String(preAllocatedVUs)}`);
  }
  if (!(Number.isInteger(maxVUs) && maxVUs >= 1)) {
    problems.push(`maxVUs: must be an integer ≥ 1, got ${String(maxVUs)}`);
  } else if (Number.isInteger(preAllocatedVUs) && maxVUs < preAllocatedVUs) {
    problems.push(`maxVUs (${maxVUs}) must be ≥ preAllocatedVUs (${preAllocatedVUs})`);
  }

  const tags: Record<string, string> = {};
  for (const [label, value] of Object.entries(def.tags ?? {})) {
    if (!LABEL_NAME.test(label)) problems.push(`tags.${label}: not a valid Prometheus label name`);
    else if (RESERVED_LABELS.has(label)) problems.push(`tags.${label}: reserved, the engine sets this label itself`);
    else if (typeof value !== 'string') problems.push(`tags.${label}: value must be a string`);
    else tags[label] = value;
  }

  const requests = resolveRequests(def.requests, problems);
  if (problems.length > 0) throw new ScenarioValidationError(name || '(unnamed)', problems);

  const cumulativeWeights = new Float64Array(requests.length);
  let totalWeight = 0;
  requests.forEach((request, i) => {
    totalWeight += request.weight;
    cumulativeWeights[i] = totalWeight;
  });
  const intervalMs = 1000 / ratePerSec;
  return {
    name,
    executor: 'constant-arrival-rate',
    ratePerSec,
    intervalMs,
    durationMs,
    // The small epsilon keeps 3000 ms / 5 ms at exactly 600 despite floating-point division.
    plannedIterations: Math.max(1, Math.ceil(durationMs / intervalMs - 1e-9)),
    preAllocatedVUs,
    maxVUs,
    gracefulStopMs,
    requests,
    cumulativeWeights,
    totalWeight,
    setup: def.setup as ResolvedScenario['setup'],
    tags,
  };
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
    };
  });
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
