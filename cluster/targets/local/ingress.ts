/**
 * The local target's ingress: the stand-in for hasteCRM's Istio VirtualService (seed section 2a:
 * `timeout: 30s`, `retries: { attempts: 3, perTryTimeout: 10s }`) in front of the API replicas.
 *
 * An HTTP/1.1 reverse proxy over undici (one keep-alive Pool per upstream) with round robin,
 * Envoy-style passive health (outlier ejection), Envoy-style retries and timeouts, request bodies
 * buffered for replay, and Prometheus metrics in its own registry. `ingress-main.ts` runs it as a
 * process of its own, so load generator, ingress and replicas never share an event loop.
 *
 * Reserved paths (everything under `/-/` is the ingress's own, never proxied; hasteCRM's API
 * lives under `/api`):
 * - `GET /-/ready`      200 while the ingress listens (independent of upstreams), 503 while closing.
 * - `GET /-/metrics`    Prometheus text format (scrape job `ingress`).
 * - `GET /-/upstreams`  the upstream list with ejection state, as JSON.
 * - `PUT /-/upstreams`  replace the upstream list: a JSON array of "127.0.0.1:port" strings.
 *                       Accepted from loopback clients only.
 *
 * Every proxied response, and every error the ingress answers itself, carries
 * `x-ingress-attempts: <tries made>` (0 when no upstream was tried).
 */
import http from 'node:http';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sleep } from '../../../scripts/util/wait.ts';

// ---------------------------------------------------------------------------------------------
// Retry policy
// ---------------------------------------------------------------------------------------------

/**
 * Istio's `HTTPRetry.attempts` counts retries, not tries. The Istio API reference says "Number of
 * retries to be allowed for a given request", and Istio's `ConvertPolicy` (pilot
 * networking/core/route/retry) copies it into Envoy's `num_retries`, which excludes the
 * initial request. So the seed's `attempts: 3` allows 1 + 3 = 4 tries, each bounded by
 * `perTryTimeout`, all bounded by the route `timeout`; `attempts: 0` turns retries off (Istio
 * then sets no retry policy). We follow that: `attempts` here is the number of retries.
 * Retries go to a host not tried yet when one is available (Istio always sets Envoy's
 * `previous_hosts` retry predicate) and wait Envoy's jittered back-off first (25 ms base).
 */
export const ISTIO_ATTEMPTS_SEMANTICS = 'retries after the first try (Envoy num_retries)';

/**
 * What Istio configures when a VirtualService sets `retries` without `retryOn`
 * (`connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes` with
 * `retriable_status_codes: [503]`), written in Istio's own `retryOn` syntax where a number is a
 * retriable status code.
 *
 * Taken literally by Envoy for HTTP/1.1 upstreams this does NOT retry a connection that is closed
 * or reset before the response headers (`refused-stream` is an HTTP/2 stream code), and it does
 * NOT retry a per-try timeout: Envoy retries those only under `reset`, `5xx` or `gateway-error`
 * (`RetryStateImpl::wouldRetryFromReset`). Set `INGRESS_RETRY_ON` to this value to reproduce
 * the seed's mesh exactly.
 */
export const ISTIO_DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,503';

/**
 * This ingress's default: Istio's default plus `reset`, so that a replica killed mid-request and a
 * per-try timeout are retried, as the local target's design asks. This is more forgiving than the
 * seed's mesh taken literally (see {@link ISTIO_DEFAULT_RETRY_ON}).
 */
export const INGRESS_DEFAULT_RETRY_ON = 'connect-failure,refused-stream,reset,unavailable,cancelled,503';

/** Why one try at one upstream failed without a usable response. */
export type TryFailure = 'refused' | 'reset' | 'protocol_error' | 'timeout';

/** The compiled form of a `retryOn` string: which outcomes of a try allow another try. */
export interface RetryConditions {
  /** Failures without a response that are retried. */
  readonly failures: ReadonlySet<TryFailure>;
  /** Response statuses that are retried (the last try's response is passed on as it is). */
  readonly statuses: ReadonlySet<number>;
  /** `5xx` was given: every 5xx status is retried. */
  readonly any5xx: boolean;
}

const RETRY_ON_TOKENS: Record<string, string> = {
  'connect-failure': 'connection refused or connect timeout',
  reset: 'disconnect, reset or per-try timeout before the response headers (includes connect-failure)',
  '5xx': 'any 5xx status, plus everything `reset` covers',
  'gateway-error': '502, 503, 504, plus everything `reset` covers',
  'retriable-4xx': '409',
  'retriable-status-codes': 'the numeric status codes given in the same list',
  'refused-stream': 'HTTP/2 REFUSED_STREAM (accepted for Istio compatibility; no effect on HTTP/1.1)',
  unavailable: 'gRPC status (accepted for Istio compatibility; no effect on a JSON API)',
  cancelled: 'gRPC status (no effect here)',
  'deadline-exceeded': 'gRPC status (no effect here)',
  'resource-exhausted': 'gRPC status (no effect here)',
  internal: 'gRPC status (no effect here)',
};

