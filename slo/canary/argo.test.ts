import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analysisRefsFromRollout, parseAnalysisTemplate, replayArgoAnalysis, resolveArgs, type AnalysisReplay, type ArgoReplayOptions } from './argo.ts';
import { instantResultType } from './promql-result-type.ts';
import { PrometheusClient } from '../prometheus-client.ts';
import { TestCounter, startMetricsTarget, type MetricsTarget } from '../testing/metrics-target.ts';
import { renderPrometheusConfig, startPrometheus, waitForTargetsUp, type RunningPrometheus } from '../../cluster/targets/local/prometheus.ts';
import { freePort } from '../../cluster/targets/local/ports.ts';
import { sleep } from '../../scripts/util/wait.ts';
import { startBetweenScrapes } from './testing/scrape-phase.ts';

// One real Prometheus (1 s scrapes) scraping the API's http_requests_total from a real HTTP
// server this test drives, one scrape job per story, over five 2-second intervals:
//
//   good     all 200s
//   bad      5 % 503s in intervals 2 and 3 (t0+2 s … t0+6 s)
//   idle     the counters exist but nothing is requested (0/0: NaN)
//   absent   (not scraped)
//   preview  the good data again, under service="hastecrm-api-preview" (for the seed's template)
//
// Test templates measure every 2 s from 2 s after the start, 4 times: at 2, 4, 6 and 8 s.

const INTERVAL_MS = 2_000;
const INTERVALS = 5;
const TICK_MS = 100;
const MANIFESTS = new URL('../../cluster/manifests/base/hastecrm-api/', import.meta.url);

const counters = {
  good: new TestCounter('http_requests_total').init({ status: '200' }),
  bad: new TestCounter('http_requests_total').init({ status: '200' }).init({ status: '503' }),
  idle: new TestCounter('http_requests_total').init({ status: '200' }).init({ status: '503' }),
};
const tempDirs: string[] = [];
let target: MetricsTarget | undefined;
let prometheus: RunningPrometheus | undefined;
let traffic: NodeJS.Timeout | undefined;
let client: PrometheusClient;
let t0: number;

function tick(now: number): void {
  const interval = now < t0 ? 0 : Math.floor((now - t0) / INTERVAL_MS) + 1;
  counters.good.inc({ status: '200' }, 10);
  const errors = interval === 2 || interval === 3 ? 1 : 0;
  counters.bad.inc({ status: '200' }, 20 - errors);
  counters.bad.inc({ status: '503' }, errors);
}

const SUCCESS_RATE = 'sum(increase(http_requests_total{job="{{args.job}}",status!~"5.."}[2s])) / sum(increase(http_requests_total{job="{{args.job}}"}[2s]))';

interface MetricOptions {
  name?: string;
  successCondition?: string;
  failureCondition?: string;
  query?: string;
  count?: number;
  failureLimit?: number;
  inconclusiveLimit?: number;
  consecutiveErrorLimit?: number;
}

function template(metrics: MetricOptions[], spec: Record<string, unknown> = {}): ReturnType<typeof parseAnalysisTemplate> {
  return parseAnalysisTemplate({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'success-rate' },
    spec: {
      args: [{ name: 'job' }],
      metrics: metrics.map(({ query, ...metric }) => ({
        name: 'success-rate',
        interval: '2s',
        initialDelay: '2s',
        count: 4,
        failureLimit: 1,
        ...metric,
        provider: { prometheus: { address: 'http://prometheus:9090', query: query ?? SUCCESS_RATE } },
      })),
      ...spec,
    },
  });
}

function replay(spec: ReturnType<typeof parseAnalysisTemplate>, job: string, options: Partial<ArgoReplayOptions> = {}): Promise<AnalysisReplay> {
  return replayArgoAnalysis({ client, template: spec, args: { job }, start: t0, end: t0 + INTERVALS * INTERVAL_MS, ...options });
}

