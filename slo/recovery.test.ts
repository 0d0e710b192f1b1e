import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeRecovery, measureTimeToRecover, type RecoveryResult, type Step } from './recovery.ts';
import { PrometheusClient } from './prometheus-client.ts';
import { renderSloQueries } from './promql.ts';
import { TestCounter, TestHistogram, startMetricsTarget, type MetricsTarget } from './testing/metrics-target.ts';
import { renderPrometheusConfig, startPrometheus, waitForTargetsUp, type RunningPrometheus } from '../cluster/targets/local/prometheus.ts';
import { freePort } from '../cluster/targets/local/ports.ts';
import { sleep } from '../scripts/util/wait.ts';
import type { LatencySlo, Phase, RatioSlo, SloDefinition } from './types.ts';

// A real Prometheus (1 s scrapes) scraping counters and a histogram this test drives at 100 req/s.
// The experiment (the "fault") lasts 4 s from t0; the load ends at t0 + 16 s. Series:
//   recovers  50 % errors from t0 to t0 + 7 s: they outlast the fault by 3 s
//   stuck     50 % errors from t0 + 1 s to the end: never recovers
//   healthy   no errors
//   gappy     no errors, but its metrics endpoint fails from t0 + 5 s to t0 + 12 s (no samples)
//   idle      never incremented (0/0 = NaN at every step)
//   latency   half the requests take 0.8 s from t0 to t0 + 7 s, else 30 ms
// With a 5 s rolling window, a window is healthy again ~5 s after the errors stop, so `recovers`
// recovers at ~t0 + 12 s: 8 s after the fault ended (3 s of lingering errors + one window).

const FAULT_MS = 4_000;
const ERRORS_UNTIL_MS = 7_000;
const LOAD_MS = 16_000;
const GAP_MS = [5_000, 12_000] as const;
const EXPECTED_TTR_MS = ERRORS_UNTIL_MS - FAULT_MS + 5_000;
const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5];

const names = ['recovers', 'stuck', 'healthy', 'idle'] as const;
const counters = Object.fromEntries(names.map((n) => [n, new TestCounter(`${n}_total`).init({ outcome: 'ok' }).init({ outcome: 'error' })])) as Record<(typeof names)[number], TestCounter>;
const gappy = new TestCounter('gappy_total').init({ outcome: 'ok' }).init({ outcome: 'error' });
const latency = new TestHistogram('latency_seconds', BUCKETS).init({});

const common = { description: 'test', minSamples: 20, severity: 'error' as const, side: 'client' as const, phases: ['experiment' as const] };
const ratio = (name: string, metric = `${name}_total`): RatioSlo => ({ ...common, name, kind: 'ratio', good: `${metric}{outcome="ok"}`, total: metric, objective: 0.99 });
const p95 = (name: string, thresholdMs: number): LatencySlo => ({ ...common, name, kind: 'latency', histogram: 'latency_seconds', quantile: 0.95, thresholdMs });
const slos: SloDefinition[] = [
  ratio('recovers'),
  ratio('stuck'),
  ratio('healthy'),
  ratio('gappy'),
  ratio('idle'),
  ratio('missing'),
  p95('latency-500ms', 500),
  p95('latency-700ms', 700), // inside the (0.5 s, 1 s] bucket the slow requests land in
  { ...common, name: 'a-query-slo', kind: 'query', expr: 'vector(1)', op: '>', bound: 0, samples: 'vector(100)' },
];

let dir: string | undefined;
let target: MetricsTarget | undefined;
let prometheus: RunningPrometheus | undefined;
let traffic: NodeJS.Timeout | undefined;
let client: PrometheusClient;
let t0: number;
let experiment: Phase;
let loadEnd: number;
let results: RecoveryResult[];