/**
 * Parses a `retryOn` value in Istio's syntax: comma-separated Envoy conditions and HTTP status
 * codes (a code makes `retriable-status-codes` implicit, as Istio does). Throws
 * {@link IngressConfigError} naming `name` on an unknown token.
 */
export function parseRetryOn(value: string, name = 'retryOn'): RetryConditions {
  const failures = new Set<TryFailure>();
  const statuses = new Set<number>();
  let any5xx = false;
  const withoutResponse: TryFailure[] = ['refused', 'reset', 'protocol_error', 'timeout'];
  for (const raw of value.split(',')) {
    const token = raw.trim();
    if (token === '') continue;
    if (/^\d+$/.test(token)) {
      const code = Number(token);
      if (code < 100 || code > 599) throw new IngressConfigError(name, `${token} is not an HTTP status code (100-599)`, value);
      statuses.add(code);
      continue;
    }
    switch (token) {
      case 'connect-failure':
        failures.add('refused');
        break;
      case 'reset':
        for (const failure of withoutResponse) failures.add(failure);
        break;
      case '5xx':
        any5xx = true;
        for (const failure of withoutResponse) failures.add(failure);
        break;
      case 'gateway-error':
        for (const code of [502, 503, 504]) statuses.add(code);
        for (const failure of withoutResponse) failures.add(failure);
        break;
      case 'retriable-4xx':
        statuses.add(409);
        break;
      default:
        if (!(token in RETRY_ON_TOKENS)) {
          const allowed = [...Object.keys(RETRY_ON_TOKENS), 'HTTP status codes such as 503'].join(', ');
          throw new IngressConfigError(name, `unknown retry condition "${token}"; allowed: ${allowed}`, value);
        }
    }
  }
  return { failures, statuses, any5xx };
}

function isRetriableStatus(conditions: RetryConditions, status: number): boolean {
  return conditions.statuses.has(status) || (conditions.any5xx && status >= 500 && status <= 599);
}

/**
 * Envoy's jittered exponential back-off: the n-th retry (1-based) waits a uniformly random time
 * below base·2^(n-1), capped at 10·base.
 */
function retryBackoffMs(retry: number, baseMs: number): number {
  const ceiling = Math.min(baseMs * 2 ** (retry - 1), baseMs * 10);
  return Math.floor(Math.random() * ceiling);
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/** A setting is invalid. `setting` is the option or environment variable name; nothing started. */
export class IngressConfigError extends Error {
  constructor(
    readonly setting: string,
    readonly problem: string,
    readonly value: unknown,
  ) {
    super(`${setting}: ${problem} (got ${JSON.stringify(value)})`);
    this.name = 'IngressConfigError';
  }
}

/** What a caller writes; everything but `upstreams` has a default (see {@link INGRESS_DEFAULTS}). */
export interface IngressOptions {
  /** "127.0.0.1:4001" style addresses; loopback IP literals only (127.0.0.0/8 or [::1]). */
  upstreams: readonly string[];
  /** Loopback address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 picks a free one (read it from the returned `port`). Default 0. */
  port?: number;
  /** Whole-request timeout, all tries and back-offs included (Istio route `timeout`). → 504. */
  timeoutMs?: number;
  /** Retries after the first try (Istio `retries.attempts`; see {@link ISTIO_ATTEMPTS_SEMANTICS}). */
  attempts?: number;
  /** Bound of each try, until its response is complete (Istio `retries.perTryTimeout`). */
  perTryTimeoutMs?: number;
  /** Istio `retries.retryOn` syntax. Default {@link INGRESS_DEFAULT_RETRY_ON}. */
  retryOn?: string;
  /** First ejection time of a failing upstream; doubles on each consecutive ejection. */
  ejectionMs?: number;
  /** Cap of the doubling ejection time. */
  maxEjectionMs?: number;
  /** Request bodies are buffered for replay; larger ones get 413. */
  maxBodyBytes?: number;
  /**
   * How long `close()` lets in-flight requests finish before cutting connections. Default 2 s:
   * below the 3 s the local target's supervisor waits before SIGKILL, so the ingress exits 0.
   */
  shutdownGraceMs?: number;
  /** Base of the retry back-off (Envoy's default 25 ms). */
  retryBackoffBaseMs?: number;
  /** Also export prom-client's process metrics (CPU, event-loop lag …) from the own registry. */
  defaultMetrics?: boolean;
  /** Receives one line per notable event (ejection, re-admission, upstream change). */
  log?: (line: string) => void;
}

/** The resolved, validated configuration: every default filled in. */
export interface IngressConfig extends Required<Omit<IngressOptions, 'log'>> {
  log: (line: string) => void;
  retry: RetryConditions;
}

/** The seed's VirtualService policy and the local target's defaults. */
export const INGRESS_DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  timeoutMs: 30_000,
  attempts: 3,
  perTryTimeoutMs: 10_000,
  retryOn: INGRESS_DEFAULT_RETRY_ON,
  ejectionMs: 1_000,
  maxEjectionMs: 10_000,
  maxBodyBytes: 1024 * 1024,
  shutdownGraceMs: 2_000,
  retryBackoffBaseMs: 25,
  defaultMetrics: false,
} as const satisfies Omit<IngressConfig, 'upstreams' | 'log' | 'retry'>;

