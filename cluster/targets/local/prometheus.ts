import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { ManagedProcess } from './managed-process.ts';
import { freePort } from './ports.ts';
import { findBinary, requireBinary, ServiceStartError } from './binaries.ts';
import { waitUntil, WaitTimeoutError } from '../../../scripts/util/wait.ts';

/**
 * The local target's Prometheus: renders its config, validates it with promtool, starts the
 * binary in a caller-owned directory and waits until it is ready and sees its targets.
 *
 * Only `slo/` queries metrics; this module talks to Prometheus's lifecycle and target endpoints
 * (`/-/ready`, `/-/reload`, `/api/v1/targets`) only, to manage the process.
 */

export interface ScrapeJob {
  /** The scrape job's name, which becomes the `job` label ("k6", "hastecrm-api"). */
  job: string;
  /** `host:port` of each target. */
  targets: string[];
  /** Default `/metrics`. */
  metricsPath?: string;
  /** Extra labels attached to every series of these targets. */
  labels?: Record<string, string>;
}

export interface PrometheusConfigOptions {
  /** Scrape and rule evaluation interval; the harness uses 1 s. */
  scrapeIntervalSeconds: number;
  jobs: ScrapeJob[];
  /** Rule files, absolute or relative to the directory of the config file. */
  ruleFiles: string[];
}

/** Thrown for options that cannot make a valid Prometheus config (a usage error, nothing started). */
export class InvalidPrometheusConfigError extends Error {
  override name = 'InvalidPrometheusConfigError';
}

const JOB_NAME = /^[a-zA-Z0-9_.:-]+$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const HOST_PORT = /^[^\s/:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/;

/**
 * Renders a Prometheus config (YAML). Pure: the same options give the same text. The scrape
 * timeout equals the interval (Prometheus rejects a timeout longer than the interval), so a target
 * slower than one interval is recorded as `up == 0` — which the evaluator treats as data.
 *
 * Throws `InvalidPrometheusConfigError` for a non-positive interval, duplicate or malformed job
 * names, targets that are not `host:port`, or invalid label names.
 */
export function renderPrometheusConfig(options: PrometheusConfigOptions): string {
  const { scrapeIntervalSeconds, jobs, ruleFiles } = options;
  if (!Number.isFinite(scrapeIntervalSeconds) || scrapeIntervalSeconds <= 0) {
    throw new InvalidPrometheusConfigError(`scrapeIntervalSeconds must be a positive number of seconds, got ${scrapeIntervalSeconds}`);
  }
  const interval = formatDuration(scrapeIntervalSeconds);
  const seen = new Set<string>();
  const scrapeConfigs = jobs.map((job) => {
    if (!JOB_NAME.test(job.job)) throw new InvalidPrometheusConfigError(`job name ${JSON.stringify(job.job)} is not a valid scrape job name`);
    if (seen.has(job.job)) throw new InvalidPrometheusConfigError(`job ${job.job} is listed twice; scrape job names must be unique`);
    seen.add(job.job);
    if (job.targets.length === 0) throw new InvalidPrometheusConfigError(`job ${job.job} has no targets`);
    for (const target of job.targets) {
      if (!HOST_PORT.test(target)) throw new InvalidPrometheusConfigError(`job ${job.job}: target ${JSON.stringify(target)} is not host:port`);
    }
    for (const name of Object.keys(job.labels ?? {})) {
      if (!LABEL_NAME.test(name)) throw new InvalidPrometheusConfigError(`job ${job.job}: ${JSON.stringify(name)} is not a valid label name`);
    }
    const metricsPath = job.metricsPath ?? '/metrics';
    if (!metricsPath.startsWith('/')) throw new InvalidPrometheusConfigError(`job ${job.job}: metricsPath must start with "/", got ${JSON.stringify(metricsPath)}`);
    const staticConfig: { targets: string[]; labels?: Record<string, string> } = { targets: [...job.targets] };
    if (job.labels && Object.keys(job.labels).length > 0) staticConfig.labels = { ...job.labels };
    return { job_name: job.job, metrics_path: metricsPath, static_configs: [staticConfig] };
  });
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: [...ruleFiles],
    scrape_configs: scrapeConfigs,
  };
  return stringify(config);
}

/** Prometheus durations take integer units: whole seconds as "1s", anything else in milliseconds. */
function formatDuration(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}

