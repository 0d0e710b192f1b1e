import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectTimeSeries, isLoaded, TIME_SERIES_NAMES, type LoadedTimeSeries, type RunTimeSeries } from './timeseries.ts';
import { PrometheusClient } from './prometheus-client.ts';
import { TestCounter, TestHistogram, startMetricsTarget, type MetricsTarget } from './testing/metrics-target.ts';
import { renderPrometheusConfig, startPrometheus, waitForTargetsUp, type RunningPrometheus } from '../cluster/targets/local/prometheus.ts';
import { freePort } from '../cluster/targets/local/ports.ts';
import { sleep } from '../scripts/util/wait.ts';
import { waitForScrapesAfter } from './settle.ts';

// One real Prometheus (1 s scrapes) scraping two "replicas" under job hastecrm-api and the load
// driver under job k6, with counters and histograms this test drives. Lived once in beforeAll:
//
//   idle      [-3.5 s, 0)  no traffic: the server's series exist at 0, the client's do not exist yet
//   good      [0, 4 s)     100 req/s on both sides, 30 ms
//   fault     [4 s, 9 s)   client: 10 % errors (its error series born here); server: a burst of 40
//                          500s at 5.5 s (a series born with it), and 80 % of requests take 0.8 s;
//                          replica B's /metrics answers 503
//   recovery  [9 s, 16 s)  all good, but replica A's /metrics fails for 3.2 s: the server's
//                          request series go missing (a gap), then come back
//
// The series are collected over [-3 s, 16 s] with a 3 s window (16, not 15: after replica A's
// outage ends at 13.2 s, a busy machine may scrape it only twice before 16 s), so a step's window lies inside one
// stretch from 3 s after its start.

const TICK_MS = 100;
const PER_TICK = 10; // 100 req/s
const WINDOW_S = 3;
const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5];

// The client's request series are born with the first request, as the load engine's are.
const k6Requests = new TestCounter('k6_http_reqs_total');
const k6Duration = new TestHistogram('k6_http_req_duration_seconds', BUCKETS).init({});
const apiLabels = { method: 'GET', route: '/api/contacts' };
const serverRequests = new TestCounter('http_requests_total').init({ ...apiLabels, status: '200' });
const serverDuration = new TestHistogram('http_request_duration_seconds', BUCKETS).init(apiLabels);

const tempDirs: string[] = [];
let replicaA: MetricsTarget | undefined;
let replicaB: MetricsTarget | undefined;
let prometheus: RunningPrometheus | undefined;
let traffic: NodeJS.Timeout | undefined;
let t0 = 0;
let collected: RunTimeSeries;

const at = (seconds: number): number => t0 + seconds * 1000;
const stretch = { good: [0, 4], fault: [4, 9], recovery: [9, 16] } as const;
const outageA = [10, 13.2] as const;
// The server's 500s come as one burst in a series born with it and never incremented again:
// increase() alone sees a flat series and would never show them.
const SERVER_BURST_S = 5.5;
const SERVER_BURST = 40;
let serverBurstSent = false;

function tick(now: number): void {
  if (now < t0) return;
  const inFault = now >= at(stretch.fault[0]) && now < at(stretch.fault[1]);
  const errors = inFault ? 1 : 0;
  k6Requests.inc({ expected_response: 'true', status: '200' }, PER_TICK - errors);
  if (errors) k6Requests.inc({ expected_response: 'false', status: '503' }, errors);
  k6Duration.observe({}, 0.03, PER_TICK);
  serverRequests.inc({ ...apiLabels, status: '200' }, PER_TICK);
  if (!serverBurstSent && now >= at(SERVER_BURST_S)) {
    serverBurstSent = true;
    serverRequests.inc({ ...apiLabels, status: '500' }, SERVER_BURST);
  }
  const slow = inFault ? 8 : 0;
  serverDuration.observe(apiLabels, 0.8, slow);
  serverDuration.observe(apiLabels, 0.03, PER_TICK - slow);
}