type SettingKey = Exclude<keyof IngressOptions, 'log'>;

/** The environment variable that carries each setting, for `ingress-main.ts` and supervisors. */
export const INGRESS_ENV: Record<SettingKey, string> = {
  upstreams: 'INGRESS_UPSTREAMS',
  host: 'INGRESS_HOST',
  port: 'INGRESS_PORT',
  timeoutMs: 'INGRESS_TIMEOUT_MS',
  attempts: 'INGRESS_ATTEMPTS',
  perTryTimeoutMs: 'INGRESS_PER_TRY_TIMEOUT_MS',
  retryOn: 'INGRESS_RETRY_ON',
  ejectionMs: 'INGRESS_EJECTION_MS',
  maxEjectionMs: 'INGRESS_MAX_EJECTION_MS',
  maxBodyBytes: 'INGRESS_MAX_BODY_BYTES',
  shutdownGraceMs: 'INGRESS_SHUTDOWN_GRACE_MS',
  retryBackoffBaseMs: 'INGRESS_RETRY_BACKOFF_BASE_MS',
  defaultMetrics: 'INGRESS_DEFAULT_METRICS',
};

const INTEGER_LIMITS: Partial<Record<SettingKey, { min: number; max: number }>> = {
  port: { min: 0, max: 65_535 },
  timeoutMs: { min: 1, max: 3_600_000 },
  attempts: { min: 0, max: 100 },
  perTryTimeoutMs: { min: 1, max: 3_600_000 },
  ejectionMs: { min: 1, max: 3_600_000 },
  maxEjectionMs: { min: 1, max: 3_600_000 },
  maxBodyBytes: { min: 0, max: 1024 * 1024 * 1024 },
  shutdownGraceMs: { min: 0, max: 3_600_000 },
  retryBackoffBaseMs: { min: 1, max: 60_000 },
};

type SettingNames = Record<SettingKey, string>;
const OPTION_NAMES = Object.fromEntries(Object.keys(INGRESS_ENV).map((key) => [key, key])) as SettingNames;

function checkInteger(names: SettingNames, key: SettingKey, value: number): number {
  const limits = INTEGER_LIMITS[key] ?? { min: 0, max: Number.MAX_SAFE_INTEGER };
  if (!Number.isInteger(value) || value < limits.min || value > limits.max) {
    throw new IngressConfigError(names[key], `must be an integer from ${limits.min} to ${limits.max}`, value);
  }
  return value;
}

/**
 * Validates options and fills in defaults. Throws {@link IngressConfigError}; error messages name
 * settings through `names` (option names by default, environment variable names from
 * {@link ingressConfigFromEnv}).
 */