/** Every measurement on one line, so a failing assertion shows the whole replay. */
function table(result: AnalysisReplay): string {
  const rows = result.metrics.flatMap((metric) =>
    metric.measurements.map((m) => `${metric.name} #${m.index} +${(m.at - t0) / 1000}s ${JSON.stringify(m.result)} ${m.phase}${m.message ? ` (${m.message})` : ''}`),
  );
  return [`${result.phase} → ${result.verdict}: ${result.reason}`, ...rows].join('\n');
}

const results: Record<string, AnalysisReplay> = {};
const FAIL_CLOSED = { successCondition: 'len(result) == 1 && result[0] >= 0.99', failureCondition: 'len(result) == 1 && result[0] < 0.99' };

beforeAll(async () => {
  target = await startMetricsTarget({ '/good': [counters.good], '/bad': [counters.bad], '/idle': [counters.idle] });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'canary-argo-test-'));
  tempDirs.push(dir);
  prometheus = await startPrometheus({
    dir,
    config: renderPrometheusConfig({
      scrapeIntervalSeconds: 1,
      jobs: [
        ...['good', 'bad', 'idle'].map((name) => ({ job: name, targets: [target!.hostPort], metricsPath: `/${name}` })),
        { job: 'preview', targets: [target.hostPort], metricsPath: '/good', labels: { service: 'hastecrm-api-preview' } },
      ],
      ruleFiles: [],
    }),
  });
  client = new PrometheusClient({ url: prometheus.url });
  await waitForTargetsUp(prometheus.url, { jobs: ['good', 'bad', 'idle', 'preview'], timeoutMs: 20_000 });
  // Check moments halfway between scrapes, so no window edge depends on a few ms of scrape jitter.
  t0 = await startBetweenScrapes(client, ['good', 'bad', 'idle', 'preview'], Date.now() + 300);
  traffic = setInterval(() => tick(Date.now()), TICK_MS);
  await sleep(t0 + INTERVALS * INTERVAL_MS - Date.now());
  const strict = { successCondition: 'result[0] >= 0.99' };
  const runs: Record<string, Promise<AnalysisReplay>> = {
    successful: replay(template([strict]), 'good'),
    failed: replay(template([strict]), 'bad'),
    inconclusive: replay(template([{ ...FAIL_CLOSED, inconclusiveLimit: 0 }]), 'absent'),
    error: replay(template([{ ...strict, consecutiveErrorLimit: 2 }]), 'absent'),
    failOpen: replay(template([{ successCondition: 'len(result) == 0 || result[0] >= 0.99' }]), 'absent'),
    nan: replay(template([strict]), 'idle'),
    short: replay(template([{ ...strict, count: 10 }]), 'good'),
    scalar: replay(template([{ successCondition: 'result >= 0.99', query: `scalar(${SUCCESS_RATE})` }]), 'good'),
    rejected: replay(template([{ ...strict, query: 'sum(increase(http_requests_total[2s])', consecutiveErrorLimit: 0 }]), 'good'),
  };
  const twoMetrics = [
    { ...strict, name: 'good-rate', query: SUCCESS_RATE.replaceAll('{{args.job}}', 'good') },
    { ...strict, name: 'bad-rate', query: SUCCESS_RATE.replaceAll('{{args.job}}', 'bad') },
  ];
  runs.terminated = replayArgoAnalysis({ client, template: template(twoMetrics, { args: [] }), start: t0, end: t0 + INTERVALS * INTERVAL_MS });
  runs.dryRun = replayArgoAnalysis({ client, template: template(twoMetrics, { args: [], dryRun: [{ metricName: 'bad-rate' }] }), start: t0, end: t0 + INTERVALS * INTERVAL_MS });
  for (const [name, run] of Object.entries(runs)) results[name] = await run;
}, 60_000);