beforeAll(async () => {
  replicaA = await startMetricsTarget({ '/k6': [k6Requests, k6Duration], '/api': [serverRequests, serverDuration] });
  replicaB = await startMetricsTarget({ '/api': [] });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'slo-timeseries-test-'));
  tempDirs.push(dir);
  prometheus = await startPrometheus({
    dir,
    config: renderPrometheusConfig({
      scrapeIntervalSeconds: 1,
      jobs: [
        { job: 'k6', targets: [replicaA.hostPort], metricsPath: '/k6' },
        { job: 'hastecrm-api', targets: [replicaA.hostPort, replicaB.hostPort], metricsPath: '/api' },
      ],
      ruleFiles: [],
    }),
  });
  await waitForTargetsUp(prometheus.url, { jobs: ['k6', 'hastecrm-api'], timeoutMs: 20_000 });
  t0 = Date.now() + 3_500;
  traffic = setInterval(() => tick(Date.now()), TICK_MS);

  await sleep(at(stretch.fault[0]) - Date.now());
  replicaB.failing.add('/api');
  await sleep(at(stretch.fault[1]) - Date.now());
  replicaB.failing.delete('/api');
  await sleep(at(outageA[0]) - Date.now());
  replicaA.failing.add('/api');
  await sleep(at(outageA[1]) - Date.now());
  replicaA.failing.delete('/api');
  // The last step must be in Prometheus: wait (polling, bounded) until every target was scraped
  // after it. A fixed margin was not enough when the machine was busy running other suites.
  await sleep(Math.max(0, at(stretch.recovery[1]) - Date.now()));
  const scraped = await waitForScrapesAfter(prometheus.url, ['k6', 'hastecrm-api'], at(stretch.recovery[1]), 15_000);
  if (!scraped) throw new Error('Prometheus did not scrape every target after the last step within 15 s');
  collected = await collectTimeSeries({ client: new PrometheusClient({ url: prometheus.url }), start: at(-3), end: at(16), windowSeconds: WINDOW_S });
}, 60_000);

