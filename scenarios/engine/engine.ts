/**
 * The embedded load engine: runs a scenario in this Node process when k6 is not installed, and
 * serves k6-named metrics on /metrics so the run's Prometheus scrapes it like it would scrape k6.
 */
import { Pool, type Dispatcher } from 'undici';
import { withDefaultHeaders } from './default-headers.ts';
import type { ScenarioDefinition } from '../types.ts';
import { LatencyRecorder, RateWindow } from './latency.ts';
import { EngineMetrics, renderExposition } from './metrics.ts';
import { startMetricsServer } from './metrics-server.ts';
import type { MetricsServer } from './metrics-server.ts';
import { resolveScenario } from './resolve.ts';
import type { ResolvedScenario, ScenarioOverrides } from './resolve.ts';
import type { LiveStats, LoadSummary } from './results.ts';
import { LATE_START_BOUND_MS, ScenarioRun } from './scenario-run.ts';
import { createSetupHttp } from './setup-http.ts';
import { WarmConnections } from './warm-connections.ts';
import { warmUpHotPath } from './warm-up.ts';

/** Time allowed to open one connection to the target. */
const CONNECT_TIMEOUT_MS = 10_000;
/** At most this many connections are opened before the clock starts; more VUs connect on first use. */
const MAX_WARM_CONNECTIONS = 1_000;

export interface EmbeddedEngineOptions {
  /** One scenario, or several run side by side (each from its `startTime`; names must differ). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any scenario's setup-data type; the engine only passes it through
  scenario: ScenarioDefinition<any> | readonly ScenarioDefinition<any>[];
  /** Where the load goes: `http://127.0.0.1:8080` (an optional path prefix is kept). */
  baseUrl: string;
  /** Only for a single arrival-rate scenario (see resolveScenario); rejected otherwise. */
  overrides?: ScenarioOverrides;
  /** Headers added to every request that does not set them, e.g. `{ host: 'api.hastecrm.com' }` behind a host-routing ingress. */
  headers?: Readonly<Record<string, string>>;
  /** The interface /metrics listens on; only loopback is allowed. */
  metricsHost?: '127.0.0.1';
  /** Tuning for tests: an iteration more than this behind schedule is dropped. Default 1000 ms. */
  lateStartBoundMs?: number;
}

export interface EmbeddedEngine {
  /** The (first) validated scenario with every default filled in (what `resilience plan` can print). */
  readonly scenario: ResolvedScenario;
  /** Every validated scenario, in the order given. */
  readonly scenarios: readonly ResolvedScenario[];
  /** `http://127.0.0.1:<port>/metrics`, for the harness's scrape job `k6`. Serves until `close`. */
  readonly metricsUrl: string;
  readonly metricsPort: number;
  /**
   * Runs each scenario's `setup` once (a no-op without one); later calls return the first call's
   * outcome. Rejects with the first setup's error, or when `signal` aborts.
   */
  setup(signal?: AbortSignal): Promise<void>;
  /**
   * Runs the load (running `setup` first if it has not run) and resolves with the summary; it
   * rejects only when setup fails or is aborted, before any load is sent. On `signal` abort during
   * the load it stops scheduling, waits for in-flight iterations up to `gracefulStop`, counts the
   * rest as interrupted and resolves. With several scenarios the summary adds them up and lists
   * each in `perScenario`. Call once per engine.
   */
  run(signal?: AbortSignal): Promise<LoadSummary>;
  /** Live figures for a progress line; zeros before `run`. */
  live(): LiveStats;
  /** Interrupts a running load, stops /metrics and the HTTP client pool. Idempotent. */
  close(): Promise<void>;
}

/**
 * Validates the scenarios (throws ScenarioValidationError listing every problem of the first
 * invalid one), starts the /metrics server on a free loopback port and resolves; no load is sent
 * until `run`.
 */