export function resolveIngressConfig(options: IngressOptions, names: SettingNames = OPTION_NAMES): IngressConfig {
  const merged = { ...INGRESS_DEFAULTS, ...dropUndefined(options) };
  const integers = Object.keys(INTEGER_LIMITS) as SettingKey[];
  for (const key of integers) checkInteger(names, key, merged[key as keyof typeof merged] as number);
  if (merged.maxEjectionMs < merged.ejectionMs) {
    throw new IngressConfigError(names.maxEjectionMs, `must be at least ${names.ejectionMs} (${merged.ejectionMs})`, merged.maxEjectionMs);
  }
  if (!isLoopbackHost(merged.host)) throw new IngressConfigError(names.host, 'must be a loopback IP address (127.0.0.0/8 or ::1)', merged.host);
  const upstreams = parseUpstreamList(merged.upstreams, names.upstreams);
  return {
    ...merged,
    upstreams,
    retry: parseRetryOn(merged.retryOn, names.retryOn),
    log: options.log ?? (() => {}),
  };
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Reads the configuration from environment variables ({@link INGRESS_ENV}). Unset variables take
 * their defaults; `INGRESS_UPSTREAMS` is required. An unknown `INGRESS_*` variable is an error, so
 * a typo is not silently ignored. Throws {@link IngressConfigError} naming the variable and what
 * it allows.
 */
export function ingressConfigFromEnv(env: NodeJS.ProcessEnv): IngressConfig {
  const known = new Set(Object.values(INGRESS_ENV));
  for (const name of Object.keys(env)) {
    if (name.startsWith('INGRESS_') && !known.has(name)) {
      throw new IngressConfigError(name, `unknown variable; known: ${[...known].join(', ')}`, env[name]);
    }
  }
  const options: IngressOptions = { upstreams: [] };
  const upstreams = env[INGRESS_ENV.upstreams];
  if (upstreams === undefined || upstreams.trim() === '') {
    throw new IngressConfigError(INGRESS_ENV.upstreams, 'required: comma-separated upstreams such as 127.0.0.1:4001,127.0.0.1:4002', upstreams ?? null);
  }
  options.upstreams = upstreams.split(',').map((entry) => entry.trim());
  for (const key of Object.keys(INTEGER_LIMITS) as SettingKey[]) {
    const raw = env[INGRESS_ENV[key]];
    if (raw === undefined) continue;
    if (!/^\d+$/.test(raw.trim())) {
      const limits = INTEGER_LIMITS[key] ?? { min: 0, max: Number.MAX_SAFE_INTEGER };
      throw new IngressConfigError(INGRESS_ENV[key], `must be an integer from ${limits.min} to ${limits.max}`, raw);
    }
    (options as unknown as Record<string, number>)[key] = Number(raw.trim());
  }
  const host = env[INGRESS_ENV.host];
  if (host !== undefined) options.host = host.trim();
  const retryOn = env[INGRESS_ENV.retryOn];
  if (retryOn !== undefined) options.retryOn = retryOn;
  const defaultMetrics = env[INGRESS_ENV.defaultMetrics];
  if (defaultMetrics !== undefined) {
    if (defaultMetrics !== 'true' && defaultMetrics !== 'false') {
      throw new IngressConfigError(INGRESS_ENV.defaultMetrics, 'must be true or false', defaultMetrics);
    }
    options.defaultMetrics = defaultMetrics === 'true';
  }
  return resolveIngressConfig(options, INGRESS_ENV);
}

/**
 * The environment variables that configure `ingress-main.ts` with `options` (only the settings
 * given), for a supervisor starting the ingress process.
 */
export function ingressEnv(options: IngressOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, variable] of Object.entries(INGRESS_ENV) as [SettingKey, string][]) {
    const value: unknown = options[key];
    if (Array.isArray(value)) env[variable] = value.join(',');
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') env[variable] = String(value);
  }
  return env;
}

function isLoopbackHost(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith('127.');
  return net.isIPv6(host) && (host === '::1' || host === '0:0:0:0:0:0:0:1');
}

/**
 * Parses "127.0.0.1:4001" or "[::1]:4001" into its canonical address. Only loopback IP literals:
 * the harness sends traffic to this machine only ("localhost" is refused because it may resolve to
 * ::1 while a replica listens on 127.0.0.1 only).
 */
