/**
 * Running real k6: the `k6 run` command line, whether k6 is usable here (`resilience doctor`), and
 * what k6's exit code means for the harness's.
 *
 * Metrics go to the run's Prometheus through k6's `experimental-prometheus-rw` output (Prometheus
 * must run with `--web.enable-remote-write-receiver`). k6 maps trends either to one gauge per stat
 * (`k6_http_req_duration_p99`, K6_PROMETHEUS_RW_TREND_STATS) — a value per push, which no
 * Prometheus function can turn into a quantile over a phase — or, with
 * K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM, into one native histogram `k6_http_req_duration_seconds`
 * that `histogram_quantile` reads over any window. Native histograms are the default here; they need
 * Prometheus ≥ 2.40 started with `--enable-feature=native-histograms` (2.42 on this machine has it).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode } from '../../scripts/exit-codes.ts';
import type { ExitCodeValue } from '../../scripts/exit-codes.ts';

/** Async `setup()` (what runtime.ts exports) is awaited by k6 from 0.57 on. */
export const MIN_K6_VERSION = { major: 0, minor: 57, patch: 0 } as const;

/** Trend stats sent as gauges when native histograms are off. */
export const DEFAULT_RW_TREND_STATS: readonly string[] = ['p(95)', 'p(99)', 'min', 'max', 'avg', 'med'];

export interface K6RunInput {
  /** The bundled script (`bundle.ts`). */
  scriptPath: string;
  /** Target of the load, passed as `-e BASE_URL=…`. */
  baseUrl: string;
  /** Tagged on every sample as `testid`, so one Prometheus keeps runs apart. */
  runId: string;
  /** The run's Prometheus, e.g. `http://127.0.0.1:9090`; k6 writes to `<url>/api/v1/write`. */
  prometheusUrl: string;
  /** Where k6 writes its end-of-test summary (JSON) for the report. */
  summaryPath: string;
  /** Default true (see the module comment). False: one gauge per {@link DEFAULT_RW_TREND_STATS} stat. */
  nativeHistograms?: boolean;
  /** How often k6 pushes to Prometheus. Default `1s`, the harness's scrape interval (k6's default is 5s). */
  pushInterval?: string;
  /** The k6 executable. Default `k6` (from PATH). */
  k6Binary?: string;
}

export interface K6Command {
  command: string;
  args: string[];
  /** Added to the environment k6 inherits. */
  env: Record<string, string>;
}

/** An input the command cannot be built from; the message names the field. */
export class K6ProcessError extends Error {
  override name = 'K6ProcessError';
}

/** The `k6 run` invocation for `input`. Pure. Throws K6ProcessError naming a malformed field. */
export function k6RunCommand(input: K6RunInput): K6Command {
  const prometheus = httpUrl(input.prometheusUrl, 'prometheusUrl');
  const baseUrl = httpUrl(input.baseUrl, 'baseUrl');
  if (!/^[A-Za-z0-9._-]+$/.test(input.runId)) throw new K6ProcessError(`runId: got ${JSON.stringify(input.runId)}; use letters, digits, ".", "_" and "-" only`);
  const pushInterval = input.pushInterval ?? '1s';
  if (!/^\d+(?:ms|s|m)$/.test(pushInterval)) throw new K6ProcessError(`pushInterval: got ${JSON.stringify(pushInterval)}; a duration such as "1s"`);
  const env: Record<string, string> = {
    K6_PROMETHEUS_RW_SERVER_URL: `${prometheus}/api/v1/write`,
    K6_PROMETHEUS_RW_PUSH_INTERVAL: pushInterval,
    // Ends every series when the test ends, so a phase after the load sees no stale last value.
    K6_PROMETHEUS_RW_STALE_MARKERS: 'true',
  };
  if (input.nativeHistograms ?? true) env.K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM = 'true';
  else env.K6_PROMETHEUS_RW_TREND_STATS = DEFAULT_RW_TREND_STATS.join(',');
  return {
    command: input.k6Binary ?? 'k6',
    args: [
      'run',
      '--out',
      'experimental-prometheus-rw',
      '--summary-export',
      input.summaryPath,
      '--tag',
      `testid=${input.runId}`,
      '-e',
      `BASE_URL=${baseUrl}`,
      '--no-color',
      input.scriptPath,
    ],
    env,
  };
}