export async function createEmbeddedEngine(options: EmbeddedEngineOptions): Promise<EmbeddedEngine> {
  const definitions = isScenarioList(options.scenario) ? options.scenario : [options.scenario];
  if (definitions.length === 0) throw new Error('scenario: give at least one scenario definition');
  const overrides = options.overrides ?? {};
  if (definitions.length > 1 && (overrides.rate !== undefined || overrides.durationMs !== undefined)) {
    throw new Error(`overrides (rate, durationMs) apply to a single scenario, got ${definitions.length}; edit the scenario files instead`);
  }
  const scenarios = definitions.map((definition) => resolveScenario(definition, overrides));
  const names = scenarios.map((s) => s.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new Error(`scenario names must differ (they label the metrics): ${JSON.stringify(duplicate)} appears twice; rename one`);
  const target = parseBaseUrl(options.baseUrl);
  const metricsHost = options.metricsHost ?? '127.0.0.1';
  if (metricsHost !== '127.0.0.1') throw new Error(`metricsHost must be 127.0.0.1, got ${String(metricsHost)}`);
  const metrics = scenarios.map((scenario) => new EngineMetrics(scenario));
  const server = await startMetricsServer(() => renderExposition(metrics), metricsHost);
  return new Engine(scenarios, { ...target, headers: options.headers }, metrics, server, options.lateStartBoundMs ?? LATE_START_BOUND_MS);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see EmbeddedEngineOptions.scenario
function isScenarioList(value: EmbeddedEngineOptions['scenario']): value is readonly ScenarioDefinition<any>[] {
  return Array.isArray(value);
}

class Engine implements EmbeddedEngine {
  readonly metricsUrl: string;
  readonly metricsPort: number;
  private readonly pool: Pool;
  /** The pool, with the default headers added when there are any. */
  private readonly dispatcher: Dispatcher;
  private readonly warm: WarmConnections;
  private readonly latency = new LatencyRecorder();
  private readonly rateWindow = new RateWindow();
  private setupOutcome: Promise<void> | undefined;
  private readonly setupData: unknown[] = [];
  private runs: ScenarioRun[] = [];
  private runStartedAt = 0;
  private runStarted = false;
  private closing: Promise<void> | undefined;
  private readonly startTimers = new Set<NodeJS.Timeout>();

  constructor(
    readonly scenarios: readonly ResolvedScenario[],
    private readonly target: { origin: string; basePath: string; headers?: Readonly<Record<string, string>> | undefined },
    private readonly metrics: readonly EngineMetrics[],
    private readonly server: MetricsServer,
    private readonly lateStartBoundMs: number,
  ) {
    this.metricsUrl = server.url;
    this.metricsPort = server.port;
    this.warm = new WarmConnections(target.origin, CONNECT_TIMEOUT_MS);
    this.pool = new Pool(target.origin, {
      // One connection per VU: a request never waits in the pool's queue for a free socket.
      connections: scenarios.reduce((sum, s) => sum + s.maxVUs, 0),
      pipelining: 1,
      keepAliveTimeout: 4_000,
      // Hands out the connections opened before the clock started, then connects as undici would
      // (with CONNECT_TIMEOUT_MS; undici ignores its connectTimeout option beside a connect function).
      connect: this.warm.connect,
    });
    this.dispatcher = target.headers ? this.pool.compose(withDefaultHeaders(target.headers)) : this.pool;
  }

  get scenario(): ResolvedScenario {
    return this.scenarios[0] as ResolvedScenario;
  }

  setup(signal?: AbortSignal): Promise<void> {
    this.setupOutcome ??= this.runSetups(signal ?? new AbortController().signal);
    return this.setupOutcome;
  }

  async run(signal?: AbortSignal): Promise<LoadSummary> {
    if (this.runStarted) throw new Error('run() may be called once per engine; create another engine for another run');
    if (this.closing !== undefined) throw new Error('the engine is closed');
    this.runStarted = true;
    await this.setup(signal);
    if (this.closing !== undefined) throw new Error('the engine was closed during setup');
    this.runs = this.scenarios.map(
      (scenario, i) =>
        new ScenarioRun({
          scenario,
          dispatcher: this.dispatcher,
          basePath: this.target.basePath,
          setupData: this.setupData[i],
          metrics: this.metrics[i] as EngineMetrics,
          latency: this.scenarios.length === 1 ? this.latency : new LatencyRecorder(),
          ...(this.scenarios.length === 1 ? {} : { overallLatency: this.latency }),
          rateWindow: this.scenarios.length === 1 ? this.rateWindow : new RateWindow(),
          lateStartBoundMs: this.lateStartBoundMs,
        }),
    );
    // Like k6 initialising preAllocatedVUs before the test: their connections are opened before
    // the clock starts, so connecting does not stall the first iterations (see warm-connections.ts).
    const preAllocated = this.scenarios.reduce((sum, s) => sum + s.preAllocatedVUs, 0);
    await warmUpHotPath();
    await this.warm.open(Math.min(preAllocated, MAX_WARM_CONNECTIONS), signal);
    if (this.closing !== undefined) throw new Error('the engine was closed while opening connections, before any load was sent');
    this.runStartedAt = performance.now();
    const summaries = await Promise.all(this.runs.map((run, i) => this.startAfterOffset(run, this.scenarios[i] as ResolvedScenario, signal)));
    if (summaries.length === 1) return summaries[0] as LoadSummary;
    return combineSummaries(summaries, this.latency, performance.now() - this.runStartedAt);
  }

  /** Starts `run` at its scenario's startTime; an abort (or close) before then stops it at once, with nothing scheduled. */
  private startAfterOffset(run: ScenarioRun, scenario: ResolvedScenario, signal: AbortSignal | undefined): Promise<LoadSummary> {
    if (scenario.startTimeMs <= 0) return run.run(signal);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.startTimers.delete(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(run.run(signal));
      }, scenario.startTimeMs);
      this.startTimers.add(timer);
      const onAbort = (): void => {
        clearTimeout(timer);
        this.startTimers.delete(timer);
        resolve(run.stopNow());
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  live(): LiveStats {
    const totalMs = Math.max(...this.scenarios.map((s) => s.startTimeMs + s.durationMs));
    if (this.runs.length === 0) return { elapsedMs: 0, totalMs, requests: 0, ratePerSec: 0, errors: 0, p95Ms: 0, droppedIterations: 0, inFlight: 0 };
    if (this.runs.length === 1) return (this.runs[0] as ScenarioRun).live();
    const parts = this.runs.map((run) => run.live());
    return {
      elapsedMs: performance.now() - this.runStartedAt,
      totalMs,
      requests: parts.reduce((sum, p) => sum + p.requests, 0),
      ratePerSec: parts.reduce((sum, p) => sum + p.ratePerSec, 0),
      errors: parts.reduce((sum, p) => sum + p.errors, 0),
      p95Ms: this.latency.percentileMs(95),
      droppedIterations: parts.reduce((sum, p) => sum + p.droppedIterations, 0),
      inFlight: parts.reduce((sum, p) => sum + p.inFlight, 0),
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const timer of this.startTimers) clearTimeout(timer);
      this.startTimers.clear();
      this.warm.close();
      await Promise.all(this.runs.map((run) => run.stopNow()));
      // destroy, not close: interrupted requests must not keep sockets (or this process) alive.
      await Promise.allSettled([this.pool.destroy(), this.server.close()]);
    })();
    return this.closing;
  }

  private async runSetups(signal: AbortSignal): Promise<void> {
    for (const [i, scenario] of this.scenarios.entries()) {
      const setup = scenario.setup;
      if (setup === undefined) continue;
      signal.throwIfAborted();
      const http = createSetupHttp({ dispatcher: this.dispatcher, basePath: this.target.basePath, signal });
      try {
        this.setupData[i] = await setup({ baseUrl: this.target.origin + this.target.basePath, http, signal });
      } catch (error) {
        throw new Error(`setup of scenario ${JSON.stringify(scenario.name)} failed: ${(error as Error).message}`, { cause: error });
      }
    }
  }
}

/** Adds several scenarios' summaries into one; latency comes from the recorder all of them fed. */
function combineSummaries(parts: readonly LoadSummary[], latency: LatencyRecorder, durationMs: number): LoadSummary {
  const sum = (pick: (s: LoadSummary) => number): number => parts.reduce((total, s) => total + pick(s), 0);
  const errorsByKind = { refused: 0, reset: 0, timeout: 0, http: 0, other: 0 };
  const statusCounts: Record<string, number> = {};
  const errorSamples: LoadSummary['errorSamples'] = {};
  for (const part of parts) {
    for (const [kind, count] of Object.entries(part.errorsByKind) as [keyof typeof errorsByKind, number][]) errorsByKind[kind] += count;
    for (const [status, count] of Object.entries(part.statusCounts)) statusCounts[status] = (statusCounts[status] ?? 0) + count;
    for (const [kind, sample] of Object.entries(part.errorSamples) as [keyof typeof errorsByKind, string][]) errorSamples[kind] ??= sample;
  }
  const overloaded = parts.filter((p) => p.selfHealth.overloaded);
  const requests = sum((s) => s.requests);
  return {
    scenario: parts.map((p) => p.scenario).join('+'),
    executor: 'multiple',
    targetRate: sum((s) => s.targetRate),
    durationMs,
    scheduled: sum((s) => s.scheduled),
    requests,
    errors: sum((s) => s.errors),
    errorsByKind,
    errorSamples,
    statusCounts: Object.fromEntries(Object.entries(statusCounts).sort(([a], [b]) => Number(a) - Number(b))),
    droppedIterations: sum((s) => s.droppedIterations),
    interruptedIterations: sum((s) => s.interruptedIterations),
    achievedRatePerSec: durationMs > 0 ? (requests * 1000) / durationMs : 0,
    latencyMs: latency.percentiles(),
    checks: parts.flatMap((p) => p.checks),
    perScenario: [...parts],
    selfHealth: {
      maxEventLoopLagMs: Math.max(...parts.map((p) => p.selfHealth.maxEventLoopLagMs)),
      meanCpuUtilization: Math.max(...parts.map((p) => p.selfHealth.meanCpuUtilization)),
      overloaded: overloaded.length > 0,
      ...(overloaded.length > 0 ? { reason: overloaded.map((p) => `${p.scenario}: ${p.selfHealth.reason ?? 'overloaded'}`).join('; ') } : {}),
    },
  };
}

function parseBaseUrl(baseUrl: string): { origin: string; basePath: string } {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new Error(`baseUrl ${JSON.stringify(baseUrl)} is not a URL; expected e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`baseUrl ${JSON.stringify(baseUrl)} must be http(s)`);
  if (url.search !== '' || url.hash !== '') throw new Error(`baseUrl ${JSON.stringify(baseUrl)} must not have a query or fragment`);
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') };
}
