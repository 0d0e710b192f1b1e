/**
 * The k6 side of a scenario: code that runs INSIDE k6 (bundled by `bundle.ts`), so it uses only
 * k6's modules and plain JavaScript, no Node API.
 *
 * `createK6Script` turns scenario definitions into what a k6 script exports: `options` (from
 * `buildK6Options`), `setup()` (each scenario's async setup, given a SetupHttp built on
 * `http.asyncRequest`; async `setup` needs k6 ≥ 0.57 — older k6 would not await it) and one exec
 * function per scenario. Each iteration picks one request by weight, builds path, body and headers
 * from an IterationContext, sends it with `http.request` — `name` tag, timeout and
 * `http.expectedStatuses(...)` as responseCallback, so `expected_response` and the `name` label
 * mean what they mean in the embedded engine — and runs the request's checks with k6's `check`.
 */
import http from 'k6/http';
import type { Params, RefinedResponse } from 'k6/http';
import { check } from 'k6';
import execution from 'k6/execution';
import type {
  CheckResponse,
  ExpectedStatus,
  HttpMethod,
  IterationContext,
  JsonValue,
  RequestSpec,
  ScenarioDefinition,
  SetupContext,
  SetupHttp,
  SetupRequestOptions,
  SetupResponse,
} from '../types.ts';
import { buildK6Options, execFunctionName } from './k6-options.ts';
import type { K6Options, K6OptionsInput } from './k6-options.ts';

/** What `setup()` returns: each scenario's setup data under the scenario's name. */
export type K6SetupData = Record<string, unknown>;

/** The parts of a k6 script; the bundle's entry re-exports them by name. */
export interface K6Script {
  options: K6Options;
  setup(): Promise<K6SetupData>;
  /** Exec function per `execFunctionName(scenario.name)`. */
  exec: Record<string, (data: K6SetupData) => void>;
}

export interface K6RuntimeConfig extends K6OptionsInput {
  /** Where the load goes, e.g. `http://127.0.0.1:8080` (the bundle passes `__ENV.BASE_URL`). */
  baseUrl: string;
}

/** The default of the model (RequestSpec.timeoutMs) and of k6. */
const DEFAULT_TIMEOUT_MS = 60_000;
/** The model's default success range, also k6's default `expected_response`. */
const DEFAULT_EXPECTED: readonly ExpectedStatus[] = [{ min: 200, max: 399 }];

/** A request spec with everything per-request that does not change between iterations precomputed. */
interface PreparedRequest {
  spec: RequestSpec<unknown>;
  params: Params;
  checks: Record<string, (res: RefinedResponse) => boolean> | undefined;
}

/**
 * The k6 script for `definitions`. Throws (at k6's init time, so `k6 run` fails before any load)
 * when the options are invalid or `config.baseUrl` is not an http(s) URL.
 */
