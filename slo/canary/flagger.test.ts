import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingressBuiltinQueries, parseFlaggerCanary, replayFlaggerCanary, type CanaryReplay, type FlaggerCanarySpec, type FlaggerReplayOptions } from './flagger.ts';
import { ManifestError } from './manifest.ts';
import { PrometheusClient } from '../prometheus-client.ts';
import { TestCounter, TestHistogram, startMetricsTarget, type MetricsTarget } from '../testing/metrics-target.ts';
import { renderPrometheusConfig, startPrometheus, waitForTargetsUp, type RunningPrometheus } from '../../cluster/targets/local/prometheus.ts';
import { freePort } from '../../cluster/targets/local/ports.ts';
import { sleep } from '../../scripts/util/wait.ts';
import { startBetweenScrapes } from './testing/scrape-phase.ts';

// One real Prometheus (1 s scrapes) scraping a real HTTP server whose ingress metrics this test
// drives, one scrape job per story, all lived at once over seven 2-second analysis intervals:
//
//   ingress  all good (the default queries' job)
//   errors   interval 2: 10 % of requests take 0.8 s (p99 > 500 ms); intervals 4 and 5: 5 % are 503s
//   idle     all good, but no request at all in interval 3 (0/0: NaN)
//   absent   (not scraped: the metric does not exist)
//
// The test Canary mirrors the seed's (maxWeight 50, stepWeight 10, success rate ≥ 99, p99 ≤ 500 ms)
// with a 2 s interval and a threshold of 3, so the whole analysis takes 14 s.

const INTERVAL_MS = 2_000;
const INTERVALS = 7;
const TICK_MS = 100;
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const TEST_CANARY = `
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: hastecrm-api
  namespace: test
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: hastecrm-api}
  service: {port: 4000}
  analysis:
    interval: 2s
    threshold: 3
    maxWeight: 50
    stepWeight: 10
    metrics:
      - name: request-success-rate
        thresholdRange: {min: 99}
        interval: 2s
      - name: request-duration
        thresholdRange: {max: 500}
        interval: 2s
`;

interface Job {
  requests: TestCounter;
  duration: TestHistogram;
}

function job(): Job {
  // Like prom-client in the ingress, only the 200 series exists from the start: a 503 series is born with the first 503.
  return { requests: new TestCounter('ingress_requests_total').init({ status: '200' }), duration: new TestHistogram('ingress_request_duration_seconds', BUCKETS).init({}) };
}

const jobs = { ingress: job(), errors: job(), idle: job() };
const tempDirs: string[] = [];
let target: MetricsTarget | undefined;
let prometheus: RunningPrometheus | undefined;
let traffic: NodeJS.Timeout | undefined;
let client: PrometheusClient;
let t0: number;
let canary: FlaggerCanarySpec;

/** Which analysis interval `now` falls in: 1 for (t0, t0 + 2 s], …; 0 before the analysis. */
function intervalAt(now: number): number {
  return now < t0 ? 0 : Math.floor((now - t0) / INTERVAL_MS) + 1;
}

function tick(now: number): void {
  const interval = intervalAt(now);
  const good = (j: Job, count: number): void => {
    j.requests.inc({ status: '200' }, count);
    j.duration.observe({}, 0.03, count);
  };
  good(jobs.ingress, 10);
  if (interval === 2) {
    good(jobs.errors, 9);
    jobs.errors.requests.inc({ status: '200' });
    jobs.errors.duration.observe({}, 0.8);
  } else if (interval === 4 || interval === 5) {
    good(jobs.errors, 19);
    jobs.errors.requests.inc({ status: '503' });
    jobs.errors.duration.observe({}, 0.03);
  } else {
    good(jobs.errors, 10);
  }
  if (interval !== 3) good(jobs.idle, 10);
}

function replay(options: Partial<FlaggerReplayOptions> & { job?: string } = {}): Promise<CanaryReplay> {
  const { job: jobName = 'ingress', ...rest } = options;
  return replayFlaggerCanary({
    client,
    canary,
    start: t0,
    end: t0 + INTERVALS * INTERVAL_MS,
    queries: ingressBuiltinQueries({ job: jobName }),
    minIntervalSeconds: 1,
    ...rest,
  });
}

