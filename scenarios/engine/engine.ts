/**
 * The embedded load engine: runs a scenario in this Node process when k6 is not installed, and
 * serves k6-named metrics on /metrics so the run's Prometheus scrapes it like it would scrape k6.
 */
import { Pool } from 'undici';
import type { ScenarioDefinition } from '../types.ts';
import { ArrivalRateRun, LATE_START_BOUND_MS } from './constant-arrival-rate.ts';
import { LatencyRecorder, RateWindow } from './latency.ts';
import { EngineMetrics } from './metrics.ts';
import { startMetricsServer } from './metrics-server.ts';
import type { MetricsServer } from './metrics-server.ts';
import { resolveScenario } from './resolve.ts';
import type { ResolvedScenario, ScenarioOverrides } from './resolve.ts';
import type { LiveStats, LoadSummary } from './results.ts';
import { createSetupHttp } from './setup-http.ts';

export interface EmbeddedEngineOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any scenario's setup-data type; the engine only passes it through
  scenario: ScenarioDefinition<any>;
  /** Where the load goes: `http://127.0.0.1:8080` (an optional path prefix is kept). */
  baseUrl: string;
  overrides?: ScenarioOverrides;
  /** The interface /metrics listens on; only loopback is allowed. */
  metricsHost?: '127.0.0.1';
  /** Tuning for tests: an iteration more than this behind schedule is dropped. Default 1000 ms. */
  lateStartBoundMs?: number;
}

export interface EmbeddedEngine {
  /** The validated scenario with every default filled in (what `resilience plan` can print). */
  readonly scenario: ResolvedScenario;
  /** `http://127.0.0.1:<port>/metrics`, for the harness's scrape job `k6`. Serves until `close`. */
  readonly metricsUrl: string;
  readonly metricsPort: number;
  /**
   * Runs the scenario's `setup` once (a no-op without one); later calls return the first call's
   * outcome. Rejects with the setup's error, or when `signal` aborts.
   */
  setup(signal?: AbortSignal): Promise<void>;
  /**
   * Runs the load (running `setup` first if it has not run) and resolves with the summary; it
   * rejects only when setup fails or is aborted, before any load is sent. On `signal` abort during
   * the load it stops scheduling, waits for in-flight iterations up to `gracefulStop`, counts the
   * rest as interrupted and resolves. Call once per engine.
   */
  run(signal?: AbortSignal): Promise<LoadSummary>;
  /** Live figures for a progress line; zeros before `run`. */
  live(): LiveStats;
  /** Interrupts a running load, stops /metrics and the HTTP client pool. Idempotent. */
  close(): Promise<void>;
}

/**
 * Validates the scenario (throws ScenarioValidationError listing every problem), starts the
 * /metrics server on a free loopback port and resolves; no load is sent until `run`.
 */
export async function createEmbeddedEngine(options: EmbeddedEngineOptions): Promise<EmbeddedEngine> {
  const scenario = resolveScenario(options.scenario, options.overrides);
  const target = parseBaseUrl(options.baseUrl);
  const metricsHost = options.metricsHost ?? '127.0.0.1';
  if (metricsHost !== '127.0.0.1') throw new Error(`metricsHost must be 127.0.0.1, got ${String(metricsHost)}`);
  const metrics = new EngineMetrics(scenario);
  const server = await startMetricsServer(() => metrics.render(), metricsHost);
  return new Engine(scenario, target, metrics, server, options.lateStartBoundMs ?? LATE_START_BOUND_MS);
}

class Engine implements EmbeddedEngine {
  readonly metricsUrl: string;
  readonly metricsPort: number;
  private readonly pool: Pool;
  private readonly latency = new LatencyRecorder();
  private readonly rateWindow = new RateWindow();
  private setupOutcome: Promise<void> | undefined;
  private setupData: unknown;
  private activeRun: ArrivalRateRun | undefined;
  private runStarted = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly scenario: ResolvedScenario,
    private readonly target: { origin: string; basePath: string },
    private readonly metrics: EngineMetrics,
    private readonly server: MetricsServer,
    private readonly lateStartBoundMs: number,
  ) {
    this.metricsUrl = server.url;
    this.metricsPort = server.port;
    this.pool = new Pool(target.origin, {
      // One connection per VU: a request never waits in the pool's queue for a free socket.
      connections: scenario.maxVUs,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      connectTimeout: 10_000,
    });
  }

  setup(signal?: AbortSignal): Promise<void> {
    this.setupOutcome ??= this.runSetup(signal ?? new AbortController().signal);
    return this.setupOutcome;
  }

  async run(signal?: AbortSignal): Promise<LoadSummary> {
    if (this.runStarted) throw new Error('run() may be called once per engine; create another engine for another run');
    if (this.closing !== undefined) throw new Error('the engine is closed');
    this.runStarted = true;
    await this.setup(signal);
    if (this.closing !== undefined) throw new Error('the engine was closed during setup');
    this.activeRun = new ArrivalRateRun({
      scenario: this.scenario,
      dispatcher: this.pool,
      basePath: this.target.basePath,
      setupData: this.setupData,
      metrics: this.metrics,
      latency: this.latency,
      rateWindow: this.rateWindow,
      lateStartBoundMs: this.lateStartBoundMs,
    });
    return this.activeRun.run(signal);
  }

  live(): LiveStats {
    if (this.activeRun !== undefined) return this.activeRun.live();
    return { elapsedMs: 0, totalMs: this.scenario.durationMs, requests: 0, ratePerSec: 0, errors: 0, p95Ms: 0, droppedIterations: 0, inFlight: 0 };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.activeRun?.stopNow();
      // destroy, not close: interrupted requests must not keep sockets (or this process) alive.
      await Promise.allSettled([this.pool.destroy(), this.server.close()]);
    })();
    return this.closing;
  }

  private async runSetup(signal: AbortSignal): Promise<void> {
    const setup = this.scenario.setup;
    if (setup === undefined) return;
    signal.throwIfAborted();
    const http = createSetupHttp({ dispatcher: this.pool, basePath: this.target.basePath, signal });
    try {
      this.setupData = await setup({ baseUrl: this.target.origin + this.target.basePath, http, signal });
    } catch (error) {
      throw new Error(`setup of scenario ${JSON.stringify(this.scenario.name)} failed: ${(error as Error).message}`, { cause: error });
    }
  }
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