function tick(now: number): void {
  const since = now - t0;
  const errorsIn = (from: number, until: number): number => (since >= from && since < until ? 5 : 0);
  const inc = (counter: TestCounter, errors: number): void => {
    counter.inc({ outcome: 'ok' }, 10 - errors);
    counter.inc({ outcome: 'error' }, errors);
  };
  inc(counters.recovers, errorsIn(0, ERRORS_UNTIL_MS));
  inc(counters.stuck, errorsIn(1_000, Infinity));
  inc(counters.healthy, 0);
  inc(gappy, 0);
  const slow = errorsIn(0, ERRORS_UNTIL_MS);
  latency.observe({}, 0.8, slow);
  latency.observe({}, 0.03, 10 - slow);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'slo-recovery-test-'));
  target = await startMetricsTarget({ '/metrics': [...Object.values(counters), latency], '/gappy': [gappy] });
  prometheus = await startPrometheus({
    dir,
    config: renderPrometheusConfig({
      scrapeIntervalSeconds: 1,
      jobs: [
        { job: 'fixtures', targets: [target.hostPort] },
        { job: 'gappy', targets: [target.hostPort], metricsPath: '/gappy' },
      ],
      ruleFiles: [],
    }),
  });
  await waitForTargetsUp(prometheus.url, { jobs: ['fixtures', 'gappy'], timeoutMs: 20_000 });
  client = new PrometheusClient({ url: prometheus.url });
  // 5 s of healthy traffic first, so the window at the fault's start is full.
  t0 = Date.now() + 5_000;
  experiment = { name: 'pod-delete#1', kind: 'experiment', start: t0, end: t0 + FAULT_MS };
  loadEnd = t0 + LOAD_MS;
  traffic = setInterval(() => tick(Date.now()), 100);
  await sleep(t0 + GAP_MS[0] - Date.now());
  target.failing.add('/gappy');
  await sleep(t0 + GAP_MS[1] - Date.now());
  target.failing.delete('/gappy');
  await sleep(loadEnd - Date.now());
  clearInterval(traffic);
  // measureTimeToRecover itself waits for the scrape after the load's end.
  results = await measureTimeToRecover({ client, slos, phases: [{ name: 'baseline', kind: 'baseline', start: t0 - 5_000, end: t0 }, experiment], loadEnd });
}, 50_000);