function httpUrl(value: string, field: string): string {
  if (typeof value !== 'string' || !/^https?:\/\/[^/\s]+/.test(value)) throw new K6ProcessError(`${field}: got ${JSON.stringify(value)}; an http(s) URL such as http://127.0.0.1:9090`);
  return value.replace(/\/+$/, '');
}

/** What a k6 exit means for the harness. */
export interface K6ExitMeaning {
  harnessCode: ExitCodeValue;
  /** k6's name for the code (errext/exitcodes), or `ok`, `signal`, `unknown`. */
  k6Name: string;
  reason: string;
}

/**
 * k6's exit codes (go.k6.io/k6/errext/exitcodes). k6 exits 99 also when an `abortOnFail` threshold
 * stopped the test early; 105 is an external abort (SIGINT/SIGTERM), not a threshold.
 */
const K6_EXIT_CODES: Readonly<Record<number, { name: string; harnessCode: ExitCodeValue; reason: string }>> = {
  97: { name: 'CloudTestRunFailed', harnessCode: ExitCode.Environment, reason: 'the k6 cloud run failed (the harness does not use the cloud: check K6_CLOUD_* settings)' },
  98: { name: 'CloudFailedToGetProgress', harnessCode: ExitCode.Environment, reason: 'k6 could not get progress from the cloud' },
  99: { name: 'ThresholdsHaveFailed', harnessCode: ExitCode.SloFailed, reason: 'a k6 threshold failed (an SLO exported as a threshold)' },
  100: { name: 'SetupTimeout', harnessCode: ExitCode.Inconclusive, reason: 'setup() exceeded setupTimeout: no load was run' },
  101: { name: 'TeardownTimeout', harnessCode: ExitCode.Inconclusive, reason: 'teardown() exceeded teardownTimeout' },
  102: { name: 'GenericTimeout', harnessCode: ExitCode.Inconclusive, reason: 'k6 timed out' },
  103: { name: 'ScriptStoppedFromRESTAPI', harnessCode: ExitCode.Interrupted, reason: 'the test was stopped through k6’s REST API' },
  104: { name: 'InvalidConfig', harnessCode: ExitCode.InvalidConfig, reason: 'k6 refused the options or the command line' },
  105: { name: 'ExternalAbort', harnessCode: ExitCode.Interrupted, reason: 'k6 was interrupted (SIGINT/SIGTERM)' },
  106: { name: 'CannotStartRESTAPI', harnessCode: ExitCode.Environment, reason: 'k6 could not start its REST API (port 6565 in use? pass --address)' },
  107: { name: 'ScriptException', harnessCode: ExitCode.Inconclusive, reason: 'the script threw (e.g. setup failed): the load did not run as planned' },
  108: { name: 'ScriptAborted', harnessCode: ExitCode.Inconclusive, reason: 'the script called test.abort()' },
};

/**
 * The harness exit code for k6's `code` (or the `signal` that killed it). 0 passes as far as k6
 * knows (the SLOs are still judged from Prometheus); an unknown code is inconclusive, never a pass.
 */
export function mapK6ExitCode(code: number | null, signal: NodeJS.Signals | null = null): K6ExitMeaning {
  if (code === 0) return { harnessCode: ExitCode.Pass, k6Name: 'ok', reason: 'k6 finished and every threshold passed' };
  if (code === null) {
    const interrupted = signal === 'SIGINT' || signal === 'SIGTERM';
    return {
      harnessCode: interrupted ? ExitCode.Interrupted : ExitCode.Inconclusive,
      k6Name: 'signal',
      reason: `k6 was killed by ${signal ?? 'an unknown signal'}`,
    };
  }
  const known = K6_EXIT_CODES[code];
  if (known !== undefined) return { harnessCode: known.harnessCode, k6Name: known.name, reason: `k6 exit ${code} (${known.name}): ${known.reason}` };
  return { harnessCode: ExitCode.Inconclusive, k6Name: 'unknown', reason: `k6 exit ${code}: not one of k6's documented codes (see k6's output)` };
}

