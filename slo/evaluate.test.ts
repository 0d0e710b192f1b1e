import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateSlos, worstVerdict } from './evaluate.ts';
import { apiSlos } from './api.ts';
import { PrometheusClient, PrometheusQueryError } from './prometheus-client.ts';
import { substituteWindow } from './promql.ts';
import { INVALID_QUERIES, VALID_QUERIES } from './testing/query-fixtures.ts';
import { TestCounter, TestHistogram, startMetricsTarget, type MetricsTarget } from './testing/metrics-target.ts';
import { renderPrometheusConfig, startPrometheus, waitForTargetsUp, type RunningPrometheus } from '../cluster/targets/local/prometheus.ts';
import { freePort } from '../cluster/targets/local/ports.ts';
import { sleep } from '../scripts/util/wait.ts';
import type { LatencySlo, Phase, QuerySlo, RatioSlo, SloDefinition, SloPhaseResult } from './types.ts';

// One real Prometheus (1 s scrapes) for the whole file, scraping a real HTTP server whose counters
// and histograms this test drives, under the job names the SLOs expect (k6, hastecrm-api) plus a
// `fixtures` job for the edge cases. The run is four 4-second phases, lived once in beforeAll:
//
//   baseline    all good
//   experiment  client: 10 % of requests fail; server: 80 % of requests take 0.8 s
//   recovery    all good, but the server's /metrics answers 503 for ~1.5 s (target down = data)
//   frozen      all good, but Prometheus itself is stopped (SIGSTOP) for 3 s: scrapes are missing
//
// plus `overall` over all four. Every test then asserts on the evaluated results.

const PHASE_MS = 4_000;
const TICK_MS = 100;
const REQUESTS_PER_TICK = 10; // 100 req/s
const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5];

const k6Requests = new TestCounter('k6_http_reqs_total').init({ expected_response: 'true' }).init({ expected_response: 'false' });
const k6Duration = new TestHistogram('k6_http_req_duration_seconds', BUCKETS).init({});
const apiLabels = { method: 'GET', route: '/api/contacts' };
const serverRequests = new TestCounter('http_requests_total').init({ ...apiLabels, status: '200' }).init({ ...apiLabels, status: '500' });
const serverDuration = new TestHistogram('http_request_duration_seconds', BUCKETS).init(apiLabels);
const idle = new TestCounter('fixture_idle_total').init({ outcome: 'ok' }).init({ outcome: 'error' });
const trickle = new TestCounter('fixture_trickle_total').init({ outcome: 'ok' });
const beyondBuckets = new TestHistogram('fixture_beyond_buckets_seconds', BUCKETS).init({});
// The error series is deliberately not created up front: it is born mid-experiment with a burst.
const bornLate = new TestCounter('fixture_born_late_total').init({ outcome: 'ok' });
let bornLateBurst = false;
// Fractional increments give an exact error rate at every scrape: 0.5 % in the baseline, 3 % in the experiment.
const precise = new TestCounter('fixture_precise_total').init({ outcome: 'ok' }).init({ outcome: 'error' });

const tempDirs: string[] = [];
let target: MetricsTarget | undefined;
let prometheus: RunningPrometheus | undefined;
let traffic: NodeJS.Timeout | undefined;
let phases: { baseline: Phase; experiment: Phase; recovery: Phase; frozen: Phase; overall: Phase };
let results: SloPhaseResult[];
let fixtureResults: SloPhaseResult[];