afterAll(async () => {
  clearInterval(traffic);
  await prometheus?.stop();
  await target?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function resultOf(list: RecoveryResult[], slo: string, experimentName = 'pod-delete#1'): RecoveryResult {
  const found = list.find((r) => r.slo === slo && r.experiment === experimentName);
  if (!found) throw new Error(`no result for ${slo}; have ${list.map((r) => `${r.slo}@${r.experiment}`).join(', ')}`);
  return found;
}

const show = (list: RecoveryResult[]): string => list.map((r) => `${r.slo}@${r.experiment}: ${r.status} ttr=${r.ttrMs} ${JSON.stringify(r.steps)} ${r.reason}`).join('\n');

describe('measureTimeToRecover against a real Prometheus', () => {
  it('measures the time to recover of a degradation that outlasts the fault, within ±2 s', () => {
    const result = resultOf(results, 'recovers');
    expect(result.status, show(results)).toBe('recovered');
    expect(result.degraded).toBe(true);
    expect(result.ttrMs, show(results)).toBeGreaterThanOrEqual(EXPECTED_TTR_MS - 2_000);
    expect(result.ttrMs, show(results)).toBeLessThanOrEqual(EXPECTED_TTR_MS + 2_000);
    expect(result.recoveredAt! - experiment.end).toBe(result.ttrMs);
    // The first windows after the fault began already hold errors.
    expect(result.firstViolationAt! - t0, show(results)).toBeLessThanOrEqual(2_000);
    expect(result.reason).toMatch(/^Violated from \d+(\.\d)? s after the fault began; met again from \d+(\.\d)? s after the fault began and held until the load ended: recovered \d+(\.\d)? s after the fault ended\.$/);
    expect(result.query).toBe(renderSloQueries(slos[0]!, 5).value);
    expect(result).toMatchObject({ rollingWindowSeconds: 5, stepSeconds: 1, from: t0, to: loadEnd });
    expect(result.steps.noData).toBe(0);
    expect(result.steps.met + result.steps.violated).toBe(Math.floor(LOAD_MS / 1000) + 1);
  });

  it('measures a latency SLO the same way', () => {
    const result = resultOf(results, 'latency-500ms');
    expect(result.status, show(results)).toBe('recovered');
    expect(result.ttrMs).toBeGreaterThanOrEqual(EXPECTED_TTR_MS - 2_000);
    expect(result.ttrMs).toBeLessThanOrEqual(EXPECTED_TTR_MS + 2_000);
  });

  it('reports a degradation still present at the load’s end as not recovered (ttr null)', () => {
    const result = resultOf(results, 'stuck');
    expect(result.status, show(results)).toBe('not-recovered');
    expect(result.ttrMs).toBeNull();
    expect(result.degraded).toBe(true);
    expect(result.recoveredAt).toBeUndefined();
    expect(result.firstViolationAt! - t0, show(results)).toBeGreaterThanOrEqual(1_000);
    expect(result.firstViolationAt! - t0, show(results)).toBeLessThanOrEqual(3_000);
    expect(result.reason).toMatch(/and still violated when the load ended: did not recover\.$/);
  });

  it('reports an SLO that never degraded with a time to recover of 0', () => {
    const result = resultOf(results, 'healthy');
    expect(result.status, show(results)).toBe('never-degraded');
    expect(result.ttrMs).toBe(0);
    expect(result.degraded).toBe(false);
    expect(result.reason).toBe('Never degraded: the objective (≥ 99%) on a 5 s rolling window was met at all 17 steps until the load ended.');
  });

  it('never claims a recovery or "never degraded" over steps without data', () => {
    const gap = resultOf(results, 'gappy');
    expect(gap.status, show(results)).toBe('insufficient-data');
    expect(gap.ttrMs).toBeNull();
    expect(gap.steps.noData).toBeGreaterThanOrEqual(1);
    expect(gap.steps.met).toBeGreaterThan(5);
    expect(gap.reason).toMatch(/^No data at \d+ of 17 steps \(the first at \d+(\.\d)? s after the fault began\): cannot tell whether it degraded\.$/);
    for (const name of ['idle', 'missing']) {
      const result = resultOf(results, name);
      expect(result.status, show(results)).toBe('insufficient-data');
      expect(result.steps).toEqual({ met: 0, violated: 0, noData: 17, unresolved: 0 });
      expect(result.reason).toBe('No data at 17 of 17 steps (the first at the moment the fault began): cannot tell whether it degraded.');
      expect(result.ttrMs).toBeNull();
    }
  });

  it('treats a quantile the histogram cannot place against the threshold as missing data', () => {
    const result = resultOf(results, 'latency-700ms');
    expect(result.status, show(results)).toBe('insufficient-data');
    expect(result.steps.unresolved).toBeGreaterThanOrEqual(3);
    expect(result.steps.noData).toBe(0);
    expect(result.ttrMs).toBeNull();
    expect(result.reason).toMatch(/^A quantile the histogram's buckets cannot place against the threshold at \d+ of 17 steps .*cannot tell whether it degraded\.$/);
  });

  it('measures only ratio and latency SLOs, and only experiment phases', () => {
    expect(results.map((r) => r.slo)).not.toContain('a-query-slo');
    expect(new Set(results.map((r) => r.experiment))).toEqual(new Set(['pod-delete#1']));
    expect(results).toHaveLength(8);
  });

  it('counts a recovery before the fault ended as 0, and says so', async () => {
    const longFault = { ...experiment, name: 'long-fault', end: t0 + 14_000 };
    const [result] = await measureTimeToRecover({ client, slos: [slos[0]!], phases: [longFault], loadEnd });
    expect(result?.status).toBe('recovered');
    expect(result?.ttrMs).toBe(0);
    expect(result?.recoveredAt).toBeLessThan(longFault.end);
    expect(result?.reason).toMatch(/recovered \d+(\.\d)? s before the fault ended, which counts as 0/);
  });

  it('ends an experiment’s horizon where the next experiment starts', async () => {
    const second: Phase = { name: 'pod-delete#2', kind: 'experiment', start: t0 + 9_000, end: t0 + 11_000 };
    const list = await measureTimeToRecover({ client, slos: [slos[0]!], phases: [second, experiment], loadEnd });
    expect(list.map((r) => r.experiment)).toEqual(['pod-delete#1', 'pod-delete#2']);
    const first = resultOf(list, 'recovers');
    expect(first.status, show(list)).toBe('not-recovered');
    expect(first.to).toBe(second.start);
    expect(first.reason).toMatch(/still violated when the next experiment \(pod-delete#2\) started/);
    expect(resultOf(list, 'recovers', 'pod-delete#2').status, show(list)).toBe('recovered');
  });

  it('reports insufficient data, quickly and for every pair, when Prometheus is unreachable', async () => {
    const port = await freePort();
    const unreachable = new PrometheusClient({ url: `http://127.0.0.1:${port}`, attempts: 3, backoffMs: 20 });
    const started = Date.now();
    const list = await measureTimeToRecover({ client: unreachable, slos, phases: [experiment], loadEnd });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(list).toHaveLength(8);
    for (const result of list) {
      expect(result.status).toBe('insufficient-data');
      expect(result.ttrMs).toBeNull();
      expect(result.reason).toMatch(/^Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer after 3 tries: .*ECONNREFUSED/);
    }
  });

  it('reports insufficient data with Prometheus’s message when it rejects the query', async () => {
    const [result] = await measureTimeToRecover({ client, slos: [ratio('rejected', 'recovers_total{outcome=}')], phases: [experiment], loadEnd });
    expect(result?.status).toBe('insufficient-data');
    expect(result?.reason).toMatch(/^Prometheus rejected the query \(HTTP 400\): .*parse error/);
  });

  it('refuses a load that ends in the future instead of waiting for it', async () => {
    const started = Date.now();
    const list = await measureTimeToRecover({ client, slos: [slos[0]!], phases: [experiment], loadEnd: Date.now() + 60_000, maxWaitMs: 1_000 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(list[0]?.status).toBe('insufficient-data');
    expect(list[0]?.reason).toMatch(/^The load ends \d+ s in the future/);
  });

  it('rejects invalid windows and steps', async () => {
    await expect(measureTimeToRecover({ client, slos, phases: [experiment], loadEnd, rollingWindowSeconds: 2.5 })).rejects.toThrow(/rollingWindowSeconds/);
    await expect(measureTimeToRecover({ client, slos, phases: [experiment], loadEnd, stepSeconds: 0 })).rejects.toThrow(/stepSeconds/);
  });
});

describe('judgeRecovery', () => {
  const fault = { name: 'f', start: 10_000, end: 14_000 };
  const steps = (...states: Step['state'][]): Step[] => states.map((state, i) => ({ t: 10_000 + i * 1_000, state }));
  const judge = (list: Step[]): ReturnType<typeof judgeRecovery> => judgeRecovery(list, fault, 'the load ended', 'the objective');

  it('recovers at the first step after the last violation, measured from the fault’s end', () => {
    const result = judge(steps('met', 'violated', 'violated', 'met', 'violated', 'met', 'met', 'met'));
    expect(result).toMatchObject({ status: 'recovered', firstViolationAt: 11_000, recoveredAt: 15_000, ttrMs: 1_000 });
  });

  it('counts a recovery before the fault ended as 0', () => {
    const result = judge(steps('violated', 'met', 'met', 'met', 'met', 'met', 'met'));
    expect(result).toMatchObject({ status: 'recovered', recoveredAt: 11_000, ttrMs: 0 });
    expect(result.reason).toMatch(/recovered 3 s before the fault ended, which counts as 0/);
  });

  it('is not recovered when the last step still violates', () => {
    expect(judge(steps('met', 'violated', 'met', 'violated'))).toMatchObject({ status: 'not-recovered', ttrMs: null, degraded: true });
  });

  it('is insufficient data when any step has no data, even after a clear recovery', () => {
    const result = judge(steps('violated', 'met', 'no-data', 'met'));
    expect(result).toMatchObject({ status: 'insufficient-data', ttrMs: null, degraded: true, firstViolationAt: 10_000 });
    expect(result.recoveredAt).toBeUndefined();
    expect(result.reason).toBe('Violated from the moment the fault began, but no data at 1 of 4 steps (the first at 2 s after the fault began): cannot tell when it recovered.');
    expect(judge(steps('met', 'unresolved', 'met'))).toMatchObject({ status: 'insufficient-data', ttrMs: null, degraded: false });
    expect(judge([])).toMatchObject({ status: 'insufficient-data', ttrMs: null });
  });
});