/** Every check on one line, so a failing assertion shows the whole replay. */
function table(result: CanaryReplay): string {
  const rows = result.checks.map(
    (c) => `#${c.iteration} w${c.weight} failed=${c.failedChecks} ${c.metrics.map((m) => `${m.name}=${m.value === null ? 'null' : m.value.toFixed(2)}:${m.outcome}`).join(' ')}`,
  );
  return [`${result.verdict}: ${result.reason}`, ...rows].join('\n');
}

const results: Record<string, CanaryReplay> = {};

beforeAll(async () => {
  canary = parseFlaggerCanary(TEST_CANARY);
  target = await startMetricsTarget({
    '/ingress': [jobs.ingress.requests, jobs.ingress.duration],
    '/errors': [jobs.errors.requests, jobs.errors.duration],
    '/idle': [jobs.idle.requests, jobs.idle.duration],
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'canary-flagger-test-'));
  tempDirs.push(dir);
  prometheus = await startPrometheus({
    dir,
    config: renderPrometheusConfig({
      scrapeIntervalSeconds: 1,
      jobs: ['ingress', 'errors', 'idle'].map((name) => ({ job: name, targets: [target!.hostPort], metricsPath: `/${name}` })),
      ruleFiles: [],
    }),
  });
  client = new PrometheusClient({ url: prometheus.url });
  await waitForTargetsUp(prometheus.url, { jobs: ['ingress', 'errors', 'idle'], timeoutMs: 20_000 });
  // Check moments halfway between scrapes, so no window edge depends on a few ms of scrape jitter.
  t0 = await startBetweenScrapes(client, ['ingress', 'errors', 'idle'], Date.now() + 300);
  traffic = setInterval(() => tick(Date.now()), TICK_MS);
  await sleep(t0 + INTERVALS * INTERVAL_MS - Date.now());
  // The replays wait for Prometheus to scrape each check's moment themselves.
  const [good, errors, idle, absent] = await Promise.all([replay(), replay({ job: 'errors' }), replay({ job: 'idle' }), replay({ job: 'absent' })]);
  Object.assign(results, { good, errors, idle, absent });
}, 60_000);

