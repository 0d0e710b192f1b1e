import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MissingBinaryError } from '../../cluster/targets/local/binaries.ts';
import { renderPrometheusConfig, startPrometheus, type RunningPrometheus } from '../../cluster/targets/local/prometheus.ts';
import { resolveScenario } from '../../scenarios/engine/resolve.ts';
import type { ScenarioDefinition } from '../../scenarios/types.ts';
import { evaluateSlos } from '../../slo/evaluate.ts';
import { PrometheusClient } from '../../slo/prometheus-client.ts';
import type { LatencySlo } from '../../slo/types.ts';
import type { LiveLine, Progress } from '../cli/progress.ts';
import { chooseLoadDriver, clientHistogramsOf, describeK6, K6_SUMMARY_FILE, K6UnavailableError, k6Driver, loadSummaryFromK6 } from './k6-driver.ts';

/**
 * The k6 driver with a TEST DOUBLE of the k6 binary (test/doubles/k6, first on PATH), a real HTTP
 * server on 127.0.0.1 and a real Prometheus 2.42 with the remote-write receiver and native
 * histograms: what the double pushes is stored and queried for real.
 */

const DOUBLE_DIR = fileURLToPath(new URL('../../test/doubles/k6/', import.meta.url));
const SCENARIO_FILE = path.join(DOUBLE_DIR, 'ping.scenario.ts');
const withDouble = { ...process.env, PATH: `${DOUBLE_DIR}${path.delimiter}${process.env.PATH ?? ''}` };

let server: Server | undefined;
let baseUrl = '';
let served = 0;
let prometheus: RunningPrometheus | undefined;
let scratch = '';

beforeAll(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'k6-driver-test-'));
  server = createServer((req, res) => {
    if (req.url === '/ping') served++;
    res.writeHead(req.url === '/ping' ? 200 : 404, { 'content-type': 'text/plain' }).end('pong');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  // Nothing to scrape but itself: the load's series arrive through remote write only.
  const config = renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [{ job: 'prometheus', targets: ['127.0.0.1:1'] }], ruleFiles: [] });
  prometheus = await startPrometheus({ dir: path.join(scratch, 'prometheus'), config, nativeHistograms: true, readyTimeoutMs: 20_000 });
}, 30_000);