// Extra SLOs beside hasteCRM's, for the evaluator's other paths.
const common = { description: 'test', minSamples: 20, severity: 'error' as const };
const throughput: QuerySlo = {
  ...common,
  name: 'client-throughput',
  side: 'client',
  phases: ['baseline'],
  kind: 'query',
  expr: 'sum(rate(k6_http_reqs_total[$window]))',
  op: '>=',
  bound: 50,
  samples: 'sum(increase(k6_http_reqs_total[$window]))',
  unit: 'req/s',
};
const rejectedQuery: QuerySlo = { ...throughput, name: 'rejected-query', expr: 'sum(rate(k6_http_reqs_total[$window])))' };
const straddling: LatencySlo = {
  ...common,
  name: 'server-p95-700ms',
  side: 'server',
  phases: ['experiment'],
  kind: 'latency',
  histogram: 'http_request_duration_seconds',
  matchers: 'job="hastecrm-api"',
  quantile: 0.95,
  thresholdMs: 700, // inside the (0.5 s, 1 s] bucket the experiment's p95 lands in
};
const fixtureSlo = { ...common, side: 'client' as const, phases: ['baseline' as const] };
const noTraffic: RatioSlo = { ...fixtureSlo, name: 'no-traffic', kind: 'ratio', good: 'fixture_idle_total{outcome="ok"}', total: 'fixture_idle_total', objective: 0.99 };
const fewSamples: RatioSlo = { ...fixtureSlo, name: 'few-samples', kind: 'ratio', good: 'fixture_trickle_total{outcome="ok"}', total: 'fixture_trickle_total', objective: 0.99 };
const missingSeries: RatioSlo = { ...fixtureSlo, name: 'missing-series', kind: 'ratio', good: 'fixture_missing_total{outcome="ok"}', total: 'fixture_missing_total', objective: 0.99 };
const bornLateErrors: RatioSlo = { ...fixtureSlo, phases: ['experiment'], name: 'born-late-errors', kind: 'ratio', good: 'fixture_born_late_total{outcome="ok"}', total: 'fixture_born_late_total', objective: 0.99 };
const preciseRatio: RatioSlo = { ...fixtureSlo, phases: ['baseline', 'experiment'], name: 'precise-ratio', kind: 'ratio', good: 'fixture_precise_total{outcome="ok"}', total: 'fixture_precise_total', objective: 0.99 };
const aboveBuckets: LatencySlo = { ...fixtureSlo, name: 'above-buckets', kind: 'latency', histogram: 'fixture_beyond_buckets_seconds', quantile: 0.95, thresholdMs: 3_000 };

function tick(now: number): void {
  const { experiment } = phases;
  const inExperiment = now >= experiment.start && now < experiment.end;
  const failures = inExperiment ? 1 : 0;
  k6Requests.inc({ expected_response: 'true' }, REQUESTS_PER_TICK - failures);
  k6Requests.inc({ expected_response: 'false' }, failures);
  k6Duration.observe({}, 0.03, REQUESTS_PER_TICK);
  serverRequests.inc({ ...apiLabels, status: '200' }, REQUESTS_PER_TICK);
  const slow = inExperiment ? 8 : 0;
  serverDuration.observe(apiLabels, 0.8, slow);
  serverDuration.observe(apiLabels, 0.03, REQUESTS_PER_TICK - slow);
  if (Math.floor(now / 1000) !== Math.floor((now - TICK_MS) / 1000)) trickle.inc({ outcome: 'ok' });
  beyondBuckets.observe({}, 4, 1);
  bornLate.inc({ outcome: 'ok' }, REQUESTS_PER_TICK);
  const errorShare = inExperiment ? 0.03 : 0.005;
  precise.inc({ outcome: 'ok' }, REQUESTS_PER_TICK * (1 - errorShare));
  precise.inc({ outcome: 'error' }, REQUESTS_PER_TICK * errorShare);
  if (inExperiment && !bornLateBurst && now >= experiment.start + 1_500) {
    bornLateBurst = true;
    bornLate.inc({ outcome: 'error' }, 30);
  }
}