export function parseUpstream(entry: string, name = 'upstreams'): string {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(entry.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !isLoopbackHost(host) || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new IngressConfigError(name, 'each upstream must be a loopback IP literal and port, such as 127.0.0.1:4001 or [::1]:4001', entry);
  }
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

function parseUpstreamList(entries: unknown, name: string): string[] {
  if (!Array.isArray(entries)) throw new IngressConfigError(name, 'must be a list of upstreams such as ["127.0.0.1:4001"]', entries);
  const out: string[] = [];
  for (const entry of entries) {
    if (typeof entry !== 'string') throw new IngressConfigError(name, 'each upstream must be a string such as 127.0.0.1:4001', entry);
    const address = parseUpstream(entry, name);
    if (!out.includes(address)) out.push(address);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Upstreams: round robin and passive health
// ---------------------------------------------------------------------------------------------

/** One upstream's state as reported by `GET /-/upstreams` and {@link Ingress.upstreams}. */
export interface UpstreamStatus {
  address: string;
  ejected: boolean;
  /** Milliseconds until re-admission; 0 when not ejected. */
  ejectedForMs: number;
  /** Consecutive ejections without a success in between (drives the doubling). */
  consecutiveEjections: number;
  /** Ejections since the upstream was added. */
  ejections: number;
}

class Upstream {
  readonly pool: Pool;
  ejectedUntil = 0;
  consecutiveEjections = 0;
  ejections = 0;
  /** An ejection ran out and nobody has noticed yet (for the re-admission log line). */
  awaitingReadmission = false;

  constructor(readonly address: string) {
    this.pool = new Pool(`http://${address}`, {
      pipelining: 1,
      // Timeouts are ours (per try, overall), enforced through abort signals.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: { timeout: 5_000 },
    });
  }

  isEjected(now: number): boolean {
    return now < this.ejectedUntil;
  }

  status(now: number): UpstreamStatus {
    return {
      address: this.address,
      ejected: this.isEjected(now),
      ejectedForMs: Math.max(0, this.ejectedUntil - now),
      consecutiveEjections: this.consecutiveEjections,
      ejections: this.ejections,
    };
  }
}

/**
 * The upstream list with round robin and outlier ejection. A failure without a response ejects
 * the upstream for ejectionMs·2^(consecutive ejections), capped; a response below 500 resets the
 * doubling. Failures while already ejected (other in-flight requests, panic-mode tries) do not
 * extend the ejection, so a burst of concurrent failures counts once.
 *
 * Envoy differs in two details we chose not to copy: it multiplies the base time linearly by the
 * ejection count, and it enters panic mode when fewer than 50 % of hosts are healthy; we double
 * (faster back-off for a dead replica) and panic only when every upstream is ejected, so one dead
 * replica of three never sends traffic to it while it is ejected.
 */
class UpstreamSet {
  private list: Upstream[] = [];
  private next = 0;
  /** Pools of removed upstreams still finishing their in-flight requests. */
  private readonly retiring = new Set<Promise<void>>();

  constructor(
    private readonly config: IngressConfig,
    private readonly metrics: IngressMetrics,
  ) {}

  get all(): readonly Upstream[] {
    return this.list;
  }

  replace(addresses: readonly string[]): void {
    const keep = new Map(this.list.map((upstream) => [upstream.address, upstream]));
    const nextList = addresses.map((address) => keep.get(address) ?? new Upstream(address));
    for (const old of this.list) {
      if (nextList.includes(old)) continue;
      const closing = old.pool.close().catch((error: unknown) => this.config.log(`upstream ${old.address}: closing its pool failed: ${String(error)}`));
      this.retiring.add(closing);
      void closing.finally(() => this.retiring.delete(closing));
    }
    const before = this.list.map((upstream) => upstream.address).join(',');
    this.list = nextList;
    this.next = this.list.length === 0 ? 0 : this.next % this.list.length;
    const after = addresses.join(',');
    if (before !== after) this.config.log(`upstreams: ${after || '(none)'}`);
  }

  /**
   * The next upstream for a try: round robin over healthy upstreams not tried yet by this
   * request; then healthy ones already tried; when every upstream is ejected (panic), all of
   * them, untried first. Undefined only when the list is empty.
   */
  pick(tried: ReadonlySet<Upstream>, now: number): Upstream | undefined {
    const n = this.list.length;
    if (n === 0) return undefined;
    const healthy = (u: Upstream): boolean => !u.isEjected(now);
    const passes: ((u: Upstream) => boolean)[] = [(u) => healthy(u) && !tried.has(u), healthy, (u) => !tried.has(u), () => true];
    for (const accept of passes) {
      for (let i = 0; i < n; i++) {
        const index = (this.next + i) % n;
        const candidate = this.list[index];
        if (candidate === undefined || !accept(candidate)) continue;
        this.next = (index + 1) % n;
        if (candidate.awaitingReadmission && !candidate.isEjected(now)) {
          candidate.awaitingReadmission = false;
          this.config.log(`upstream ${candidate.address}: re-admitted after ejection`);
        }
        return candidate;
      }
    }
    return undefined;
  }

  reportFailure(upstream: Upstream, failure: TryFailure, now: number): void {
    if (upstream.isEjected(now)) return;
    const ms = Math.min(this.config.ejectionMs * 2 ** upstream.consecutiveEjections, this.config.maxEjectionMs);
    upstream.ejectedUntil = now + ms;
    upstream.consecutiveEjections += 1;
    upstream.ejections += 1;
    upstream.awaitingReadmission = true;
    this.metrics.ejections.inc({ upstream: upstream.address });
    this.config.log(`upstream ${upstream.address}: ejected for ${ms} ms (${failure})`);
  }

  reportSuccess(upstream: Upstream): void {
    upstream.consecutiveEjections = 0;
  }

  async destroy(): Promise<void> {
    await Promise.allSettled([...this.list.map((upstream) => upstream.pool.destroy()), ...this.retiring]);
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/** Outcome label of `ingress_upstream_attempts_total`. */
export type AttemptOutcome = 'ok' | `status_${number}` | TryFailure | 'cancelled' | 'error';

class IngressMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'ingress_requests_total',
    help: 'Requests answered by the ingress, by the status sent (499: the client went away before a response).',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'ingress_request_duration_seconds',
    help: 'Time from request arrival to the end of the response, all tries included.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly attempts = new Counter({
    name: 'ingress_upstream_attempts_total',
    help: 'Tries sent to each upstream, by outcome (ok, status_5xx codes, refused, reset, protocol_error, timeout, cancelled, error).',
    labelNames: ['upstream', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'ingress_retries_total',
    help: 'Tries beyond the first of each request.',
    registers: [this.registry],
  });
  readonly ejections = new Counter({
    name: 'ingress_upstream_ejections_total',
    help: 'Times each upstream was ejected by passive health checking.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly aborted = new Counter({
    name: 'ingress_responses_aborted_total',
    help: 'Responses cut off after their headers were sent (upstream failed mid-body, timeout, or client gone).',
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'ingress_requests_in_flight',
    help: 'Requests being handled.',
    registers: [this.registry],
  });

  constructor(upstreams: () => readonly Upstream[], defaultMetrics: boolean) {
    new Gauge({
      name: 'ingress_upstream_ejected',
      help: '1 while an upstream is ejected by passive health checking, else 0.',
      labelNames: ['upstream'] as const,
      registers: [this.registry],
      // Ejections end by the clock, not by an event: compute the state at scrape time.
      collect() {
        this.reset();
        const now = Date.now();
        for (const upstream of upstreams()) this.set({ upstream: upstream.address }, upstream.isEjected(now) ? 1 : 0);
      },
    });
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}

// ---------------------------------------------------------------------------------------------
// Proxying
// ---------------------------------------------------------------------------------------------

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    joined
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
}

function withoutHopByHop(headers: Record<string, string | string[] | undefined>, also: readonly string[]): Record<string, string | string[]> {
  const drop = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || drop.has(lower) || also.includes(lower)) continue;
    out[lower] = value;
  }
  return out;
}

class BodyTooLargeError extends Error {}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

const CONNECT_FAILURE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** Maps an undici error of one try to a failure kind; undefined for an unexpected error. */
function classifyError(error: unknown): TryFailure | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (CONNECT_FAILURE_CODES.has(code)) return 'refused';
  if (RESET_CODES.has(code)) return 'reset';
  if (code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_INFO') return 'protocol_error';
  return undefined;
}

type AbortCause = 'per-try' | 'deadline' | 'client';

/** One try: its abort controller, why it was aborted, and its timers and listeners. */
class Try {
  readonly controller = new AbortController();
  cause: AbortCause | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly unlisten: (() => void)[] = [];

  constructor(perTryMs: number, deadline: AbortSignal, clientGone: AbortSignal) {
    this.timer = setTimeout(() => this.abort('per-try'), perTryMs);
    for (const [signal, cause] of [
      [deadline, 'deadline'],
      [clientGone, 'client'],
    ] as const) {
      if (signal.aborted) this.abort(cause);
      const onAbort = (): void => this.abort(cause);
      signal.addEventListener('abort', onAbort, { once: true });
      this.unlisten.push(() => signal.removeEventListener('abort', onAbort));
    }
  }

  private abort(cause: AbortCause): void {
    if (this.controller.signal.aborted) return;
    this.cause = cause;
    this.controller.abort(new Error(`aborted: ${cause}`));
  }

  /** Idempotent. */
  release(): void {
    clearTimeout(this.timer);
    for (const unlisten of this.unlisten.splice(0)) unlisten();
  }
}

const ENVOY_TEXT = {
  refused: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  reset: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  protocol_error: 'upstream connect error or disconnect/reset before headers. reset reason: protocol error',
  timeout: 'upstream request timeout',
  noHealthy: 'no healthy upstream',
} as const;

/** The running ingress. */
export interface Ingress {
  /** The port it listens on (the chosen one when configured with port 0). */
  readonly port: number;
  /** Base URL, such as http://127.0.0.1:4000. */
  readonly url: string;
  readonly config: IngressConfig;
  /** The ingress's own Prometheus registry (what `GET /-/metrics` serves). */
  readonly registry: Registry;
  /**
   * Replaces the upstream list (same syntax as `upstreams`). Upstreams kept keep their pools and
   * ejection state; removed ones finish their in-flight requests. Throws
   * {@link IngressConfigError} on an invalid list and then changes nothing.
   */
  setUpstreams(upstreams: readonly string[]): void;
  /** Current upstreams with their ejection state. */
  upstreams(): UpstreamStatus[];
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `graceMs` (default the
   * configured `shutdownGraceMs`), then cuts remaining connections and closes upstream pools.
   * Idempotent and safe to call concurrently.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Starts the ingress on 127.0.0.1 (or `host`); resolves once it listens. */
export async function createIngress(options: IngressOptions): Promise<Ingress> {
  const config = resolveIngressConfig(options);
  // The ejection gauge reads the upstream list at scrape time, after both exist.
  const metrics: IngressMetrics = new IngressMetrics((): readonly Upstream[] => upstreams.all, config.defaultMetrics);
  const upstreams: UpstreamSet = new UpstreamSet(config, metrics);
  upstreams.replace(config.upstreams);

  let closing = false;
  let inFlight = 0;
  const idleWaiters = new Set<() => void>();

  const setUpstreams = (list: readonly string[]): void => {
    upstreams.replace(parseUpstreamList(list, 'upstreams'));
  };
  const status = (): UpstreamStatus[] => {
    const now = Date.now();
    return upstreams.all.map((upstream) => upstream.status(now));
  };

  const server = http.createServer((req, res) => {
    inFlight += 1;
    const started = performance.now();
    res.once('close', () => {
      inFlight -= 1;
      if (!res.writableFinished && res.headersSent) metrics.aborted.inc();
      if (!isReservedPath(req.url)) {
        metrics.inFlight.dec();
        metrics.requests.inc({ status: res.headersSent ? String(res.statusCode) : '499' });
        metrics.duration.observe((performance.now() - started) / 1000);
      }
      if (inFlight === 0) for (const wake of idleWaiters) wake();
    });
    if (closing) res.setHeader('connection', 'close');
    if (isReservedPath(req.url)) {
      void handleAdmin(req, res).catch((error: unknown) => replyText(res, 500, `ingress error: ${String(error)}`));
      return;
    }
    metrics.inFlight.inc();
    void proxy(req, res).catch((error: unknown) => {
      config.log(`proxy error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      replyText(res, 502, `ingress error: ${String(error)}`, { 'x-ingress-attempts': '0' });
    });
  });

  async function handleAdmin(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/-/ready' && (req.method === 'GET' || req.method === 'HEAD')) {
      replyText(res, closing ? 503 : 200, closing ? 'closing\n' : 'ready\n');
      return;
    }
    if (path === '/-/metrics' && req.method === 'GET') {
      const body = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(body);
      return;
    }
    if (path === '/-/upstreams' && req.method === 'GET') {
      replyJson(res, 200, { upstreams: status() });
      return;
    }
    if (path === '/-/upstreams' && req.method === 'PUT') {
      if (!isLoopbackHost((req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''))) {
        replyJson(res, 403, { error: 'upstreams can be changed from loopback clients only' });
        return;
      }
      let list: unknown;
      try {
        list = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
      } catch (error) {
        replyJson(res, 400, { error: error instanceof BodyTooLargeError ? 'body larger than 64 KiB' : 'body must be a JSON array of "127.0.0.1:port" strings' });
        return;
      }
      try {
        if (!Array.isArray(list)) throw new IngressConfigError('upstreams', 'must be a JSON array of "127.0.0.1:port" strings', list);
        setUpstreams(list);
      } catch (error) {
        if (!(error instanceof IngressConfigError)) throw error;
        replyJson(res, 400, { error: error.message });
        return;
      }
      replyJson(res, 200, { upstreams: status() });
      return;
    }
    replyJson(res, 404, { error: 'unknown ingress endpoint; known: GET /-/ready, GET /-/metrics, GET|PUT /-/upstreams' });
  }

  async function proxy(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!req.url?.startsWith('/')) {
      replyText(res, 400, 'request target must be a path\n', { 'x-ingress-attempts': '0' });
      return;
    }
    const clientGone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) clientGone.abort();
    });

    let body: Buffer | undefined;
    try {
      const buffered = await readBody(req, config.maxBodyBytes);
      const declaresBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      body = buffered.length > 0 || declaresBody ? buffered : undefined;
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        // The rest of the body is not read: close the connection after answering.
        replyText(res, 413, `request body larger than ${config.maxBodyBytes} bytes\n`, { 'x-ingress-attempts': '0', connection: 'close' });
        return;
      }
      if (clientGone.signal.aborted || req.destroyed) return;
      throw error;
    }

    const headers = withoutHopByHop(req.headers, ['content-length', 'expect']);
    const remote = req.socket.remoteAddress ?? '';
    const forwardedFor = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = typeof forwardedFor === 'string' && forwardedFor !== '' ? `${forwardedFor}, ${remote}` : remote;
    headers['x-forwarded-proto'] ??= 'http';

    // The route timeout starts once the request is fully read, as Envoy's does.
    const deadline = new AbortController();
    const deadlineAt = Date.now() + config.timeoutMs;
    const deadlineTimer = setTimeout(() => deadline.abort(), config.timeoutMs);
    const tried = new Set<Upstream>();
    let tries = 0;
    try {
      for (;;) {
        if (clientGone.signal.aborted) return;
        if (deadline.signal.aborted) {
          replyText(res, 504, ENVOY_TEXT.timeout, { 'x-ingress-attempts': String(tries) });
          return;
        }
        const upstream = upstreams.pick(tried, Date.now());
        if (upstream === undefined) {
          replyText(res, 503, ENVOY_TEXT.noHealthy, { 'x-ingress-attempts': String(tries) });
          return;
        }
        tried.add(upstream);
        tries += 1;
        if (tries > 1) metrics.retries.inc();
        const retriesLeft = tries <= config.attempts;
        const attempt = new Try(Math.max(1, Math.min(config.perTryTimeoutMs, deadlineAt - Date.now())), deadline.signal, clientGone.signal);
        let response: Dispatcher.ResponseData | undefined;
        let failure: TryFailure | undefined;
        let unexpected: unknown;
        try {
          response = await upstream.pool.request({
            path: req.url,
            method: req.method ?? 'GET',
            headers,
            body,
            signal: attempt.controller.signal,
          });
        } catch (error) {
          if (attempt.cause === 'per-try' || attempt.cause === 'deadline') failure = 'timeout';
          else if (attempt.cause === 'client') failure = undefined;
          else {
            failure = classifyError(error);
            if (failure === undefined) unexpected = error;
          }
        }

        if (response !== undefined) {
          const code = response.statusCode;
          metrics.attempts.inc({ upstream: upstream.address, outcome: code >= 500 ? `status_${code}` : 'ok' });
          if (code < 500) upstreams.reportSuccess(upstream);
          if (retriesLeft && isRetriableStatus(config.retry, code)) {
            await response.body.dump().catch(() => undefined);
            attempt.release();
            await backoff(tries); // the loop's top answers a deadline or a departed client
            continue;
          }
          await streamResponse(res, response, upstream, tries, attempt);
          return;
        }

        attempt.release();
        if (attempt.cause === 'client') {
          metrics.attempts.inc({ upstream: upstream.address, outcome: 'cancelled' });
          return;
        }
        if (failure === undefined) {
          metrics.attempts.inc({ upstream: upstream.address, outcome: 'error' });
          config.log(`upstream ${upstream.address}: unexpected error: ${String(unexpected)}`);
          replyText(res, 502, `ingress error: ${String(unexpected)}`, { 'x-ingress-attempts': String(tries) });
          return;
        }
        metrics.attempts.inc({ upstream: upstream.address, outcome: failure });
        upstreams.reportFailure(upstream, failure, Date.now());
        if (attempt.cause === 'deadline') continue; // answered 504 at the top of the loop
        if (retriesLeft && config.retry.failures.has(failure)) {
          await backoff(tries);
          continue;
        }
        replyText(res, failure === 'timeout' ? 504 : 503, ENVOY_TEXT[failure], { 'x-ingress-attempts': String(tries) });
        return;
      }
    } finally {
      clearTimeout(deadlineTimer);
    }

    /** Waits Envoy's back-off before a retry, cut short by the deadline or a departed client. */
    async function backoff(triesSoFar: number): Promise<void> {
      const wait = retryBackoffMs(triesSoFar, config.retryBackoffBaseMs);
      if (wait === 0) return;
      await sleep(wait, AbortSignal.any([deadline.signal, clientGone.signal])).catch(() => undefined);
    }
  }

  function streamResponse(res: http.ServerResponse, response: Dispatcher.ResponseData, upstream: Upstream, tries: number, attempt: Try): Promise<void> {
    const headers = withoutHopByHop(response.headers, []);
    headers['x-ingress-attempts'] = String(tries);
    headers['x-ingress-upstream'] = upstream.address;
    if (closing) headers.connection = 'close';
    try {
      res.writeHead(response.statusCode, headers);
    } catch (error) {
      // Node refused a header the upstream sent: answer 502 (the caller does) and free the try.
      response.body.destroy();
      attempt.release();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    // The per-try and route timeouts keep running until the body is complete; a cut body ends
    // the downstream response too (pipeline destroys it), as Envoy resets the downstream stream.
    return pipeline(response.body, res)
      .catch(() => {
        res.destroy();
      })
      .finally(() => attempt.release());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('ingress: could not read its listening address');
  const port = address.port;
  const url = `http://${net.isIPv6(config.host) ? `[${config.host}]` : config.host}:${port}`;

  let closed: Promise<void> | undefined;
  const close = (closeOptions: { graceMs?: number } = {}): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        let wake: () => void = () => {};
        const idle = new Promise<void>((resolve) => {
          wake = resolve;
          idleWaiters.add(resolve);
        });
        await Promise.race([idle, sleep(closeOptions.graceMs ?? config.shutdownGraceMs)]);
        idleWaiters.delete(wake);
      }
      server.closeAllConnections();
      await serverClosed;
      await upstreams.destroy();
    })();
    return closed;
  };

  return {
    port,
    url,
    config,
    registry: metrics.registry,
    setUpstreams,
    upstreams: status,
    close,
  };
}

function isReservedPath(url: string | undefined): boolean {
  return url?.startsWith('/-/') ?? false;
}

function replyText(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function replyJson(res: http.ServerResponse, status: number, value: unknown): void {
  const text = `${JSON.stringify(value)}\n`;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}
