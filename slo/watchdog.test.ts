import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WATCHDOG_PHASE, startWatchdog, type Watchdog } from './watchdog.ts';
import { PrometheusClient } from './prometheus-client.ts';
import { TestCounter, startMetricsTarget, type MetricsTarget } from './testing/metrics-target.ts';
import { renderPrometheusConfig, startPrometheus, waitForTargetsUp, type RunningPrometheus } from '../cluster/targets/local/prometheus.ts';
import { freePort } from '../cluster/targets/local/ports.ts';
import { sleep, waitUntil } from '../scripts/util/wait.ts';
import type { RatioSlo, SloPhaseResult } from './types.ts';

// A real Prometheus (1 s scrapes) scraping, as job `k6`, counters this test drives at 100 req/s:
//   watched  no errors for 8 s after `since`, then 50 % errors
//   bad      50 % errors from the start (its SLO is severity `error`: not watched)
// Several watchdogs run at the same time over the same data:
//   main        critical `watched` + error-severity `bad`: breaches only once `watched` fails
//   throwing    the same, with an onBreach that throws: the error is kept, nothing escapes
//   no-data     critical SLOs that are inconclusive (absent series; a side whose job is not scraped)
//   unreachable critical SLO against a closed port

const FAIL_AFTER_MS = 8_000;

const watchedCounter = new TestCounter('watched_total').init({ outcome: 'ok' }).init({ outcome: 'error' });
const badCounter = new TestCounter('bad_total').init({ outcome: 'ok' }).init({ outcome: 'error' });

const ratio = (name: string, metric: string, extra: Partial<RatioSlo> = {}): RatioSlo => ({
  name,
  description: 'test',
  kind: 'ratio',
  side: 'client',
  severity: 'critical',
  phases: ['experiment'],
  minSamples: 20,
  good: `${metric}{outcome="ok"}`,
  total: metric,
  objective: 0.99,
  ...extra,
});
const criticalWatched = ratio('critical-watched', 'watched_total');
const errorBad = ratio('error-severity-bad', 'bad_total', { severity: 'error' });
const criticalMissing = ratio('critical-missing', 'missing_total');
const criticalUnscraped = ratio('critical-unscraped-side', 'watched_total', { side: 'server' });

let dir: string | undefined;
let target: MetricsTarget | undefined;
let prometheus: RunningPrometheus | undefined;
let traffic: NodeJS.Timeout | undefined;
let since: number;
let failAt: number;
const watchdogs: Watchdog[] = [];
const breaches: { at: number; result: SloPhaseResult }[] = [];
const thrownBreaches: SloPhaseResult[] = [];
const noDataBreaches: SloPhaseResult[] = [];
const inconclusiveSeen: SloPhaseResult[] = [];
let main: Watchdog;
let throwing: Watchdog;
let noData: Watchdog;
let unreachable: Watchdog;

function tick(now: number): void {
  const errors = now >= failAt ? 5 : 0;
  watchedCounter.inc({ outcome: 'ok' }, 10 - errors);
  watchedCounter.inc({ outcome: 'error' }, errors);
  badCounter.inc({ outcome: 'ok' }, 5);
  badCounter.inc({ outcome: 'error' }, 5);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'slo-watchdog-test-'));
  target = await startMetricsTarget({ '/metrics': [watchedCounter, badCounter] });
  prometheus = await startPrometheus({ dir, config: renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [{ job: 'k6', targets: [target.hostPort] }], ruleFiles: [] }) });
  await waitForTargetsUp(prometheus.url, { jobs: ['k6'], timeoutMs: 20_000 });
  since = Date.now();
  failAt = since + FAIL_AFTER_MS;
  traffic = setInterval(() => tick(Date.now()), 100);
  const client = new PrometheusClient({ url: prometheus.url });
  main = startWatchdog({ client, slos: [criticalWatched, errorBad], since, onBreach: (result) => void breaches.push({ at: Date.now(), result }) });
  throwing = startWatchdog({
    client,
    slos: [criticalWatched],
    since,
    everyMs: 1_000,
    onBreach: (result) => {
      thrownBreaches.push(result);
      throw new Error('the abort hook failed');
    },
  });
  noData = startWatchdog({
    client,
    slos: [criticalMissing, criticalUnscraped],
    since,
    everyMs: 1_000,
    onBreach: (result) => void noDataBreaches.push(result),
    onInconclusive: (results) => inconclusiveSeen.push(...results),
  });
  const port = await freePort();
  unreachable = startWatchdog({
    client: new PrometheusClient({ url: `http://127.0.0.1:${port}`, attempts: 2, backoffMs: 20 }),
    slos: [criticalWatched],
    since,
    everyMs: 1_000,
    onBreach: (result) => void noDataBreaches.push(result),
  });
  watchdogs.push(main, throwing, noData, unreachable);
  await waitUntil(() => breaches.length > 0, { what: 'a breach', timeoutMs: FAIL_AFTER_MS + 12_000, intervalMs: 50 });
  // Let a few more checks happen: onBreach must not be called again.
  await sleep(3_000);
}, 50_000);

