/**
 * The scenario model: what a load scenario file in `scenarios/` exports.
 *
 * Names and semantics follow k6 (executor, rate, timeUnit, duration, preAllocatedVUs, maxVUs,
 * gracefulStop, the `name` tag, expected_response) so the same definition can be run by real k6 or
 * by the embedded engine, and so one SLO query works with both. A definition is plain data plus a
 * few functions; `resolveScenario` (scenarios/engine) validates it and fills in the defaults.
 */

/** A k6-style duration: `"500ms"`, `"20s"`, `"1m30s"`, `"2h"`. See {@link parseDuration}. */
export type Duration = string;

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** One status, or an inclusive range, as in k6's `http.expectedStatuses(200, { min: 300, max: 399 })`. */
export type ExpectedStatus = number | { readonly min: number; readonly max: number };

/**
 * What a request's `path` and `body` functions receive. The object is only valid during the call
 * (the engine reuses it between iterations): copy what you need, do not keep a reference.
 */
export interface IterationContext<SetupData> {
  /** The iteration's index in the test, 0-based, in schedule order (k6's `iterationInTest`). */
  iteration: number;
  /** The VU (concurrency slot) running the iteration, 1-based (k6's `__VU`). */
  vu: number;
  /** The iteration's index within its VU, 0-based (k6's `__ITER`); per-VU counters build on it. */
  iterationInVU: number;
  /** What the scenario's `setup` returned (`undefined` without a setup). */
  data: SetupData;
  /** A uniform random number in [0, 1). */
  random(): number;
  /** A uniformly random element of `items`; throws on an empty list. */
  pick<T>(items: readonly T[]): T;
}

/** One kind of request in a scenario's weighted mix. */
export interface RequestSpec<SetupData = undefined> {
  /** k6's `name` tag, the URL template that groups requests: `"GET /api/contacts/:id"`. */
  name: string;
  /** Relative weight in the mix: a spec with weight 4 is picked twice as often as one with 2. */
  weight: number;
  method: HttpMethod;
  /** Path (with query) appended to the base URL, or a function of the iteration building it. */
  path: string | ((it: IterationContext<SetupData>) => string);
  /** A JSON body (sent with `content-type: application/json`), or a function building it. */
  body?: JsonValue | ((it: IterationContext<SetupData>) => JsonValue);
  headers?: Readonly<Record<string, string>>;
  /** Statuses that count as success (k6's `expected_response`). Default: 200–399. */
  expectedStatuses?: readonly ExpectedStatus[];
  /** Per-request timeout from the moment the request is sent. Default 60 000 ms, like k6. */
  timeoutMs?: number;
  /** Checks on the response, counted in k6's `checks` metric (tag `check`); a failed check is not an error. */
  checks?: Checks;
}

/** A response seen by a scenario's `setup`. */
export interface SetupResponse {
  status: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body when the response is JSON, else the body text ('' when empty). */
  body: unknown;
}

export interface SetupRequestOptions {
  body?: JsonValue;
  headers?: Readonly<Record<string, string>>;
  /** Statuses that resolve; any other rejects with the status and body in the message. Default 200–399. */
  expectedStatuses?: readonly ExpectedStatus[];
}

/**
 * The small HTTP helper a `setup` gets. Paths are relative to the run's base URL. Every call rejects
 * on network errors and on unexpected statuses, so a broken setup fails the run before any load.
 */
export interface SetupHttp {
  request(method: HttpMethod, path: string, options?: SetupRequestOptions): Promise<SetupResponse>;
  get(path: string, options?: Omit<SetupRequestOptions, 'body'>): Promise<SetupResponse>;
  post(path: string, body: JsonValue, options?: Omit<SetupRequestOptions, 'body'>): Promise<SetupResponse>;
}

export interface SetupContext {
  /** The base URL the load goes to, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  http: SetupHttp;
  /** Aborts when the run is interrupted; the helper's requests already honour it. */
  signal: AbortSignal;
}

/** One step of a ramping executor: move linearly to `target` over `duration` (k6's `stages`). */
export interface Stage {
  duration: Duration;
  /** Iterations per `timeUnit` (ramping-arrival-rate) or VUs (ramping-vus) at the end of the stage. */
  target: number;
}

/**
 * How iterations are scheduled: k6's executors with k6's option names and defaults. The arrival-rate
 * executors are open models (iterations start on schedule whatever the latency); the VU and
 * iteration executors are closed models (a VU starts its next iteration when the last one ended).
 */