export type K6Availability = { ok: true; path: string; version: string } | { ok: false; reason: string };

/** `k6 v0.57.0 (go1.23.6, linux/amd64)` → `0.57.0`; undefined when the text has no version. */
export function parseK6Version(output: string): string | undefined {
  return /\bk6 v(\d+\.\d+\.\d+)/.exec(output)?.[1];
}

function versionAtLeastMinimum(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number);
  const min = MIN_K6_VERSION;
  if (major !== min.major) return major > min.major;
  if (minor !== min.minor) return minor > min.minor;
  return patch >= min.patch;
}

/**
 * Whether k6 can run the harness's scripts: `k6` on PATH (of `env`, default process.env) and
 * `k6 version` at least {@link MIN_K6_VERSION}. Otherwise the reason and the fix, for `resilience doctor`.
 */
export async function k6Available(env: NodeJS.ProcessEnv = process.env): Promise<K6Availability> {
  const found = await findOnPath('k6', env.PATH ?? '');
  const minimum = `${MIN_K6_VERSION.major}.${MIN_K6_VERSION.minor}.${MIN_K6_VERSION.patch}`;
  if (found === undefined) return { ok: false, reason: `k6 is not on PATH: install k6 ≥ ${minimum} (https://grafana.com/docs/k6/latest/set-up/install-k6/)` };
  const result = await runToEnd(found, ['version'], env, 10_000);
  if (result.code !== 0) return { ok: false, reason: `\`${found} version\` exited ${result.code ?? result.signal}: ${result.output.trim().slice(-300)}` };
  const version = parseK6Version(result.output);
  if (version === undefined) return { ok: false, reason: `\`${found} version\` printed no k6 version: ${JSON.stringify(result.output.trim().slice(0, 200))}` };
  if (!versionAtLeastMinimum(version)) return { ok: false, reason: `k6 ${version} at ${found} is older than ${minimum} (async setup is not awaited): upgrade k6` };
  return { ok: true, path: found, version };
}

async function findOnPath(name: string, searchPath: string): Promise<string | undefined> {
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; next PATH entry
    }
  }
  return undefined;
}

export interface K6RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  meaning: K6ExitMeaning;
  /** The end of k6's stdout and stderr together (the last 64 KiB), for the report. */
  output: string;
}

export interface RunK6Options {
  /** Aborting sends SIGINT (k6 stops gracefully, keeps its summary); SIGKILL after `killAfterMs`. */
  signal?: AbortSignal;
  /** Default 30 000 ms, k6's default gracefulStop. */
  killAfterMs?: number;
  /** Base environment; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Runs `command` to its end and maps its exit. Rejects only when k6 cannot be started at all. */
export async function runK6(command: K6Command, options: RunK6Options = {}): Promise<K6RunResult> {
  const env = { ...(options.env ?? process.env), ...command.env };
  const result = await runToEnd(command.command, command.args, env, undefined, options.signal, options.killAfterMs ?? 30_000);
  return { code: result.code, signal: result.signal, meaning: mapK6ExitCode(result.code, result.signal), output: result.output };
}

const OUTPUT_LIMIT = 64 * 1024;

function runToEnd(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs?: number,
  abort?: AbortSignal,
  killAfterMs = 5_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timers: NodeJS.Timeout[] = [];
    const stop = (): void => {
      child.kill('SIGINT');
      timers.push(setTimeout(() => child.kill('SIGKILL'), killAfterMs));
    };
    if (timeoutMs !== undefined) timers.push(setTimeout(stop, timeoutMs));
    if (abort?.aborted) stop();
    abort?.addEventListener('abort', stop, { once: true });
    child.on('error', (error) => {
      timers.forEach(clearTimeout);
      abort?.removeEventListener('abort', stop);
      reject(new K6ProcessError(`cannot start ${command}: ${error.message}; is k6 installed (resilience doctor)?`));
    });
    child.on('close', (code, signal) => {
      timers.forEach(clearTimeout);
      abort?.removeEventListener('abort', stop);
      resolve({ code, signal, output });
    });
  });
}