afterAll(async () => {
  await prometheus?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const silentProgress = (): Progress & { infos: string[]; lives: LiveLine[] } => {
  const infos: string[] = [];
  const lives: LiveLine[] = [];
  return { infos, lives, stageStart: () => {}, stageEnd: () => {}, info: (m) => infos.push(m), warn: (m) => infos.push(m), live: (l) => lives.push(l), endLive: () => {} };
};

async function pingScenario(): Promise<ScenarioDefinition<unknown>> {
  return ((await import(SCENARIO_FILE)) as { default: ScenarioDefinition<unknown> }).default;
}

describe('chooseLoadDriver', () => {
  const available = () => Promise.resolve({ ok: true as const, path: '/opt/k6', version: '0.57.0' });
  const missing = () => Promise.resolve({ ok: false as const, reason: 'k6 is not on PATH' });

  it('auto picks k6 when it runs, the engine with the reason when it does not', async () => {
    expect(await chooseLoadDriver('auto', available)).toEqual({ driver: 'k6', reason: 'auto: k6 0.57.0 at /opt/k6', k6: { path: '/opt/k6', version: '0.57.0' } });
    expect(await chooseLoadDriver('auto', missing)).toEqual({ driver: 'engine', reason: 'auto: k6 is not on PATH' });
  });

  it('engine never looks for k6; k6 without k6 fails as a missing binary (exit 4) with the reason and the fix', async () => {
    expect(await chooseLoadDriver('engine', () => Promise.reject(new Error('must not be called')))).toEqual({ driver: 'engine', reason: '--load engine' });
    const error = await chooseLoadDriver('k6', missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(K6UnavailableError);
    expect(error).toBeInstanceOf(MissingBinaryError);
    expect((error as Error).message).toBe('--load k6: k6 cannot run here: k6 is not on PATH; install it, or pass --load engine (or auto)');
  });

  it('rejects an unknown choice, naming it', async () => {
    await expect(chooseLoadDriver('wrk', available)).rejects.toThrow('--load: got "wrk"; use one of auto, k6, engine');
  });

  it('uses the real k6 lookup by default: finds the double on PATH, refuses a version older than 0.57', async () => {
    expect(await describeK6(withDouble)).toMatch(/^k6 0\.57\.0 at .*test\/doubles\/k6\/k6: `resilience run` drives real k6/);
    expect(await describeK6({ ...withDouble, K6_DOUBLE_VERSION: '0.56.0' })).toMatch(/^k6 not usable: k6 0\.56\.0 .* is older than 0\.57\.0/);
    expect(await describeK6({ PATH: scratch })).toMatch(/^k6 not usable: k6 is not on PATH: install k6/);
    expect(clientHistogramsOf('k6')).toBe('native');
    expect(clientHistogramsOf('engine')).toBe('classic');
  });
});

describe('loadSummaryFromK6', () => {
  it('maps what the summary export holds and leaves the rest at zero', async () => {
    const scenario = resolveScenario(await pingScenario());
    const summary = loadSummaryFromK6(
      {
        state: { testRunDurationMs: 5_000 },
        metrics: {
          http_reqs: { count: 80, rate: 16 },
          http_req_failed: { passes: 3, fails: 77, value: 0.0375 },
          http_req_duration: { med: 2, 'p(90)': 4, 'p(95)': 5, 'p(99)': 9, max: 12 },
          dropped_iterations: { count: 2 },
        },
        root_group: { checks: { 'status is 200': { name: 'status is 200', passes: 77, fails: 3 } }, groups: { g: { checks: [{ name: 'inner', passes: 1, fails: 0 }] } } },
      },
      scenario,
    );
    expect(summary).toMatchObject({
      scenario: 'ping',
      executor: 'constant-arrival-rate',
      targetRate: 20,
      durationMs: 4_000, // the run's 5 s include setup: capped at the scenario's duration
      requests: 80,
      errors: 3,
      errorsByKind: { refused: 0, reset: 0, timeout: 0, http: 0, other: 3 },
      droppedIterations: 2,
      scheduled: 82,
      achievedRatePerSec: 20,
      latencyMs: { p50: 2, p90: 4, p95: 5, p99: 9, max: 12 },
      checks: [
        { scenario: 'ping', request: '(all requests)', check: 'status is 200', passes: 77, fails: 3 },
        { scenario: 'ping', request: '(all requests)', check: 'inner', passes: 1, fails: 0 },
      ],
    });
    expect(summary.errorSamples.other).toMatch(/does not break errors down by kind/);
  });

  it('gives zeros, not NaN, for an empty or malformed export', async () => {
    const scenario = resolveScenario(await pingScenario());
    const summary = loadSummaryFromK6('not an object', scenario, 1_000);
    expect(summary).toMatchObject({ requests: 0, errors: 0, durationMs: 1_000, achievedRatePerSec: 0, checks: [], errorSamples: {} });
  });
});

describe('k6Driver with the k6 test double', () => {
  it('bundles, runs k6 against the target, keeps the summary, and its latency is queryable as a native histogram', async () => {
    const definition = await pingScenario();
    const runDir = path.join(scratch, 'run-ok');
    const log = path.join(scratch, 'k6-calls.jsonl');
    const driver = k6Driver({ scenarioFile: SCENARIO_FILE, scenario: resolveScenario(definition), overridden: false, baseUrl, runId: 'ping-run-1', workDir: path.join(scratch, 'work-ok'), runDir, env: { ...withDouble, K6_DOUBLE_LOG: log } });
    expect(driver.scrapeTarget).toBeUndefined();
    await driver.setup(new AbortController().signal);
    const notes: string[] = [];
    const before = served;
    const start = Date.now();
    const summary = await driver.run(new AbortController().signal, prometheus!.url, notes);
    const end = Date.now();
    await driver.close();

    expect(notes).toEqual([]);
    expect(served - before).toBe(summary.requests);
    // 20/s for 4 s: 80 iterations scheduled; a loaded machine may drop a few, never invent any.
    expect(summary.requests + summary.droppedIterations).toBe(80);
    expect(summary.requests).toBeGreaterThan(60);
    expect(summary.errors).toBe(0);
    expect(summary.checks).toEqual([{ scenario: 'ping', request: '(all requests)', check: 'status is 200', passes: summary.requests, fails: 0 }]);
    expect(existsSync(path.join(runDir, K6_SUMMARY_FILE))).toBe(true);
    const call = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').at(-1)!) as { args: string[]; rw: string; native: string };
    expect(call.rw).toBe(`${prometheus!.url}/api/v1/write`);
    expect(call.native).toBe('true');
    expect(call.args).toContain('testid=ping-run-1');

    // Everything the double pushed is in Prometheus: the counter and the native histogram agree.
    const client = new PrometheusClient({ url: prometheus!.url });
    const total = await client.instantQuery('sum(k6_http_reqs_total{testid="ping-run-1"})', end);
    expect(total[0]?.value).toBe(summary.requests);
    const count = await client.instantQuery('histogram_count(sum(k6_http_req_duration_seconds{testid="ping-run-1"}))', end);
    expect(count[0]?.value).toBe(summary.requests);

    // The client latency SLO, rendered for native histograms, judged over the load by the evaluator.
    const slo: LatencySlo = { name: 'client-p95', description: '', kind: 'latency', side: 'client', severity: 'error', phases: ['overall'], minSamples: 10, histogram: 'k6_http_req_duration_seconds', matchers: 'testid="ping-run-1"', quantile: 0.95, thresholdMs: 2_000 };
    const results = await evaluateSlos({ prometheusUrl: prometheus!.url, slos: [slo], phases: [{ name: 'overall', kind: 'overall', start, end: end + 1_000 }], scrapeIntervalSeconds: 1, jobs: { client: null, server: null }, clientHistograms: 'native' });
    expect(results[0]?.queries.value).toMatch(/^histogram_quantile\(0\.95, sum\(increase\(k6_http_req_duration_seconds\{testid="ping-run-1"\}\[\d+s\]\)\)\) \* 1000$/);
    expect(results[0]?.reason).toBeUndefined();
    expect(results[0]?.verdict).toBe('pass');
    // increase() cannot count the first push of a new series: at most one push interval is missed.
    expect(results[0]!.samples).toBeGreaterThan(summary.requests - 25);
    expect(results[0]!.value).toBeGreaterThan(0);

    // The same SLO with the engine's classic buckets finds nothing under k6: inconclusive, never pass.
    const classic = await evaluateSlos({ prometheusUrl: prometheus!.url, slos: [slo], phases: [{ name: 'overall', kind: 'overall', start, end: end + 1_000 }], scrapeIntervalSeconds: 1, jobs: { client: null, server: null } });
    expect(classic[0]?.verdict).toBe('inconclusive');
  }, 30_000);

  it('puts k6’s failure reason in the notes (exit 99) and keeps the summary', async () => {
    const runDir = path.join(scratch, 'run-99');
    const driver = k6Driver({ scenarioFile: SCENARIO_FILE, scenario: resolveScenario(await pingScenario(), { durationMs: 1_000 }), overridden: true, baseUrl, runId: 'ping-run-2', workDir: path.join(scratch, 'work-99'), runDir, env: { ...withDouble, K6_DOUBLE_EXIT: '99' } });
    await driver.setup(new AbortController().signal);
    const notes: string[] = [];
    const summary = await driver.run(new AbortController().signal, prometheus!.url, notes);
    // The override reached k6: 1 s at 20/s.
    expect(summary.requests + summary.droppedIterations).toBe(20);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^k6 exit 99 \(ThresholdsHaveFailed\): a k6 threshold failed .*k6 output: .*20 requests/);
  }, 30_000);

  it('stops k6 with SIGINT on abort (exit 105 noted as an interruption) and shows the elapsed time live', async () => {
    const driver = k6Driver({ scenarioFile: SCENARIO_FILE, scenario: resolveScenario(await pingScenario(), { durationMs: 20_000 }), overridden: true, baseUrl, runId: 'ping-run-3', workDir: path.join(scratch, 'work-int'), runDir: path.join(scratch, 'run-int'), env: withDouble });
    await driver.setup(new AbortController().signal);
    const abort = new AbortController();
    const notes: string[] = [];
    const servedBefore = served;
    const running = driver.run(abort.signal, prometheus!.url, notes);
    const progress = silentProgress();
    driver.showLive(progress);
    const deadline = Date.now() + 15_000;
    while (served === servedBefore || progress.infos.length === 0) {
      if (Date.now() > deadline) throw new Error('the k6 double sent no request within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
      driver.showLive(progress);
    }
    abort.abort();
    const summary = await running;
    expect(progress.infos[0]).toMatch(/^load \(k6\) .* of 20s/);
    expect(notes[0]).toMatch(/^k6 exit 105 \(ExternalAbort\)/);
    expect(summary.requests).toBeLessThan(400);
  }, 30_000);

  it('notes a missing summary instead of inventing figures, and refuses overrides it cannot apply', async () => {
    const scenario = resolveScenario(await pingScenario());
    // `true` stands in for a k6 that exits 0 without writing anything.
    const driver = k6Driver({ scenarioFile: SCENARIO_FILE, scenario, overridden: false, baseUrl, runId: 'ping-run-4', workDir: path.join(scratch, 'work-none'), runDir: path.join(scratch, 'run-none'), k6Binary: 'true' });
    await driver.setup(new AbortController().signal);
    const notes: string[] = [];
    const summary = await driver.run(new AbortController().signal, prometheus!.url, notes);
    expect(summary.requests).toBe(0);
    expect(notes[0]).toMatch(/^k6 wrote no summary export .*k6-summary\.json.*judged from Prometheus only/);

    const closed = k6Driver({ scenarioFile: SCENARIO_FILE, scenario: { ...scenario, executor: 'constant-vus' }, overridden: true, baseUrl, runId: 'x', workDir: path.join(scratch, 'work-cv'), runDir: scratch });
    await expect(closed.setup(new AbortController().signal)).rejects.toThrow('scenario ping uses constant-vus; overrides reach k6 for constant-arrival-rate only: drop them or pass --load engine');
    await expect(closed.run(new AbortController().signal, prometheus!.url, [])).rejects.toThrow('before its setup bundled the scenario');
  }, 30_000);
});