export type ExecutorOptions =
  | {
      executor: 'constant-arrival-rate';
      /** Iterations started per `timeUnit`, whatever the system's latency. */
      rate: number;
      /** Default `"1s"`. */
      timeUnit?: Duration;
      /** How long iterations are started for: `"20s"`, `"1m"`. */
      duration: Duration;
      /** VUs (concurrency slots) ready at the start. */
      preAllocatedVUs: number;
      /** The most iterations in flight at once; an iteration due when all are busy is dropped. Default `preAllocatedVUs`. */
      maxVUs?: number;
    }
  | {
      executor: 'ramping-arrival-rate';
      /** Iterations per `timeUnit` at the start. Default 0. */
      startRate?: number;
      timeUnit?: Duration;
      stages: readonly Stage[];
      preAllocatedVUs: number;
      maxVUs?: number;
    }
  | {
      executor: 'constant-vus';
      vus: number;
      duration: Duration;
    }
  | {
      executor: 'ramping-vus';
      /** Default 1. */
      startVUs?: number;
      stages: readonly Stage[];
      /** How long a VU removed by a down-ramp may finish its iteration. Default `"30s"`. */
      gracefulRampDown?: Duration;
    }
  | {
      executor: 'per-vu-iterations';
      /** Default 1. */
      vus?: number;
      /** Iterations each VU runs. Default 1. */
      iterations?: number;
      /** Default `"10m"`. */
      maxDuration?: Duration;
    }
  | {
      executor: 'shared-iterations';
      /** Default 1. */
      vus?: number;
      /** Iterations shared by all VUs. Default 1. */
      iterations?: number;
      /** Default `"10m"`. */
      maxDuration?: Duration;
    };

export type ExecutorName = ExecutorOptions['executor'];

/** A response as a request's `checks` see it. */
export interface CheckResponse {
  status: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as text ('' when empty or when the request failed before a response). */
  body: string;
  /** The body parsed as JSON; `undefined` when it is not JSON. Parsed at most once, on first use. */
  json(): unknown;
}

/** Named checks on a response (k6's `check(res, { 'status is 200': (r) => r.status === 200 })`). */
export type Checks = Readonly<Record<string, (res: CheckResponse) => boolean>>;

/** What every scenario has, whatever its executor. */
export interface ScenarioCommon<SetupData> {
  /** Used as the `scenario` label on every metric. Kebab-case: `"api"`. */
  name: string;
  /** Offset from the start of the run before this scenario starts (k6's `startTime`). Default `"0s"`. */
  startTime?: Duration;
  /** How long in-flight iterations may finish after the end (or an abort). Default `"30s"`. */
  gracefulStop?: Duration;
  /** The weighted mix: each iteration sends one request, picked by weight. */
  requests: readonly RequestSpec<SetupData>[];
  /** Runs once before the load (e.g. creates contacts); what it returns reaches every iteration as `data`. */
  setup?: (ctx: SetupContext) => Promise<SetupData>;
  /** Extra labels on this scenario's HTTP metrics (k6's test-wide tags). */
  tags?: Readonly<Record<string, string>>;
}

/** A scenario: common fields plus one executor's options. */
export type ScenarioDefinition<SetupData = undefined> = ScenarioCommon<SetupData> & ExecutorOptions;

/** Identity function that gives a scenario file type checking, like Playwright's `defineConfig`. */
export function defineScenario<SetupData = undefined>(def: ScenarioDefinition<SetupData>): ScenarioDefinition<SetupData> {
  return def;
}

const DURATION_FORM = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds in a k6-style duration: one or more `<number><unit>` parts with units ms, s, m, h
 * (`"500ms"`, `"20s"`, `"1m30s"`, `"1.5h"`), or `"0"`. Throws an Error naming the bad input and the
 * expected form for anything else (empty, negative, unitless, unknown unit, trailing text).
 */
export function parseDuration(text: string): number {
  const input = typeof text === 'string' ? text.trim() : '';
  if (input === '0') return 0;
  if (!DURATION_FORM.test(input)) {
    throw new Error(`invalid duration ${JSON.stringify(text)}: expected numbers with units (ms, s, m, h), e.g. "500ms", "20s", "1m30s"`);
  }
  let total = 0;
  for (const [, amount, unit] of input.matchAll(DURATION_PART)) {
    total += Number(amount) * (UNIT_MS[unit ?? ''] ?? Number.NaN);
  }
  return total;
}
