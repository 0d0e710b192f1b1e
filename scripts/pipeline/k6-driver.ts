/**
 * The load drivers a run can use, behind one interface: the embedded engine (scraped by
 * Prometheus) or real k6 (pushing to Prometheus through remote write). Which one is chosen, and
 * why, is decided at plan time (`chooseLoadDriver`) so that `resilience plan` prints it.
 *
 * What differs between the two, and is therefore part of the interface:
 * - metrics: the engine serves /metrics for a scrape job; k6 remote-writes, so there is no scrape
 *   job, and Prometheus must run with the remote-write receiver and native histograms (k6's request
 *   duration is a native histogram: the client latency SLO is rendered for it, see slo/promql.ts);
 * - setup: the engine runs the scenario's setup as its own stage; k6 runs it inside `k6 run`;
 * - the summary: the engine measures everything itself; from k6 only what its summary export
 *   holds is known (see {@link loadSummaryFromK6}).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MissingBinaryError } from '../../cluster/targets/local/binaries.ts';
import type { EmbeddedEngine } from '../../scenarios/engine/engine.ts';
import type { ResolvedScenario } from '../../scenarios/engine/resolve.ts';
import type { CheckCounts, LoadSummary } from '../../scenarios/engine/results.ts';
import { bundleScenario } from '../../scenarios/k6/bundle.ts';
import { k6Available, k6RunCommand, runK6, type K6Availability, type K6ExitMeaning } from '../../scenarios/k6/k6-process.ts';
import type { HistogramStorage } from '../../slo/promql.ts';
import type { Progress } from '../cli/progress.ts';
import { formatDuration } from '../util/duration.ts';

/** What `--load` accepts. */
export const LOAD_CHOICES = ['auto', 'k6', 'engine'] as const;
export type LoadChoice = (typeof LOAD_CHOICES)[number];
export type LoadDriverKind = 'engine' | 'k6';

/** The driver a plan will use, and why, in words. */
export interface LoadDriverChoice {
  driver: LoadDriverKind;
  reason: string;
  /** The k6 found on PATH, when k6 was chosen. */
  k6?: { path: string; version: string };
}

/** `--load k6` on a machine where k6 cannot run (exit 4, as a missing binary is). */
export class K6UnavailableError extends MissingBinaryError {
  constructor(reason: string) {
    super('k6');
    this.name = 'K6UnavailableError';
    this.message = `--load k6: k6 cannot run here: ${reason}; install it, or pass --load engine (or auto)`;
  }
}

/**
 * Decides the driver for `--load <choice>`. `auto`: k6 when `k6Available()` says it runs, else the
 * embedded engine. `k6`: k6 or K6UnavailableError naming the reason. `engine`: the engine.
 * Throws a plain Error naming the value for anything else (the CLI validates it first).
 */
export async function chooseLoadDriver(choice: string, availability: () => Promise<K6Availability> = () => k6Available()): Promise<LoadDriverChoice> {
  if (choice === 'engine') return { driver: 'engine', reason: '--load engine' };
  if (choice !== 'k6' && choice !== 'auto') throw new Error(`--load: got ${JSON.stringify(choice)}; use one of ${LOAD_CHOICES.join(', ')}`);
  const k6 = await availability();
  if (k6.ok) return { driver: 'k6', reason: `${choice === 'k6' ? '--load k6' : 'auto'}: k6 ${k6.version} at ${k6.path}`, k6: { path: k6.path, version: k6.version } };
  if (choice === 'k6') throw new K6UnavailableError(k6.reason);
  return { driver: 'engine', reason: `auto: ${k6.reason}` };
}

/** One line for `resilience doctor`: whether k6 runs here and which version, or why not. */
export async function describeK6(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const k6 = await k6Available(env);
  return k6.ok ? `k6 ${k6.version} at ${k6.path}: \`resilience run\` drives real k6 (--load auto)` : `k6 not usable: ${k6.reason}; runs use the embedded engine`;
}

/** How the driver's latency histogram reaches Prometheus (what the client latency SLO is rendered for). */
export function clientHistogramsOf(driver: LoadDriverKind): HistogramStorage {
  return driver === 'k6' ? 'native' : 'classic';
}

/** What the pipeline asks of a load driver. */
export interface LoadDriver {
  readonly kind: LoadDriverKind;
  /** `127.0.0.1:<port>` for the scrape job of the load's metrics; undefined when the driver pushes them (k6). */
  readonly scrapeTarget: string | undefined;
  /** Runs the scenario's setup before the load (the engine); a no-op where the driver does it itself (k6). */
  setup(signal: AbortSignal): Promise<void>;
  /**
   * Runs the load and resolves with its summary. `prometheusUrl` is where a pushing driver writes.
   * Problems that do not invalidate the load (k6's own failure reasons) go to `notes`.
   */
  run(signal: AbortSignal, prometheusUrl: string, notes: string[]): Promise<LoadSummary>;
  /** Called every 500 ms while the load runs: updates the live progress line. */
  showLive(progress: Progress): void;
  close(): Promise<void>;
}