afterAll(async () => {
  clearInterval(traffic);
  await Promise.all(watchdogs.map((w) => w.stop()));
  await prometheus?.stop();
  await target?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('startWatchdog against a real Prometheus', () => {
  it('calls onBreach once, within a few seconds of a critical SLO starting to fail', () => {
    expect(breaches).toHaveLength(1);
    const [{ at, result }] = breaches as [{ at: number; result: SloPhaseResult }];
    expect(at, 'no breach before the failures began').toBeGreaterThan(failAt);
    // One scrape, the check's window ending one scrape ago, a 2 s check interval, the queries.
    expect(at - failAt, 'detected within a few seconds').toBeLessThan(5_000);
    expect(result).toMatchObject({ slo: 'critical-watched', verdict: 'fail', phase: WATCHDOG_PHASE, phaseKind: 'overall', severity: 'critical' });
    expect(result.reason).toMatch(/below the objective of 99%/);
    expect(result.evaluatedAt).toBeGreaterThan(failAt);
    expect(main.status().breach).toEqual(result);
  });

  it('watches only critical SLOs: a failing error-severity SLO never triggers it', () => {
    // `bad` fails from the first check on; the breach came only when `watched` failed.
    expect(breaches.map((b) => b.result.slo)).toEqual(['critical-watched']);
  });

  it('stops checking after a breach', async () => {
    const checks = main.status().checks;
    await sleep(2_500);
    expect(main.status().checks).toBe(checks);
  });

  it('never breaches on inconclusive results, but collects them', () => {
    expect(noDataBreaches).toEqual([]);
    const status = noData.status();
    expect(status.breach).toBeUndefined();
    expect(status.checks).toBeGreaterThanOrEqual(5);
    const reasons = Object.fromEntries(status.inconclusive.map((r) => [r.slo, r.reason]));
    expect(reasons['critical-missing']).toMatch(/^No data/);
    expect(reasons['critical-unscraped-side']).toMatch(/no scrapes of job hastecrm-api/);
    expect(inconclusiveSeen.length).toBeGreaterThanOrEqual(10);
    expect(status.errors).toEqual([]);
  });

  it('treats an unreachable Prometheus as inconclusive, not as a breach', () => {
    const status = unreachable.status();
    expect(status.breach).toBeUndefined();
    expect(status.checks).toBeGreaterThanOrEqual(3);
    expect(status.inconclusive.map((r) => r.reason)).toEqual([expect.stringMatching(/did not answer after 2 tries: .*ECONNREFUSED/)]);
  });

  it('keeps an error thrown by onBreach instead of letting it escape', () => {
    expect(thrownBreaches).toHaveLength(1);
    const status = throwing.status();
    expect(status.breach?.slo).toBe('critical-watched');
    expect(status.errors).toHaveLength(1);
    expect((status.errors[0] as Error).message).toBe('the abort hook failed');
  });
});

describe('startWatchdog lifecycle', () => {
  it('never runs two checks at once, and stop() aborts the check in flight and waits for it', async () => {
    // A Prometheus stand-in that never answers: every check hangs until the client's timeout.
    const requests: number[] = [];
    let open = 0;
    let maxOpen = 0;
    const server = http.createServer((req) => {
      requests.push(Date.now());
      open++;
      maxOpen = Math.max(maxOpen, open);
      req.on('close', () => open--);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 1_500, attempts: 1 });
      const watchdog = startWatchdog({ client, slos: [criticalWatched], since: Date.now() - 60_000, everyMs: 200, onBreach: () => undefined });
      // The first check hangs for 1.5 s (timeout), then is inconclusive; the second starts after it.
      await waitUntil(() => watchdog.status().checks >= 1 && open > 0, { what: 'a second check in flight', timeoutMs: 5_000, intervalMs: 20 });
      expect(maxOpen, 'one check (one query) at a time').toBe(1);
      const stopping = Date.now();
      await watchdog.stop();
      expect(Date.now() - stopping, 'stop() aborts the hanging query').toBeLessThan(500);
      const seen = requests.length;
      await sleep(600);
      expect(requests.length, 'no check after stop()').toBe(seen);
      expect(watchdog.status().errors).toEqual([]);
      await watchdog.stop(); // idempotent
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('keeps errors thrown by onInconclusive and onError, and carries on checking', async () => {
    const port = await freePort();
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, attempts: 1 });
    const watchdog = startWatchdog({
      client,
      slos: [criticalWatched],
      since: Date.now() - 60_000,
      everyMs: 50,
      onBreach: () => undefined,
      onInconclusive: () => {
        throw new Error('the log hook failed');
      },
      onError: () => {
        throw new Error('the error hook failed too');
      },
    });
    try {
      await waitUntil(() => watchdog.status().checks >= 3, { what: 'three checks', timeoutMs: 5_000, intervalMs: 20 });
      const { errors, breach } = watchdog.status();
      expect(breach).toBeUndefined();
      expect(errors.length).toBeGreaterThanOrEqual(2);
      expect(errors.map((e) => (e as Error).message)).toContain('the log hook failed');
    } finally {
      await watchdog.stop();
    }
  });

  it('does nothing without critical SLOs, and rejects invalid intervals', async () => {
    const client = new PrometheusClient({ url: 'http://127.0.0.1:9' });
    const idle = startWatchdog({ client, slos: [errorBad], since: Date.now() - 60_000, everyMs: 50, onBreach: () => undefined });
    await sleep(200);
    expect(idle.status().checks).toBe(0);
    await idle.stop();
    expect(() => startWatchdog({ client, slos: [], since: 0, everyMs: 0, onBreach: () => undefined })).toThrow(/everyMs/);
    expect(() => startWatchdog({ client, slos: [], since: 0, minWindowSeconds: 1, onBreach: () => undefined })).toThrow(/minWindowSeconds/);
  });
});