export interface StartPrometheusOptions {
  /** A directory the caller owns (and removes): the config, the TSDB and the log are written here. */
  dir: string;
  /** The config YAML, e.g. from `renderPrometheusConfig`. */
  config: string;
  /** Default: a free port chosen by the kernel (retried if another process takes it first). */
  port?: number;
  /** Aborts the readiness wait; the process is stopped before the promise rejects. */
  signal?: AbortSignal;
  /** Default 30 s. */
  readyTimeoutMs?: number;
  /** The prometheus binary; default `prometheus` on PATH (MissingBinaryError with the install command when absent). */
  binary?: string;
  /** The promtool binary; default the `promtool` beside `binary`, else on PATH. Validation is skipped when none exists. */
  promtool?: string;
  /**
   * `--enable-feature=native-histograms`: needed to store the native histograms real k6 remote-writes
   * (its request duration). Off by default: with it on, Prometheus 2.42 also prefers the protobuf
   * scrape format, which nothing the engine path relies on should change.
   */
  nativeHistograms?: boolean;
}

export interface RunningPrometheus {
  process: ManagedProcess;
  port: number;
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  /** Path of the config file Prometheus reads. */
  configFile: string;
  /**
   * Validates (promtool, when available), writes and applies a new config via `POST /-/reload`.
   * Resolves once Prometheus has accepted it; rejects with promtool's or Prometheus's message and
   * leaves the previous config running when it is invalid. Not to be called concurrently.
   * Prometheus 2.42 applies changed scrape targets on its next target update (up to 5 s later):
   * use `waitForTargetsUp` before relying on a new target.
   */
  reloadConfig(newYaml: string): Promise<void>;
  /** Stops the process (SIGTERM, SIGKILL after a grace period). Idempotent, safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown when `promtool check config` rejects a config; the message is promtool's. */
export class PrometheusConfigCheckError extends Error {
  override name = 'PrometheusConfigCheckError';
}

const PORT_ATTEMPTS = 3;

/**
 * Starts Prometheus on 127.0.0.1 and resolves once `/-/ready` answers 200.
 *
 * The config is checked with `promtool check config` first (which also checks the rule files it
 * names), so a bad rules file fails at once with promtool's message (PrometheusConfigCheckError)
 * instead of as a timeout. A missing binary throws MissingBinaryError; a process that exits or is
 * not ready in time throws ServiceStartError with its log tail (both: exit code 4). On any failure
 * the process is stopped before the promise rejects: the caller has nothing to clean up except its
 * directory.
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<RunningPrometheus> {
  const binary = options.binary ?? requireBinary('prometheus');
  // promtool from the same installation as the binary first, then PATH.
  const promtool = options.promtool ?? findBinary('promtool', { path: [path.dirname(binary), process.env.PATH ?? ''].join(path.delimiter) });
  const configFile = path.join(options.dir, 'prometheus.yml');
  const tsdbDir = path.join(options.dir, 'tsdb');
  const logFile = path.join(options.dir, 'prometheus.log');
  await mkdir(tsdbDir, { recursive: true });
  await writeFile(configFile, options.config);
  if (promtool) await checkConfig(promtool, configFile);

  // A port chosen by freePort() may be taken by someone else before Prometheus binds it: retry
  // with a new one, a bounded number of times. A port given by the caller is not retried.
  const attempts = options.port === undefined ? PORT_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await startOnPort({ ...options, binary, promtool, configFile, tsdbDir, logFile, port });
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= attempts) throw error instanceof PortTakenError ? error.startError : error;
    }
  }
}

class PortTakenError extends Error {
  constructor(readonly startError: ServiceStartError) {
    super(startError.message);
  }
}

async function startOnPort(
  options: StartPrometheusOptions & { binary: string; promtool: string | undefined; configFile: string; tsdbDir: string; logFile: string; port: number },
): Promise<RunningPrometheus> {
  const { binary, promtool, configFile, tsdbDir, logFile, port } = options;
  const url = `http://127.0.0.1:${port}`;
  const child = await ManagedProcess.start({
    name: 'prometheus',
    command: binary,
    args: [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${tsdbDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--web.enable-remote-write-receiver',
      '--storage.tsdb.retention.time=1d',
      ...(options.nativeHistograms === true ? ['--enable-feature=native-histograms'] : []),
    ],
    logFile,
  });
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const stopWaiting = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stopWaiting.signal]) : stopWaiting.signal;
  // An early exit (bad flag, port taken) ends the wait at once instead of at the deadline.
  const exitedEarly = child.exited.then((exit) =>
    Promise.reject(new Error(`Prometheus exited before it was ready (code ${exit.code}, signal ${exit.signal})`)),
  );
  void exitedEarly.catch(() => undefined); // only observed while racing readiness; a later exit is stop()'s business
  try {
    await Promise.race([waitUntil(() => isOurPrometheusReady(url, tsdbDir), { what: `Prometheus on ${url}`, timeoutMs, signal, intervalMs: 50 }), exitedEarly]);
  } catch (error) {
    stopWaiting.abort();
    await child.stop({ graceMs: 2_000 });
    if (options.signal?.aborted) throw options.signal.reason;
    const tail = await child.logTail(20);
    const message = error instanceof Error ? error.message : String(error);
    const startError = new ServiceStartError('prometheus', `${message} (log: ${logFile})`, tail, { cause: error });
    if (/address already in use/i.test(tail)) throw new PortTakenError(startError);
    throw startError;
  } finally {
    stopWaiting.abort();
  }

  let runningConfig = options.config;
  return {
    process: child,
    port,
    url,
    configFile,
    async reloadConfig(newYaml: string): Promise<void> {
      const candidate = `${configFile}.next`;
      await writeFile(candidate, newYaml);
      if (promtool) await checkConfig(promtool, candidate);
      await writeFile(configFile, newYaml);
      const response = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      const body = await response.text();
      if (!response.ok) {
        // Prometheus keeps running the previous config; keep the file in step with it.
        await writeFile(configFile, runningConfig);
        throw new PrometheusConfigCheckError(`Prometheus rejected the new config (HTTP ${response.status}): ${body.trim()}`);
      }
      runningConfig = newYaml;
    },
    stop: () => child.stop({ graceMs: 5_000 }),
  };
}

/**
 * Ready, and really ours: another process (an older Prometheus) may answer on the port while ours
 * fails to bind it, so the answer must come from the instance writing to our TSDB directory.
 */
async function isOurPrometheusReady(url: string, tsdbDir: string): Promise<boolean> {
  const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
  await ready.body?.cancel();
  if (!ready.ok) return false;
  const flags = await fetch(`${url}/api/v1/status/flags`, { signal: AbortSignal.timeout(1_000) });
  const body = (await flags.json()) as { data?: Record<string, string> };
  const servedTsdb = body.data?.['storage.tsdb.path'];
  if (servedTsdb !== tsdbDir) throw new Error(`another process answers on ${url} (its TSDB is ${servedTsdb ?? 'unknown'})`);
  return true;
}

async function checkConfig(promtool: string, configFile: string): Promise<void> {
  const result = await execa(promtool, ['check', 'config', configFile], { reject: false, timeout: 30_000, all: true });
  if (result.exitCode !== 0) {
    throw new PrometheusConfigCheckError(`promtool check config ${configFile} failed:\n${(result.all ?? '').trim()}`);
  }
}

export interface WaitForTargetsOptions {
  /** Every target of these scrape jobs must be `up`; a job without targets is never satisfied. */
  jobs: string[];
  timeoutMs: number;
  signal?: AbortSignal;
}

interface TargetState {
  job: string;
  scrapeUrl: string;
  health: string;
  lastError: string;
}

/** Thrown when some targets were not `up` in time; `notUp` lists them with Prometheus's lastError. */
export class TargetsNotUpError extends Error {
  override name = 'TargetsNotUpError';
  constructor(
    message: string,
    readonly notUp: readonly { job: string; scrapeUrl: string; health: string; lastError: string }[],
  ) {
    super(message);
  }
}

/**
 * Polls `/api/v1/targets` until every target of `jobs` has health "up" (it has been scraped
 * successfully at least once), so load does not start before Prometheus sees everything.
 * Allow ~6 s after start: Prometheus 2.42 hands new targets to its scrapers on a 5 s tick.
 */
export async function waitForTargetsUp(prometheusUrl: string, options: WaitForTargetsOptions): Promise<void> {
  let last: { notUp: TargetState[]; missingJobs: string[] } | undefined;
  try {
    await waitUntil(
      async () => {
        const targets = await activeTargets(prometheusUrl);
        const wanted = targets.filter((t) => options.jobs.includes(t.job));
        const missingJobs = options.jobs.filter((job) => !wanted.some((t) => t.job === job));
        const notUp = wanted.filter((t) => t.health !== 'up');
        last = { notUp, missingJobs };
        return notUp.length === 0 && missingJobs.length === 0;
      },
      { what: `targets of ${options.jobs.join(', ')}`, timeoutMs: options.timeoutMs, signal: options.signal, intervalMs: 100 },
    );
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    if (!last) throw new TargetsNotUpError(`could not read Prometheus's targets within ${options.timeoutMs} ms: ${error.message}`, []);
    const lines = [
      ...last.missingJobs.map((job) => `job ${job}: no targets configured`),
      ...last.notUp.map((t) => `job ${t.job}: ${t.scrapeUrl} is ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`),
    ];
    throw new TargetsNotUpError(`Prometheus targets not up within ${options.timeoutMs} ms:\n  ${lines.join('\n  ')}`, last.notUp);
  }
}

async function activeTargets(prometheusUrl: string): Promise<TargetState[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`GET /api/v1/targets answered HTTP ${response.status}`);
  const body = (await response.json()) as { data?: { activeTargets?: { scrapePool?: string; scrapeUrl?: string; health?: string; lastError?: string }[] } };
  return (body.data?.activeTargets ?? []).map((t) => ({
    job: t.scrapePool ?? '',
    scrapeUrl: t.scrapeUrl ?? '',
    health: t.health ?? 'unknown',
    lastError: t.lastError ?? '',
  }));
}