/** The embedded engine as a LoadDriver (its behaviour unchanged). */
export function engineDriver(engine: EmbeddedEngine): LoadDriver {
  return {
    kind: 'engine',
    scrapeTarget: `127.0.0.1:${engine.metricsPort}`,
    setup: (signal) => engine.setup(signal),
    run: (signal) => engine.run(signal),
    showLive: (progress) => progress.live(engine.live()),
    close: () => engine.close(),
  };
}

export interface K6DriverOptions {
  /** The scenario file as the suite names it. */
  scenarioFile: string;
  /** The scenario as the plan resolved it (overrides applied): its rate and duration are k6's too. */
  scenario: ResolvedScenario;
  /** Whether the suite overrides rate or duration (they are then written into a wrapper scenario). */
  overridden: boolean;
  baseUrl: string;
  runId: string;
  /** The bundle is written here. */
  workDir: string;
  /** The run folder: k6's summary export is kept here as `k6-summary.json` for the report. */
  runDir: string;
  /** Default `k6` on PATH. */
  k6Binary?: string;
  /** Base environment for k6; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The file k6's summary export is kept in, inside the run folder. */
export const K6_SUMMARY_FILE = 'k6-summary.json';

/** A driver that runs `k6 run` on the bundled scenario. The bundle is built in `setup`. */
export function k6Driver(options: K6DriverOptions): LoadDriver {
  let scriptPath: string | undefined;
  let startedAt: number | undefined;
  let lastLive = 0;
  const totalMs = options.scenario.durationMs;
  const stop = new AbortController();
  return {
    kind: 'k6',
    scrapeTarget: undefined,
    async setup() {
      // Bundling only: the scenario's own setup runs inside k6 (k6's setup()).
      const scenarioFile = options.overridden ? await writeOverrideWrapper(options) : path.resolve(options.scenarioFile);
      scriptPath = (await bundleScenario({ scenarioFile, outDir: path.join(options.workDir, 'k6') })).scriptPath;
    },
    async run(signal, prometheusUrl, notes) {
      if (scriptPath === undefined) throw new Error('internal: the k6 driver ran before its setup bundled the scenario');
      await mkdir(options.runDir, { recursive: true });
      const summaryPath = path.join(options.runDir, K6_SUMMARY_FILE);
      const command = k6RunCommand({ scriptPath, baseUrl: options.baseUrl, runId: options.runId, prometheusUrl, summaryPath, ...(options.k6Binary ? { k6Binary: options.k6Binary } : {}) });
      startedAt = Date.now();
      const result = await runK6(command, { signal: AbortSignal.any([signal, stop.signal]), ...(options.env ? { env: options.env } : {}) });
      const durationMs = Date.now() - startedAt;
      if (result.meaning.k6Name !== 'ok') notes.push(describeK6Exit(result.meaning, result.output));
      if (!existsSync(summaryPath)) {
        notes.push(`k6 wrote no summary export (${summaryPath}): the load figures are unknown; the SLOs are judged from Prometheus only`);
        return emptySummary(options.scenario, durationMs);
      }
      try {
        return loadSummaryFromK6(JSON.parse(readFileSync(summaryPath, 'utf8')) as unknown, options.scenario, durationMs);
      } catch (error) {
        notes.push(`k6's summary export ${summaryPath} is not JSON (${(error as Error).message}): the load figures are unknown`);
        return emptySummary(options.scenario, durationMs);
      }
    },
    showLive(progress) {
      // k6 prints its own progress; the harness shows the elapsed time every 5 s rather than
      // parsing k6's text, whose format changes between versions.
      if (startedAt === undefined || Date.now() - lastLive < 5_000) return;
      lastLive = Date.now();
      progress.info(`load (k6) ${formatDuration(Date.now() - startedAt)} of ${formatDuration(totalMs)}: figures in k6's summary at the end, live series in Prometheus`);
    },
    close() {
      stop.abort(new Error('the k6 driver was closed'));
      return Promise.resolve();
    },
  };
}

/** k6's exit reason and the end of its output, for the result's notes. */
function describeK6Exit(meaning: K6ExitMeaning, output: string): string {
  const tail = output.trim().split('\n').slice(-5).join(' | ');
  return `${meaning.reason}${tail ? ` (k6 output: ${tail.slice(-600)})` : ''}`;
}

/**
 * The suite's rate/duration overrides applied to the scenario for k6: a wrapper module beside the
 * bundle that re-exports the scenario with the resolved rate and duration. Only constant-arrival-rate
 * has both as plain fields; for other executors the plan already refused overrides.
 */
async function writeOverrideWrapper(options: K6DriverOptions): Promise<string> {
  const executor = options.scenario.executor;
  if (executor !== 'constant-arrival-rate') throw new Error(`load.rate/load.duration under k6: scenario ${options.scenario.name} uses ${executor}; overrides reach k6 for constant-arrival-rate only: drop them or pass --load engine`);
  const dir = path.join(options.workDir, 'k6');
  await mkdir(dir, { recursive: true });
  const wrapper = path.join(dir, `${path.basename(options.scenarioFile).replace(/\.[cm]?[jt]s$/, '')}.mjs`);
  const overrides = { rate: options.scenario.ratePerSec, timeUnit: '1s', duration: `${options.scenario.durationMs}ms` };
  await writeFile(wrapper, `import scenario from ${JSON.stringify(path.resolve(options.scenarioFile))};\nexport default { ...scenario, ...${JSON.stringify(overrides)} };\n`);
  return wrapper;
}

function emptySummary(scenario: ResolvedScenario, durationMs: number): LoadSummary {
  return loadSummaryFromK6({}, scenario, durationMs);
}

/** What a k6 summary export (`--summary-export`) holds that the harness reads. */
interface K6SummaryExport {
  state?: { testRunDurationMs?: number };
  metrics?: Record<string, Record<string, number | undefined> | undefined>;
  root_group?: K6Group;
}
interface K6Group {
  checks?: Record<string, { name?: string; passes?: number; fails?: number }> | { name?: string; passes?: number; fails?: number }[];
  groups?: Record<string, K6Group> | K6Group[];
}

/**
 * The run's LoadSummary from k6's summary export. Known from it: requests (`http_reqs`), failed
 * requests (`http_req_failed`: its `passes` count the failures), dropped iterations, latency
 * percentiles (`http_req_duration`, measured by k6 from when the request was sent, not from the
 * scheduled start as the engine does) and check counts (per check name, over all requests).
 * Not in it, and reported as zero/empty: errors by kind (all counted as `other`), status counts,
 * interrupted iterations, the generator's self-health.
 */
export function loadSummaryFromK6(exported: unknown, scenario: ResolvedScenario, fallbackDurationMs?: number): LoadSummary {
  const data = (typeof exported === 'object' && exported !== null ? exported : {}) as K6SummaryExport;
  const metric = (name: string, field: string): number => {
    const value = data.metrics?.[name]?.[field];
    return typeof value === 'number' && Number.isFinite(value) ? value : 0;
  };
  const requests = Math.round(metric('http_reqs', 'count'));
  const errors = Math.round(metric('http_req_failed', 'passes'));
  const dropped = Math.round(metric('dropped_iterations', 'count'));
  // k6's test run duration includes setup; the load itself lasted at most the scenario's duration.
  const runMs = data.state?.testRunDurationMs ?? fallbackDurationMs ?? scenario.durationMs;
  const durationMs = Math.min(runMs, scenario.durationMs);
  return {
    scenario: scenario.name,
    executor: scenario.executor,
    targetRate: scenario.ratePerSec,
    durationMs,
    scheduled: requests + dropped,
    requests,
    errors,
    errorsByKind: { refused: 0, reset: 0, timeout: 0, http: 0, other: errors },
    errorSamples: errors > 0 ? { other: "k6's summary does not break errors down by kind: see k6's output and the Prometheus series by status" } : {},
    statusCounts: {},
    droppedIterations: dropped,
    interruptedIterations: 0,
    achievedRatePerSec: durationMs > 0 ? requests / (durationMs / 1000) : 0,
    latencyMs: {
      p50: metric('http_req_duration', 'med'),
      p90: metric('http_req_duration', 'p(90)'),
      p95: metric('http_req_duration', 'p(95)'),
      p99: metric('http_req_duration', 'p(99)'),
      max: metric('http_req_duration', 'max'),
    },
    checks: checksOf(data.root_group, scenario.name),
    selfHealth: { maxEventLoopLagMs: 0, meanCpuUtilization: 0, overloaded: false },
  };
}

/** Checks of a group and its subgroups (k6 writes them as objects keyed by name, or as arrays). */
function checksOf(group: K6Group | undefined, scenario: string, depth = 0): CheckCounts[] {
  if (group === undefined || depth > 16) return [];
  const checks = Array.isArray(group.checks) ? group.checks : Object.values(group.checks ?? {});
  const groups = Array.isArray(group.groups) ? group.groups : Object.values(group.groups ?? {});
  return [
    ...checks.map((c) => ({ scenario, request: '(all requests)', check: c.name ?? '(unnamed)', passes: c.passes ?? 0, fails: c.fails ?? 0 })),
    ...groups.flatMap((g) => checksOf(g, scenario, depth + 1)),
  ];
}