beforeAll(async () => {
  target = await startMetricsTarget({
    '/k6': [k6Requests, k6Duration],
    '/api': [serverRequests, serverDuration],
    '/fixtures': [idle, trickle, beyondBuckets, bornLate, precise],
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'slo-evaluate-test-'));
  tempDirs.push(dir);
  prometheus = await startPrometheus({
    dir,
    config: renderPrometheusConfig({
      scrapeIntervalSeconds: 1,
      jobs: [
        { job: 'k6', targets: [target.hostPort], metricsPath: '/k6' },
        { job: 'hastecrm-api', targets: [target.hostPort], metricsPath: '/api' },
        { job: 'fixtures', targets: [target.hostPort], metricsPath: '/fixtures' },
      ],
      ruleFiles: [],
    }),
  });
  await waitForTargetsUp(prometheus.url, { jobs: ['k6', 'hastecrm-api', 'fixtures'], timeoutMs: 20_000 });

  const t0 = Date.now() + 200; // targets are up: Prometheus has scraped each at least once
  const phase = (name: string, kind: Phase['kind'], index: number, count = 1): Phase => ({ name, kind, start: t0 + index * PHASE_MS, end: t0 + (index + count) * PHASE_MS });
  phases = {
    baseline: phase('baseline', 'baseline', 0),
    experiment: phase('pod-delete#1', 'experiment', 1),
    recovery: phase('recovery', 'recovery', 2),
    frozen: phase('prometheus-frozen', 'experiment', 3),
    overall: phase('overall', 'overall', 0, 4),
  };
  traffic = setInterval(() => tick(Date.now()), TICK_MS);

  // recovery: the API's metrics endpoint fails for 1.5 s (Prometheus records up == 0).
  await sleep(phases.recovery.start + 1_000 - Date.now());
  target.failing.add('/api');
  await sleep(1_500);
  target.failing.delete('/api');
  // frozen: Prometheus stops scraping altogether for 3 of the phase's 4 s.
  await sleep(phases.frozen.start + 300 - Date.now());
  prometheus.process.kill('SIGSTOP');
  await sleep(3_000);
  prometheus.process.kill('SIGCONT');
  // The evaluator itself waits for the last phase's final scrape; evaluate right away.
  const client = new PrometheusClient({ url: prometheus.url });
  const allPhases = [phases.baseline, phases.experiment, phases.recovery, phases.frozen, phases.overall];
  results = await evaluateSlos({ client, slos: [...apiSlos, throughput, rejectedQuery, straddling], phases: allPhases, scrapeIntervalSeconds: 1 });
  fixtureResults = await evaluateSlos({
    client,
    slos: [noTraffic, fewSamples, missingSeries, aboveBuckets, bornLateErrors, preciseRatio],
    phases: [phases.baseline, phases.experiment],
    scrapeIntervalSeconds: 1,
    jobs: { client: 'fixtures', server: 'fixtures' },
  });
}, 90_000);