export function createK6Script(definitions: readonly ScenarioDefinition<unknown>[], config: K6RuntimeConfig): K6Script {
  const baseUrl = checkedBaseUrl(config.baseUrl);
  const options = buildK6Options(definitions, config);
  const exec: Record<string, (data: K6SetupData) => void> = {};
  for (const definition of definitions) exec[execFunctionName(definition.name)] = scenarioExec(definition, baseUrl);
  return {
    options,
    async setup() {
      const data: K6SetupData = {};
      for (const definition of definitions) {
        if (definition.setup === undefined) continue;
        const context: SetupContext = { baseUrl, http: k6SetupHttp(baseUrl), signal: neverAbortedSignal() };
        try {
          data[definition.name] = await definition.setup(context);
        } catch (error) {
          // k6 reports a setup exception with exit code 107; say which scenario's setup threw.
          throw new Error(`setup of scenario "${definition.name}" failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return data;
    },
    exec,
  };
}

function checkedBaseUrl(baseUrl: string): string {
  if (typeof baseUrl !== 'string' || !/^https?:\/\/[^/\s]+/.test(baseUrl)) {
    throw new Error(`baseUrl: got ${JSON.stringify(baseUrl)}; pass the target as an http(s) URL, e.g. k6 run -e BASE_URL=http://127.0.0.1:8080`);
  }
  return baseUrl.replace(/\/+$/, '');
}

function scenarioExec(definition: ScenarioDefinition<unknown>, baseUrl: string): (data: K6SetupData) => void {
  const prepared = definition.requests.map((spec) => prepareRequest(spec, definition.name));
  // Cumulative weights, so a pick is one random number and a short scan.
  const cumulative: number[] = [];
  let total = 0;
  for (const [index, spec] of definition.requests.entries()) {
    if (typeof spec.weight !== 'number' || !(spec.weight > 0) || !Number.isFinite(spec.weight)) {
      throw new Error(`scenario "${definition.name}" requests[${index}].weight: got ${JSON.stringify(spec.weight)}; expected a number > 0`);
    }
    total += spec.weight;
    cumulative.push(total);
  }
  return (data) => {
    const roll = Math.random() * total;
    let chosen = prepared.length - 1;
    for (let i = 0; i < cumulative.length; i++) {
      if (roll < (cumulative[i] ?? Infinity)) {
        chosen = i;
        break;
      }
    }
    const request = prepared[chosen];
    if (request === undefined) return;
    sendOne(request, iterationContext(data?.[definition.name]), baseUrl);
  };
}

function prepareRequest(spec: RequestSpec<unknown>, scenario: string): PreparedRequest {
  const expected = spec.expectedStatuses ?? DEFAULT_EXPECTED;
  const params: Params = {
    tags: { name: spec.name },
    timeout: `${spec.timeoutMs ?? DEFAULT_TIMEOUT_MS}ms`,
    // Built once per spec: k6 evaluates the callback natively for every response.
    responseCallback: http.expectedStatuses(...expected.map((status) => (typeof status === 'number' ? status : { min: status.min, max: status.max }))),
  };
  if (spec.checks !== undefined && Object.keys(spec.checks).length === 0) {
    throw new Error(`scenario "${scenario}" request "${spec.name}".checks: empty; remove it or add a named check`);
  }
  const checks =
    spec.checks === undefined
      ? undefined
      : Object.fromEntries(Object.entries(spec.checks).map(([name, predicate]) => [name, (res: RefinedResponse) => predicate(checkResponse(res))]));
  return { spec, params, checks };
}

function iterationContext(data: unknown): IterationContext<unknown> {
  return {
    iteration: execution.scenario.iterationInTest,
    vu: execution.vu.idInTest,
    iterationInVU: execution.vu.iterationInScenario,
    data,
    random: Math.random,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error('pick: the list is empty; pass at least one item');
      return items[Math.floor(Math.random() * items.length)] as T;
    },
  };
}

function sendOne(request: PreparedRequest, context: IterationContext<unknown>, baseUrl: string): void {
  const { spec } = request;
  const path = typeof spec.path === 'function' ? spec.path(context) : spec.path;
  let body: string | null = null;
  const headers: Record<string, string> = {};
  if (spec.body !== undefined) {
    const value: JsonValue = typeof spec.body === 'function' ? spec.body(context) : spec.body;
    body = JSON.stringify(value);
    headers['content-type'] = 'application/json';
  }
  Object.assign(headers, spec.headers);
  const res = http.request(spec.method, `${baseUrl}${path}`, body, { ...request.params, headers });
  if (request.checks !== undefined) check(res, request.checks, { name: spec.name });
}

/** A k6 response as the model's CheckResponse: lower-case header names, '' for no body, json() parsed once. */
function checkResponse(res: RefinedResponse): CheckResponse {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(res.headers ?? {})) headers[key.toLowerCase()] = value;
  const body = typeof res.body === 'string' ? res.body : '';
  let parsed: { value: unknown } | undefined;
  return {
    status: res.status,
    headers,
    body,
    json() {
      if (parsed === undefined) {
        try {
          parsed = { value: JSON.parse(body) as unknown };
        } catch {
          parsed = { value: undefined };
        }
      }
      return parsed.value;
    },
  };
}

function statusExpected(status: number, expected: readonly ExpectedStatus[]): boolean {
  return expected.some((e) => (typeof e === 'number' ? status === e : status >= e.min && status <= e.max));
}

/** SetupHttp on k6's `http.asyncRequest`: rejects on network errors and unexpected statuses. */
function k6SetupHttp(baseUrl: string): SetupHttp {
  const request = async (method: HttpMethod, path: string, options: SetupRequestOptions = {}): Promise<SetupResponse> => {
    const headers: Record<string, string> = {};
    let body: string | null = null;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, options.headers);
    const res = await http.asyncRequest(method, `${baseUrl}${path}`, body, { headers, tags: { name: `setup ${method} ${path}` } });
    if (res.error) throw new Error(`setup ${method} ${path}: ${res.error} (k6 error code ${res.error_code})`);
    const text = typeof res.body === 'string' ? res.body : '';
    if (!statusExpected(res.status, options.expectedStatuses ?? DEFAULT_EXPECTED)) {
      throw new Error(`setup ${method} ${path}: unexpected status ${res.status}: ${text.slice(0, 200)}`);
    }
    const response = checkResponse(res);
    const isJson = /json/i.test(String(response.headers['content-type'] ?? ''));
    return { status: res.status, headers: response.headers, body: isJson ? response.json() : text };
  };
  return {
    request,
    get: (path, options) => request('GET', path, options),
    post: (path, body, options) => request('POST', path, { ...options, body }),
  };
}

/** k6 has no run-wide abort signal to give setup: k6 itself stops setup on interruption and on setupTimeout. */
function neverAbortedSignal(): AbortSignal {
  if (typeof AbortController === 'function') return new AbortController().signal;
  const inert: Pick<AbortSignal, 'aborted' | 'throwIfAborted' | 'addEventListener' | 'removeEventListener'> = {
    aborted: false,
    throwIfAborted() {},
    addEventListener() {},
    removeEventListener() {},
  };
  return inert as AbortSignal;
}