afterAll(async () => {
  clearInterval(traffic);
  await prometheus?.stop();
  await replicaA?.close();
  await replicaB?.close();
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function loaded(name: string): LoadedTimeSeries {
  const series = collected.series.find((s) => s.name === name);
  if (!series) throw new Error(`no series ${name}; have ${collected.series.map((s) => s.name).join(', ')}`);
  if (!isLoaded(series)) throw new Error(`${name} did not load: ${series.error}`);
  return series;
}

/** The points whose whole window lies in [fromS, toS] (seconds from t0), with a scrape's margin. */
function within(series: LoadedTimeSeries, fromS: number, toS: number): number[] {
  const values = series.points.filter(([t]) => t - WINDOW_S * 1000 >= at(fromS) && t <= at(toS)).map(([, v]) => v);
  expect(values.length, `${series.name} should have points with a window inside ${fromS}–${toS} s: ${JSON.stringify(series.points.map(([t, v]) => [(t - t0) / 1000, v]))}`).toBeGreaterThan(0);
  return values;
}

function describePoints(series: LoadedTimeSeries): string {
  return series.points.map(([t, v]) => `${((t - t0) / 1000).toFixed(1)}s=${v}`).join(' ');
}

describe('collectTimeSeries against a real Prometheus', () => {
  it('loads every series on the step grid, with its unit, side and PromQL', () => {
    expect(collected.series.map((s) => s.name)).toEqual(TIME_SERIES_NAMES);
    expect(collected.series.map((s) => s.name)).toEqual([
      'client-request-rate',
      'client-error-ratio',
      'client-latency-p50',
      'client-latency-p95',
      'client-latency-p99',
      'server-request-rate',
      'server-error-ratio',
      'server-latency-p50',
      'server-latency-p95',
      'server-latency-p99',
      'server-replicas-up',
      'server-replicas-scraped',
    ]);
    expect({ start: collected.start, end: collected.end, stepSeconds: collected.stepSeconds, windowSeconds: collected.windowSeconds }).toEqual({ start: at(-3), end: at(16), stepSeconds: 1, windowSeconds: 3 });
    for (const s of collected.series) {
      expect(isLoaded(s), `${s.name}: ${'error' in s ? s.error : ''}`).toBe(true);
      for (const [t] of loaded(s.name).points) expect((t - collected.start) % 1000, `${s.name} point at ${t} is off the step grid`).toBe(0);
    }
    const pick = (name: string): Pick<LoadedTimeSeries, 'unit' | 'side' | 'query'> => (({ unit, side, query }) => ({ unit, side, query }))(loaded(name));
    expect(pick('client-request-rate')).toEqual({
      unit: 'req/s',
      side: 'client',
      query:
        'sum ((increase(k6_http_reqs_total{job="k6"}[3s]) and last_over_time(k6_http_reqs_total{job="k6"}[5m] offset 3s)) or (((increase(k6_http_reqs_total{job="k6"}[3s]) >= max_over_time(k6_http_reqs_total{job="k6"}[3s])) or max_over_time(k6_http_reqs_total{job="k6"}[3s])) unless last_over_time(k6_http_reqs_total{job="k6"}[5m] offset 3s))) / 3',
    });
    expect(pick('server-error-ratio').unit).toBe('ratio');
    expect(pick('server-error-ratio').query).toMatch(/^\(sum \(\(increase\(http_requests_total\{job="hastecrm-api",status=~"5\.\."\}\[3s\]\) .* or vector\(0\)\) \/ sum \(\(increase\(http_requests_total\{job="hastecrm-api"\}\[3s\]\)/);
    expect(pick('server-latency-p95')).toMatchObject({ unit: 'ms', side: 'server' });
    expect(pick('server-latency-p95').query).toMatch(/^histogram_quantile\(0\.95, sum by \(le\) \(\(increase\(http_request_duration_seconds_bucket\{job="hastecrm-api",route=~"\/api\.\*"\}\[3s\]\).*\) \* 1000$/);
    expect(loaded('server-replicas-up')).toMatchObject({ unit: 'replicas', query: 'sum(up{job="hastecrm-api"})' });
  });

  it('gives the request rate per second on both sides', () => {
    for (const name of ['client-request-rate', 'server-request-rate']) {
      // (The server's last windows still hold its outage; the last test looks at those.)
      const tail = name.startsWith('client') ? within(loaded(name), 15 - WINDOW_S, 15) : [];
      for (const value of [...within(loaded(name), ...stretch.good), ...within(loaded(name), 5, 9), ...tail]) {
        expect(value, `${name}: ${describePoints(loaded(name))}`).toBeGreaterThan(85);
        expect(value, `${name}: ${describePoints(loaded(name))}`).toBeLessThan(115);
      }
    }
  });

  it('keeps real zeros and leaves gaps as gaps: no traffic is rate 0, no series or 0/0 is no point', () => {
    const serverRate = loaded('server-request-rate');
    expect(within(serverRate, -3.5, 0).every((v) => v === 0), `the server's counters exist at 0: ${describePoints(serverRate)}`).toBe(true);
    for (const name of ['client-request-rate', 'client-error-ratio', 'client-latency-p95', 'server-error-ratio', 'server-latency-p95']) {
      const series = loaded(name);
      expect(series.points.filter(([t]) => t <= at(0)), `${name} before the traffic: ${describePoints(series)}`).toEqual([]);
    }
    expect(loaded('server-error-ratio').nonFinite, 'the NaN (0/0) steps are counted').toBeGreaterThan(0);
  });

  it('does not overshoot where series are born: the windows holding the start of load stay below the real rate', () => {
    const rate = loaded('client-request-rate');
    const ramp = rate.points.filter(([t]) => t > at(0) && t < at(WINDOW_S));
    expect(ramp.length, describePoints(rate)).toBeGreaterThan(0);
    for (const [t, v] of ramp) expect(v, `at ${(t - t0) / 1000} s, ${describePoints(rate)}`).toBeLessThanOrEqual(100 * ((t - at(0)) / 1000 / WINDOW_S) * 1.1 + 5);
  });

  it('gives the error ratio of each side, counting error series born during the fault', () => {
    for (const name of ['client-error-ratio', 'server-error-ratio']) {
      const series = loaded(name);
      for (const v of within(series, ...stretch.good)) expect(v, `${name} before the fault is a real 0: ${describePoints(series)}`).toBe(0);
    }
    const client = loaded('client-error-ratio');
    for (const v of within(client, ...stretch.fault)) {
      expect(v, describePoints(client)).toBeGreaterThan(0.07);
      expect(v, describePoints(client)).toBeLessThan(0.13);
    }
    // 40 errors among ~300 requests in each window holding the burst; increase() alone would give 0 throughout.
    const server = loaded('server-error-ratio');
    const holdingBurst = server.points.filter(([t]) => t > at(SERVER_BURST_S) + 1_000 && t < at(SERVER_BURST_S) + (WINDOW_S - 1) * 1000);
    expect(holdingBurst.length, describePoints(server)).toBeGreaterThan(0);
    for (const [, v] of holdingBurst) {
      expect(v, describePoints(server)).toBeGreaterThan(0.08);
      expect(v, describePoints(server)).toBeLessThan(0.16);
    }
    // Once the window has moved past the burst, the flat series adds nothing.
    for (const v of within(server, SERVER_BURST_S + 1, 15)) expect(v, describePoints(server)).toBe(0);
  });

  it('gives latency quantiles in ms from the histograms, on a rolling window', () => {
    // 30 ms observations fall in the (0, 50 ms] bucket: histogram_quantile interpolates linearly inside it.
    expect(within(loaded('client-latency-p50'), ...stretch.good).every((v) => Math.abs(v - 25) < 0.01)).toBe(true);
    expect(within(loaded('client-latency-p95'), ...stretch.good).every((v) => Math.abs(v - 47.5) < 0.01)).toBe(true);
    expect(within(loaded('client-latency-p99'), ...stretch.fault).every((v) => Math.abs(v - 49.5) < 0.01)).toBe(true);
    const serverP95 = loaded('server-latency-p95');
    for (const v of within(serverP95, ...stretch.fault)) {
      expect(v, describePoints(serverP95)).toBeGreaterThan(500);
      expect(v, describePoints(serverP95)).toBeLessThanOrEqual(1000);
    }
    for (const v of within(serverP95, ...stretch.good)) expect(v, describePoints(serverP95)).toBeLessThan(50);
  });

  it('shows the API replicas up over time, out of those scraped', () => {
    const up = loaded('server-replicas-up');
    const valueAt = (s: number): number | undefined => up.points.find(([t]) => t === at(s))?.[1];
    expect(valueAt(2), describePoints(up)).toBe(2);
    expect(valueAt(7), describePoints(up)).toBe(1);
    expect(valueAt(11.5) ?? valueAt(12), describePoints(up)).toBe(1);
    expect(valueAt(15), describePoints(up)).toBe(2);
    expect(loaded('server-replicas-scraped').points.every(([, v]) => v === 2)).toBe(true);
  });

  it('leaves a gap where the server was not scraped, and does not count its whole counter again when it comes back', () => {
    const rate = loaded('server-request-rate');
    const gapSteps = [12, 13].map(at).filter((t) => !rate.points.some(([pt]) => pt === t));
    expect(gapSteps.length, `no points while replica A was not scraped: ${describePoints(rate)}`).toBe(2);
    const after = rate.points.filter(([t]) => t > at(outageA[1]));
    expect(after.length, describePoints(rate)).toBeGreaterThan(0);
    // Treating the returning series as new would add its whole value (~1,400 requests) to one window: hundreds of req/s.
    for (const [, v] of after) expect(v, describePoints(rate)).toBeLessThan(130);
  });
});

describe('collectTimeSeries when Prometheus cannot answer', () => {
  it('records every series with the error, quickly, rather than leaving any out', async () => {
    const port = await freePort();
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, attempts: 2, backoffMs: 20 });
    const started = Date.now();
    const result = await collectTimeSeries({ client, start: at(0), end: at(10) });
    expect(Date.now() - started, 'an unreachable Prometheus is not retried per series').toBeLessThan(2_000);
    expect(result.series.map((s) => s.name)).toEqual(TIME_SERIES_NAMES);
    for (const s of result.series) {
      expect(isLoaded(s)).toBe(false);
      expect('error' in s ? s.error : '').toMatch(/^Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer after 2 tries: .*ECONNREFUSED/);
      expect(s.query.length).toBeGreaterThan(0);
    }
  });

  it('rejects with the abort reason when aborted', async () => {
    const reason = new Error('stop');
    await expect(collectTimeSeries({ client: new PrometheusClient({ url: prometheus!.url }), start: at(0), end: at(10), signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('refuses an inverted range, and raises the step to keep long runs within maxPoints', async () => {
    const client = new PrometheusClient({ url: prometheus!.url });
    await expect(collectTimeSeries({ client, start: at(10), end: at(0) })).rejects.toBeInstanceOf(RangeError);
    const long = await collectTimeSeries({ client, start: at(0) - 3_600_000, end: at(0), maxPoints: 100 });
    expect(long.stepSeconds).toBe(37);
    expect(long.windowSeconds).toBe(37);
    expect(long.series.every(isLoaded)).toBe(true);
  });
});