afterAll(async () => {
  clearInterval(traffic);
  prometheus?.process.kill('SIGCONT'); // in case a failure left it stopped
  await prometheus?.stop();
  await target?.close();
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function resultOf(list: SloPhaseResult[], slo: string, phase: string): SloPhaseResult {
  const found = list.find((r) => r.slo === slo && r.phase === phase);
  if (!found) throw new Error(`no result for ${slo} in ${phase}; have ${list.map((r) => `${r.slo}@${r.phase}`).join(', ')}`);
  return found;
}

/** `slo@phase → verdict (reason)` for every result, so a failing assertion shows the whole picture. */
function table(list: SloPhaseResult[]): string {
  return list.map((r) => `${r.slo}@${r.phase} → ${r.verdict} value=${r.value} samples=${r.samples}${r.reason ? ` (${r.reason})` : ''}`).join('\n');
}

function expectVerdict(list: SloPhaseResult[], slo: string, phase: string, verdict: SloPhaseResult['verdict'], reason?: RegExp): SloPhaseResult {
  const result = resultOf(list, slo, phase);
  expect(result.verdict, `${slo} in ${phase} should be ${verdict}:\n${table(list)}`).toBe(verdict);
  if (reason) expect(result.reason, `${slo} in ${phase}: reason`).toMatch(reason);
  return result;
}

describe('evaluateSlos against a real Prometheus', () => {
  it("passes hasteCRM's SLOs in a phase with good data, with the evidence behind each verdict", () => {
    for (const slo of apiSlos) expectVerdict(results, slo.name, 'baseline', 'pass');
    const ratio = resultOf(results, 'api-client-success-ratio', 'baseline');
    expect(ratio.value).toBeCloseTo(1, 6);
    // 100 req/s for 4 s; increase() extrapolates, so allow a scrape's worth either way.
    expect(ratio.samples).toBeGreaterThanOrEqual(300);
    expect(ratio.samples).toBeLessThanOrEqual(500);
    expect(ratio.threshold).toBe('≥ 99%');
    expect(ratio.windowSeconds).toBe(4);
    expect(ratio.evaluatedAt).toBe(phases.baseline.end);
    const good = 'k6_http_reqs_total{expected_response="true"}';
    const increaseOf = (s: string): string =>
      `sum ((increase(${s}[4s]) and last_over_time(${s}[5m] offset 4s)) or (((increase(${s}[4s]) >= max_over_time(${s}[4s])) or max_over_time(${s}[4s])) unless last_over_time(${s}[5m] offset 4s)))`;
    expect(ratio.queries.value).toBe(`${increaseOf(good)} / ${increaseOf('k6_http_reqs_total')}`);
    expect(ratio.queries.samples).toBe(increaseOf('k6_http_reqs_total'));
    const latency = resultOf(results, 'api-server-latency-p95', 'baseline');
    expect(latency.threshold).toBe('< 500 ms');
    expect(latency.value).toBeGreaterThan(0);
    expect(latency.value).toBeLessThan(50);
    const bucket = 'http_request_duration_seconds_bucket{job="hastecrm-api",route=~"/api.*"}';
    expect(latency.queries.value).toBe(
      `histogram_quantile(0.95, sum by (le) ((increase(${bucket}[4s]) and last_over_time(${bucket}[5m] offset 4s)) or (((increase(${bucket}[4s]) >= max_over_time(${bucket}[4s])) or max_over_time(${bucket}[4s])) unless last_over_time(${bucket}[5m] offset 4s)))) * 1000`,
    );
  });

  it('judges each phase on its own data: the success ratio fails only in the phase with 10 % errors', () => {
    const failed = expectVerdict(results, 'api-client-success-ratio', 'pod-delete#1', 'fail', /ratio was 9\d(\.\d+)?%, below the objective of 99%/);
    expect(failed.value).toBeGreaterThan(0.85);
    expect(failed.value).toBeLessThan(0.95);
    expectVerdict(results, 'api-client-success-ratio', 'baseline', 'pass');
    expectVerdict(results, 'api-client-success-ratio', 'recovery', 'pass');
    expectVerdict(results, 'api-client-latency-p95', 'pod-delete#1', 'pass');
    expectVerdict(results, 'api-server-success-ratio', 'pod-delete#1', 'pass');
  });

  it('fails the latency SLO when most observations take longer than 0.5 s', () => {
    const failed = expectVerdict(results, 'api-server-latency-p95', 'pod-delete#1', 'fail', /p95 was \d+ ms, not < 500 ms/);
    expect(failed.value).toBeGreaterThan(500);
    expectVerdict(results, 'api-server-latency-p95', 'recovery', 'pass');
  });

  it('judges the overall phase over the whole run', () => {
    expectVerdict(results, 'api-client-success-ratio', 'overall', 'fail');
    expectVerdict(results, 'api-server-latency-p95', 'overall', 'fail');
    expectVerdict(results, 'api-client-latency-p95', 'overall', 'pass');
    expectVerdict(results, 'api-server-success-ratio', 'overall', 'pass');
  });

  it('treats a server target that is down for part of a phase as data, not as a gap', () => {
    for (const slo of apiSlos) expectVerdict(results, slo.name, 'recovery', 'pass');
  });

  it('is inconclusive for every SLO in a phase Prometheus did not scrape', () => {
    for (const slo of [...apiSlos, straddling]) {
      const result = expectVerdict(results, slo.name, 'prometheus-frozen', 'inconclusive', /^Prometheus scraped job (k6|hastecrm-api) \(127\.0\.0\.1:\d+\) only [0-2] of 4 times in phase prometheus-frozen\.$/);
      expect(result.value).toBeNull();
    }
  });

  it('evaluates query SLOs with $window substituted, and is inconclusive when Prometheus rejects the query', () => {
    const passed = expectVerdict(results, 'client-throughput', 'baseline', 'pass');
    expect(passed.queries.value).toBe('sum(rate(k6_http_reqs_total[4s]))');
    expect(passed.value).toBeGreaterThan(80);
    expect(passed.threshold).toBe('≥ 50 req/s');
    expectVerdict(results, 'rejected-query', 'baseline', 'inconclusive', /^Prometheus rejected the query \(HTTP 400\): .*parse error/);
  });

  it('is inconclusive when the quantile falls in a bucket that contains the threshold', () => {
    expectVerdict(results, 'server-p95-700ms', 'pod-delete#1', 'inconclusive', /bucket \(0\.5 s, 1 s\], which contains the 700 ms threshold/);
  });

  it('is inconclusive when the quantile lies beyond the highest finite bucket (histogram_quantile would say 2500 ms)', () => {
    const result = expectVerdict(fixtureResults, 'above-buckets', 'baseline', 'inconclusive', /above the histogram's highest finite bucket \(2\.5 s\)/);
    expect(result.value, 'the naive histogram_quantile value is recorded as evidence').toBe(2500);
  });

  it('is inconclusive for NaN (0/0: no requests in the window)', () => {
    const result = expectVerdict(fixtureResults, 'no-traffic', 'baseline', 'inconclusive', /NaN \(0\/0/);
    expect(result.value).toBeNull();
    expect(result.samples).toBe(0);
  });

  it('is inconclusive for too few samples, keeping the value as evidence', () => {
    const result = expectVerdict(fixtureResults, 'few-samples', 'baseline', 'inconclusive', /^Only [2-6] samples in phase baseline, fewer than the 20 needed to judge\.$/);
    expect(result.value).toBeCloseTo(1, 6);
  });

  it('is inconclusive for a series that does not exist', () => {
    expectVerdict(fixtureResults, 'missing-series', 'baseline', 'inconclusive', /^No data: the value query returned no series/);
  });

  it('gives the value per phase to three decimals: 0.5 % errors pass, 3 % errors fail', () => {
    const baseline = expectVerdict(fixtureResults, 'precise-ratio', 'baseline', 'pass');
    expect(baseline.value).toBeCloseTo(0.995, 3);
    const experiment = expectVerdict(fixtureResults, 'precise-ratio', 'pod-delete#1', 'fail');
    expect(experiment.value).toBeCloseTo(0.97, 3);
  });

  it('counts the errors of a series born mid-phase, which increase() alone would miss', () => {
    // 30 errors arrive at once in a series that did not exist before; increase() sees a flat
    // series (30, 30, …) and would report 100 % success. The first-value correction counts them.
    const result = expectVerdict(fixtureResults, 'born-late-errors', 'pod-delete#1', 'fail');
    expect(result.value).toBeLessThan(0.96);
    expect(result.value).toBeGreaterThan(0.9);
  });

  it('is inconclusive when the SLO side’s job is not scraped at all, and skips the check for a side without a job', async () => {
    const list = await evaluateSlos({ prometheusUrl: prometheus!.url, slos: apiSlos, phases: [phases.baseline], scrapeIntervalSeconds: 1, jobs: { client: 'not-scraped', server: null } });
    expectVerdict(list, 'api-client-success-ratio', 'baseline', 'inconclusive', /^Prometheus has no scrapes of job not-scraped in phase baseline \(0 of 4 expected\)\.$/);
    expectVerdict(list, 'api-client-latency-p95', 'baseline', 'inconclusive', /no scrapes of job not-scraped/);
    expectVerdict(list, 'api-server-success-ratio', 'baseline', 'pass');
  });

  it('is inconclusive, quickly, when Prometheus is unreachable', async () => {
    const port = await freePort();
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, attempts: 3, backoffMs: 20 });
    const started = Date.now();
    const list = await evaluateSlos({ client, slos: apiSlos, phases: [phases.baseline, phases.experiment, phases.overall], scrapeIntervalSeconds: 1 });
    expect(Date.now() - started, 'retries are bounded and an unreachable Prometheus is not retried per query').toBeLessThan(3_000);
    expect(list).toHaveLength(apiSlos.length * 3);
    for (const result of list) {
      expect(result.verdict, table(list)).toBe('inconclusive');
      expect(result.reason).toMatch(/^Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer after 3 tries: .*ECONNREFUSED/);
    }
  });

  it('refuses a phase that ends in the future or is too short, without querying', async () => {
    const now = Date.now();
    const list = await evaluateSlos({
      prometheusUrl: prometheus!.url,
      slos: [apiSlos[0]!],
      phases: [
        { name: 'later', kind: 'baseline', start: now, end: now + 60_000 },
        { name: 'blink', kind: 'baseline', start: phases.baseline.start, end: phases.baseline.start + 1_200 },
      ],
      scrapeIntervalSeconds: 1,
    });
    expectVerdict(list, 'api-client-success-ratio', 'later', 'inconclusive', /ends \d+ s in the future/);
    expectVerdict(list, 'api-client-success-ratio', 'blink', 'inconclusive', /too short to judge/);
  });

  it('only judges an SLO in the kinds of phase it lists', () => {
    expect(results.filter((r) => r.slo === 'client-throughput').map((r) => r.phase)).toEqual(['baseline']);
    expect(results.filter((r) => r.slo === 'server-p95-700ms').map((r) => r.phase)).toEqual(['pod-delete#1', 'prometheus-frozen']);
    expect(results.filter((r) => r.slo === 'api-client-success-ratio').map((r) => r.phase)).toEqual(['baseline', 'pod-delete#1', 'recovery', 'prometheus-frozen', 'overall']);
  });
});

describe('the offline query check agrees with Prometheus', () => {
  it.each(VALID_QUERIES.map((q) => [q]))('Prometheus accepts %s', async (expr) => {
    const client = new PrometheusClient({ url: prometheus!.url });
    await expect(client.instantQuery(substituteWindow(expr, 60), Date.now())).resolves.toBeInstanceOf(Array);
  });

  it.each(INVALID_QUERIES.filter((q) => q.rejectedByPrometheus).map((q) => [q.what, q.expr]))('Prometheus rejects %s', async (_what, expr) => {
    const client = new PrometheusClient({ url: prometheus!.url });
    await expect(client.instantQuery(substituteWindow(expr, 60), Date.now())).rejects.toBeInstanceOf(PrometheusQueryError);
  });
});

describe('worstVerdict', () => {
  const result = (verdict: SloPhaseResult['verdict'], severity: SloDefinition['severity']): SloPhaseResult => ({
    slo: 's',
    side: 'client',
    severity,
    phase: 'p',
    phaseKind: 'baseline',
    verdict,
    value: null,
    threshold: '',
    samples: 0,
    queries: { value: '', samples: '' },
    evaluatedAt: 0,
    windowSeconds: 1,
  });

  it('orders pass < inconclusive < fail', () => {
    expect(worstVerdict([result('pass', 'error'), result('pass', 'critical')])).toBe('pass');
    expect(worstVerdict([result('pass', 'error'), result('inconclusive', 'error')])).toBe('inconclusive');
    expect(worstVerdict([result('inconclusive', 'error'), result('fail', 'critical'), result('pass', 'error')])).toBe('fail');
  });

  it('does not let a warning SLO fail the run', () => {
    expect(worstVerdict([result('pass', 'error'), result('fail', 'warning'), result('inconclusive', 'warning')])).toBe('pass');
    expect(worstVerdict([result('fail', 'warning')], ['warning', 'error', 'critical'])).toBe('fail');
  });

  it('is inconclusive when nothing counted was judged', () => {
    expect(worstVerdict([])).toBe('inconclusive');
    expect(worstVerdict([result('fail', 'warning')])).toBe('inconclusive');
  });
});