afterAll(async () => {
  clearInterval(traffic);
  await prometheus?.stop();
  await target?.close();
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('replayFlaggerCanary against a real Prometheus', () => {
  it('promotes with good data at the 5th passing check, weight 10 % → 50 %', () => {
    const result = results.good!;
    expect(result.verdict, table(result)).toBe('promote');
    expect(result.reason).toBe('Flagger would promote at check 5 (10s into the analysis), after 5 passing checks.');
    expect(result).toMatchObject({ tool: 'flagger', name: 'hastecrm-api', intervalSeconds: 2, threshold: 3, stepsToPromote: 5, missingData: false });
    expect(result.flaggerDecision).toEqual({ decision: 'promote', iteration: 5, at: t0 + 10_000 });
    expect(result.checks.map((c) => c.weight)).toEqual([10, 20, 30, 40, 50]);
    expect(result.checks.map((c) => c.at)).toEqual([1, 2, 3, 4, 5].map((i) => t0 + i * INTERVAL_MS));
    for (const check of result.checks) {
      const [success, duration] = check.metrics;
      expect(success?.value, table(result)).toBeCloseTo(100, 6);
      expect(success?.thresholdRange).toEqual({ min: 99 });
      // 0.03 s observations in the (0.025, 0.05] bucket: the interpolated p99 is just under 50 ms.
      expect(duration?.value).toBeGreaterThan(25);
      expect(duration?.value).toBeLessThanOrEqual(50);
      expect(check.metrics.map((m) => m.outcome)).toEqual(['ok', 'ok']);
    }
    expect(result.checks[0]?.metrics[0]?.query).toContain('ingress_requests_total{job="ingress",status!~"5.."}');
    expect(result.checks[0]?.metrics[1]?.query).toMatch(/^histogram_quantile\(0\.99, .*ingress_request_duration_seconds_bucket\{job="ingress"\}\[2s\]/);
  });

  it('rolls back exactly at the 3rd failed check, counting failures that are not consecutive', () => {
    const result = results.errors!;
    expect(result.verdict, table(result)).toBe('rollback');
    expect(result.reason).toMatch(/^Flagger would roll back after the 3rd failed check at 10s \(request-success-rate 9[2-6]\.\d\d% < 99\)\.$/);
    expect(result.flaggerDecision).toEqual({ decision: 'rollback', iteration: 5, at: t0 + 10_000 });
    expect(result.checks.map((c) => c.metrics.map((m) => m.outcome).join('/'))).toEqual(['ok/ok', 'ok/fail', 'ok/ok', 'fail/ok', 'fail/ok']);
    expect(result.checks.map((c) => c.failedChecks)).toEqual([0, 1, 1, 2, 3]);
    expect(result.checks.map((c) => c.weight), 'a failed check holds the weight').toEqual([10, 20, 20, 30, 30]);
    const slow = result.checks[1]?.metrics[1];
    expect(slow?.value).toBeGreaterThan(500);
    expect(slow?.reason).toMatch(/^request-duration \d+ ms > 500$/);
    // The 503 series is born in interval 4 and counted from its first value (counterIncrease), which
    // adds the errors before the window's first scrape to the extrapolated ones: 5 % reads as 5–7 %.
    expect(result.checks[3]?.metrics[0]?.value).toBeGreaterThan(92);
    expect(result.checks[3]?.metrics[0]?.value).toBeLessThan(96.5);
    expect(result.missingData).toBe(false);
  });

  it('counts an idle interval (NaN) as a failed check and still promotes when it stays below the threshold', () => {
    const result = results.idle!;
    expect(result.verdict, table(result)).toBe('promote');
    expect(result.missingData).toBe(true);
    expect(result.flaggerDecision?.iteration, 'the failed check held the weight back one interval').toBe(6);
    expect(result.reason).toBe(
      'Flagger would promote at check 6 (12s into the analysis), after 5 passing checks; 1 check(s) without data (request-success-rate, request-duration) count as failed but stay below the threshold of 3.',
    );
    const idle = result.checks[2]!;
    expect(idle.metrics.map((m) => [m.outcome, m.value])).toEqual([
      ['no-data', null],
      ['no-data', null],
    ]);
    expect(idle.metrics[0]?.reason).toBe('the value is NaN (0/0: no requests in the interval)');
    expect(idle.failedChecks).toBe(1);
  });

  it('halts for lack of data when the metric is absent, though Flagger itself would roll back', () => {
    const result = results.absent!;
    expect(result.verdict, table(result)).toBe('halt');
    expect(result.missingData).toBe(true);
    expect(result.flaggerDecision).toEqual({ decision: 'rollback', iteration: 3, at: t0 + 6_000 });
    expect(result.reason).toBe(
      'Halted for lack of data: 3 of 3 checks had no data (request-success-rate, request-duration); Flagger counts them as failed and would roll back after the 3rd failed check at 6s, but the checks with data alone do not reach the threshold.',
    );
    for (const check of result.checks) {
      expect(check.metrics.map((m) => m.outcome)).toEqual(['no-data', 'no-data']);
      expect(check.metrics[0]?.reason).toMatch(/^no values found/);
    }
  });

  it("halts when the run is too short for the seed's canary (5 checks of 30 s = 2m30s)", async () => {
    const seed = parseFlaggerCanary(await readFile(new URL('../../cluster/manifests/base/hastecrm-api/canary.yaml', import.meta.url), 'utf8'));
    const result = await replay({ canary: seed });
    expect(result.verdict).toBe('halt');
    expect(result.checks).toEqual([]);
    expect(result.reason).toBe(
      'Halted: the run (14s) allowed 0 check(s) of 30s; Flagger needs 5 passing checks (2m30s of analysis) to promote or 5 failed ones to roll back, and saw 0 passing and 0 failed.',
    );
    expect(result.notes).toEqual(['Webhooks run during the analysis are not replayed (load-test); a failing webhook would fail the check too.']);
  });

  it('halts when the run ends before the last step, saying how many intervals were needed and available', async () => {
    const result = await replay({ end: t0 + 3 * INTERVAL_MS });
    expect(result.verdict, table(result)).toBe('halt');
    expect(result.checksAvailable).toBe(3);
    expect(result.reason).toBe(
      'Halted: the run (6s) allowed 3 check(s) of 2s; Flagger needs 5 passing checks (10s of analysis) to promote or 3 failed ones to roll back, and saw 3 passing and 0 failed.',
    );
  });

  it("raises a short analysis interval to Flagger's 10 s minimum unless told otherwise", async () => {
    const result = await replay({ minIntervalSeconds: undefined });
    expect(result.intervalSeconds).toBe(10);
    expect(result.checks.map((c) => c.at)).toEqual([t0 + 10_000]);
    expect(result.verdict).toBe('halt');
    expect(result.notes[0]).toBe("analysis.interval 2s is below Flagger's minimum; Flagger runs it every 10s, and so does the replay.");
  });

  it('reports a query Prometheus rejects as a check without data, with its error', async () => {
    const broken = parseFlaggerCanary(TEST_CANARY.replace('      - name: request-duration', '      - name: rps\n        query: sum(rate(ingress_requests_total[{{ interval }}])\n        thresholdRange: {min: 1}\n      - name: request-duration'));
    const result = await replay({ canary: broken, end: t0 + 3 * INTERVAL_MS });
    const rps = result.checks[0]?.metrics[1];
    expect(rps?.name).toBe('rps');
    expect(rps?.query, "Flagger's default metric interval").toBe('sum(rate(ingress_requests_total[1m])');
    expect(rps?.outcome).toBe('no-data');
    expect(rps?.reason).toMatch(/^Prometheus rejected the query \(HTTP 400\): .*parse error/);
    expect(result.verdict).toBe('halt');
    expect(result.flaggerDecision?.decision).toBe('rollback');
  });

  it('replays MetricTemplates with their variables rendered, and refuses a template it was not given', async () => {
    const templated = parseFlaggerCanary(TEST_CANARY.replace('      - name: request-duration', '      - name: rps\n        templateRef: {name: rps, namespace: monitoring}\n        thresholdRange: {min: 50, max: 1000}\n        interval: 2s\n      - name: request-duration'));
    const result = await replay({ canary: templated, metricTemplates: { 'monitoring/rps': 'sum(rate(ingress_requests_total{job="{{ target }}-ingress"}[{{ interval }}]))' }, end: t0 + 3 * INTERVAL_MS });
    const rps = result.checks[0]?.metrics[1];
    expect(rps?.query).toBe('sum(rate(ingress_requests_total{job="hastecrm-api-ingress"}[2s]))');
    expect(rps?.outcome, 'no such job: no values').toBe('no-data');
    const renamed = await replay({ canary: templated, metricTemplates: { rps: 'sum(rate(ingress_requests_total{job="ingress"}[{{ interval }}]))' }, end: t0 + 3 * INTERVAL_MS });
    expect(renamed.checks.map((c) => c.metrics[1]?.outcome)).toEqual(['ok', 'ok', 'ok']);
    expect(renamed.checks[0]?.metrics[1]?.value).toBeGreaterThan(80);
    await expect(replay({ canary: templated })).rejects.toThrow('metric rps references MetricTemplate monitoring/rps; pass its spec.query in metricTemplates["monitoring/rps"] to replay it');
    await expect(replay({ canary: templated, metricTemplates: { rps: 'x{a="{{ app }}"}' } })).rejects.toThrow(ManifestError);
  });

  it('is a halt with no data, quickly, when Prometheus is unreachable', async () => {
    const port = await freePort();
    const started = Date.now();
    const result = await replay({ client: new PrometheusClient({ url: `http://127.0.0.1:${port}`, attempts: 2, backoffMs: 20 }) });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result.verdict).toBe('halt');
    expect(result.checks[0]?.metrics[0]?.reason).toMatch(/^Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer after 2 tries: .*ECONNREFUSED/);
  });

  it('leaves out checks Prometheus has not scraped yet', async () => {
    const now = Date.now();
    const result = await replay({ start: now - 1_000, end: now + 60_000, maxWaitMs: 500 });
    expect(result.checks).toEqual([]);
    expect(result.checksAvailable).toBe(0);
    expect(result.verdict).toBe('halt');
    expect(result.notes.at(-1)).toMatch(/^Checks from 1 on \(at .*\) are not scraped yet and were left out\.$/);
  });

  it('does not judge a canary without metric checks or with skipAnalysis', async () => {
    const bare = parseFlaggerCanary(TEST_CANARY.replace(/ {4}metrics:[\s\S]*$/, '    metrics: []\n'));
    expect((await replay({ canary: bare })).reason).toBe('The canary has no metric checks: Flagger would promote after 5 intervals whatever the data, so the replay cannot judge it.');
    const skipped = await replay({ canary: { ...canary, skipAnalysis: true } });
    expect(skipped.verdict).toBe('halt');
    expect(skipped.reason).toMatch(/^spec\.skipAnalysis is set/);
  });

  it('refuses a window that is not one, and stops when aborted', async () => {
    await expect(replay({ end: t0 })).rejects.toThrow(RangeError);
    const controller = new AbortController();
    controller.abort(new Error('stopped by the test'));
    await expect(replay({ signal: controller.signal })).rejects.toThrow('stopped by the test');
  });
});