afterAll(async () => {
  clearInterval(traffic);
  await prometheus?.stop();
  await target?.close();
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('replayArgoAnalysis against a real Prometheus', () => {
  it('is Successful after `count` good measurements, at initialDelay and every interval', () => {
    const result = results.successful!;
    expect(result.phase, table(result)).toBe('Successful');
    expect(result.verdict).toBe('successful');
    expect(result.reason).toBe('Argo Rollouts would mark the analysis Successful (success-rate 4/4 successful).');
    const [metric] = result.metrics;
    expect(metric?.measurements.map((m) => m.at)).toEqual([2, 4, 6, 8].map((s) => t0 + s * 1000));
    expect(metric?.measurements.map((m) => m.result)).toEqual([[1], [1], [1], [1]]);
    expect(metric?.query).toContain('job="good"');
    expect(result.missingData).toBe(false);
  });

  it('fails once failed measurements exceed failureLimit, not before', () => {
    const result = results.failed!;
    expect(result.phase, table(result)).toBe('Failed');
    expect(result.verdict).toBe('failed');
    const [metric] = result.metrics;
    expect(metric?.measurements.map((m) => m.phase)).toEqual(['Successful', 'Failed', 'Failed']);
    expect(metric).toMatchObject({ successful: 1, failed: 2, phase: 'Failed' });
    expect(result.reason).toMatch(/^Argo Rollouts would fail the analysis at success-rate measurement 3 at 6s \(2 failed > failureLimit 1; result \[0\.9\d+\]\)\.$/);
  });

  it('is Inconclusive when neither condition holds on an empty result (the fail-closed template)', () => {
    const result = results.inconclusive!;
    expect(result.phase, table(result)).toBe('Inconclusive');
    expect(result.verdict).toBe('inconclusive');
    expect(result.missingData).toBe(true);
    expect(result.metrics[0]?.measurements).toHaveLength(1);
    expect(result.reason).toBe(
      'Argo Rollouts would mark the analysis Inconclusive and pause the rollout at success-rate measurement 1 at 2s (result []: neither the success nor the failure condition held).',
    );
  });

  it('is Error after more consecutive errors than consecutiveErrorLimit (result[0] of an empty result)', () => {
    const result = results.error!;
    expect(result.phase, table(result)).toBe('Error');
    expect(result.verdict).toBe('inconclusive');
    expect(result.metrics[0]).toMatchObject({ error: 3, phase: 'Error' });
    expect(result.reason).toBe(
      'Argo Rollouts would mark the analysis Error and abort the rollout at success-rate measurement 3 at 6s: 3 consecutive errors > consecutiveErrorLimit 2 (index out of range: 0 (len 0) (at column 7)).',
    );
  });

  it('never calls an analysis successful because its conditions let no data through', () => {
    const result = results.failOpen!;
    expect(result.phase, table(result)).toBe('Successful');
    expect(result.verdict).toBe('inconclusive');
    expect(result.reason).toBe(
      "Argo Rollouts would mark the analysis Successful, but 4 measurement(s) without data (success-rate #1, success-rate #2, success-rate #3, success-rate #4) passed only because the template's conditions let no data through.",
    );
  });

  it('does not call an analysis failed when only NaN (no traffic) failed it', () => {
    const result = results.nan!;
    expect(result.phase, table(result)).toBe('Failed');
    expect(result.verdict).toBe('inconclusive');
    expect(result.metrics[0]?.measurements[0]?.result).toEqual([NaN]);
    expect(result.reason).toBe('Argo Rollouts would fail the analysis at success-rate measurement 2 at 4s (2 failed > failureLimit 1), but only 0 of those measurements had data: the failure rests on missing data.');
  });

  it('halts when the run is too short to take `count` measurements', () => {
    const result = results.short!;
    expect(result.phase, table(result)).toBe('Running');
    expect(result.verdict).toBe('inconclusive');
    expect(result.reason).toBe('Halted: the run (10s) was too short for the analysis to complete: success-rate took 5 of 10 measurements (every 2s from 2s after the start).');
  });

  it('binds a scalar result as a number, as Argo does', () => {
    const result = results.scalar!;
    expect(result.phase, table(result)).toBe('Successful');
    expect(result.metrics[0]?.measurements.map((m) => m.result)).toEqual([1, 1, 1, 1]);
  });

  it('records a query Prometheus rejects as an Error measurement with its message', () => {
    const result = results.rejected!;
    expect(result.phase, table(result)).toBe('Error');
    expect(result.verdict).toBe('inconclusive');
    expect(result.metrics[0]?.measurements[0]?.message).toMatch(/^Prometheus rejected the query \(HTTP 400\): .*parse error/);
    expect(result.missingData).toBe(true);
  });

  it('stops every metric when one fails, the others counting as Successful', () => {
    const result = results.terminated!;
    expect(result.phase, table(result)).toBe('Failed');
    expect(result.verdict).toBe('failed');
    const [good, bad] = result.metrics;
    expect(bad).toMatchObject({ phase: 'Failed', failed: 2 });
    expect(good?.phase).toBe('Successful');
    expect(good?.measurements, 'no measurement after the failure at 6 s').toHaveLength(3);
  });

  it('measures dry-run metrics without letting them decide', () => {
    const result = results.dryRun!;
    expect(result.phase, table(result)).toBe('Successful');
    expect(result.verdict).toBe('successful');
    expect(result.metrics.map((m) => [m.name, m.phase, m.dryRun, m.measurements.length])).toEqual([
      ['good-rate', 'Successful', false, 4],
      ['bad-rate', 'Failed', true, 3],
    ]);
  });

  it("runs the seed Rollout's success-rate template on the preview service's series", async () => {
    const spec = parseAnalysisTemplate(await readFile(new URL('analysis-template-success-rate.yaml', MANIFESTS), 'utf8'));
    const [ref] = analysisRefsFromRollout(await readFile(new URL('rollout.yaml', MANIFESTS), 'utf8'));
    const query = resolveArgs(spec, ref?.args).get('success-rate') ?? '';
    expect(instantResultType(query)).toBe('vector');
    const samples = await client.instantQuery(query, t0 + INTERVALS * INTERVAL_MS);
    expect(samples.map((s) => s.value)).toEqual([1]);
    expect(spec.metrics[0]?.successCondition?.evaluate([1])).toBe(true);
    // Its 30 s interval and 30 s delay do not fit a 10 s run: the replay says so instead of passing.
    const result = await replayArgoAnalysis({ client, template: spec, args: ref?.args, start: t0, end: t0 + INTERVALS * INTERVAL_MS });
    expect(result.verdict).toBe('inconclusive');
    expect(result.reason).toBe('Halted: the run (10s) was too short for the analysis to complete: success-rate took 0 of 5 measurements (every 30s from 30s after the start).');
  });

  it('reads scalar and vector results as Prometheus returns them', async () => {
    for (const query of ['scalar(sum(http_requests_total))', '1 + 2', '-(time())', 'sum(http_requests_total) / 2', 'vector(1)', 'http_requests_total offset 1s', 'scalar(vector(1)) > bool 0']) {
      const response = await fetch(`${prometheus!.url}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await response.json()) as { data: { resultType: string } };
      expect(instantResultType(query), query).toBe(body.data.resultType);
    }
  });

  it('is Error, quickly, when Prometheus is unreachable', async () => {
    const port = await freePort();
    const started = Date.now();
    const result = await replayArgoAnalysis({
      client: new PrometheusClient({ url: `http://127.0.0.1:${port}`, attempts: 2, backoffMs: 20 }),
      template: template([{ successCondition: 'result[0] >= 0.99', consecutiveErrorLimit: 1 }]),
      args: { job: 'good' },
      start: t0,
      end: t0 + INTERVALS * INTERVAL_MS,
    });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result.phase).toBe('Error');
    expect(result.verdict).toBe('inconclusive');
    expect(result.metrics[0]?.measurements[0]?.message).toMatch(/did not answer after 2 tries: .*ECONNREFUSED/);
  });

  it('refuses a missing argument and a window that is not one', async () => {
    await expect(replayArgoAnalysis({ client, template: template([{}]), start: t0, end: t0 + 1_000 })).rejects.toThrow(/^args\.job: has no value/);
    await expect(replay(template([{}]), 'good', { end: t0 - 1 })).rejects.toThrow(RangeError);
  });
});
