import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusClient, PrometheusQueryError, PrometheusUnreachableError, parsePrometheusValue } from './prometheus-client.ts';
import { freePort } from '../cluster/targets/local/ports.ts';
import { renderPrometheusConfig, startPrometheus, type RunningPrometheus } from '../cluster/targets/local/prometheus.ts';

// A scripted stand-in for Prometheus's HTTP API on 127.0.0.1: each request takes the next reply.
// The client's retry, backoff, timeout and parsing are what is tested; a real Prometheus (without
// scrape targets: the range queries below compute their series from time()) checks that the range
// query speaks Prometheus's real API, and evaluate.test.ts exercises instant queries on real data.
interface Reply {
  status: number;
  body?: unknown;
  /** Never answer (the client must time out). */
  hang?: boolean;
}

interface Scripted {
  url: string;
  requests: { at: number; body: string }[];
  close(): Promise<void>;
}

const servers: Scripted[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function scripted(replies: Reply[]): Promise<Scripted> {
  const requests: { at: number; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests.push({ at: Date.now(), body });
      const reply = replies[Math.min(requests.length - 1, replies.length - 1)] ?? { status: 500 };
      if (reply.hang) return;
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const handle: Scripted = {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

const vector = (...values: string[]): Reply => ({
  status: 200,
  body: { status: 'success', data: { resultType: 'vector', result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1700000000, v] })) } },
});

describe('PrometheusClient.instantQuery', () => {
  it('sends the query and time, and returns vector samples with NaN and ±Inf kept', async () => {
    const server = await scripted([vector('0.5', 'NaN', '+Inf', '-Inf')]);
    const client = new PrometheusClient({ url: `${server.url}/` });
    const samples = await client.instantQuery('sum(up)', 1_700_000_000_123);
    expect(samples.map((s) => s.value)).toEqual([0.5, NaN, Infinity, -Infinity]);
    expect(samples[0]?.labels).toEqual({ i: '0' });
    const params = new URLSearchParams(server.requests[0]?.body);
    expect(params.get('query')).toBe('sum(up)');
    expect(params.get('time')).toBe('1700000000.123');
  });

  it('returns a scalar result as one unlabelled sample, and an empty vector as no samples', async () => {
    const server = await scripted([{ status: 200, body: { status: 'success', data: { resultType: 'scalar', result: [1, '42'] } } }, vector()]);
    const client = new PrometheusClient({ url: server.url });
    expect(await client.instantQuery('42', Date.now())).toEqual([{ labels: {}, value: 42 }]);
    expect(await client.instantQuery('absent_metric', Date.now())).toEqual([]);
  });

  it('retries 5xx with exponential backoff and succeeds on the third try', async () => {
    const server = await scripted([{ status: 503, body: { status: 'error', errorType: 'unavailable', error: 'busy' } }, { status: 500 }, vector('1')]);
    const client = new PrometheusClient({ url: server.url, backoffMs: 100 });
    const samples = await client.instantQuery('up', Date.now());
    expect(samples).toHaveLength(1);
    expect(server.requests).toHaveLength(3);
    const [first, second, third] = server.requests.map((r) => r.at);
    // First retry after ~100 ms, the second after ~200 ms (doubling). Timer slack only adds time.
    expect(second! - first!, 'first backoff should be about 100 ms').toBeGreaterThanOrEqual(95);
    expect(third! - second!, 'second backoff should double to about 200 ms').toBeGreaterThanOrEqual(195);
    expect(third! - second!, 'the backoff must grow').toBeGreaterThan(second! - first!);
  });

  it('gives up after the configured number of tries on persistent 5xx, keeping the status', async () => {
    const server = await scripted([{ status: 503, body: { status: 'error', errorType: 'timeout', error: 'query timed out' } }]);
    const client = new PrometheusClient({ url: server.url, attempts: 3, backoffMs: 10 });
    const error = await client.instantQuery('up', Date.now()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusUnreachableError);
    expect((error as PrometheusUnreachableError).status).toBe(503);
    expect((error as Error).message).toMatch(/3 tries.*query timed out/);
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry a rejected query and carries Prometheus error text', async () => {
    const server = await scripted([{ status: 400, body: { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:5: parse error: unexpected' } }]);
    const client = new PrometheusClient({ url: server.url, backoffMs: 10 });
    const error = await client.instantQuery('sum(', Date.now()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusQueryError);
    expect((error as PrometheusQueryError).errorType).toBe('bad_data');
    expect((error as PrometheusQueryError).query).toBe('sum(');
    expect((error as Error).message).toContain('parse error: unexpected');
    expect(server.requests, 'a bad query must not be retried').toHaveLength(1);
  });

  it('treats a range-vector result as a query error', async () => {
    const server = await scripted([{ status: 200, body: { status: 'success', data: { resultType: 'matrix', result: [] } } }]);
    const client = new PrometheusClient({ url: server.url });
    await expect(client.instantQuery('up[5m]', Date.now())).rejects.toThrow(PrometheusQueryError);
  });

  it('reports a closed port as unreachable after bounded, fast retries', async () => {
    const port = await freePort();
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, attempts: 3, backoffMs: 20 });
    const started = Date.now();
    const error = await client.instantQuery('up', Date.now()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusUnreachableError);
    expect((error as PrometheusUnreachableError).status).toBeUndefined();
    expect((error as PrometheusUnreachableError).attempts).toBe(3);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect(Date.now() - started, 'three refused connections with 20+40 ms backoff should take well under 2 s').toBeLessThan(2_000);
  });

  it('times out each try of a server that never answers', async () => {
    const server = await scripted([{ status: 200, hang: true }]);
    const client = new PrometheusClient({ url: server.url, timeoutMs: 200, attempts: 2, backoffMs: 10 });
    const started = Date.now();
    const error = await client.instantQuery('up', Date.now()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusUnreachableError);
    expect((error as Error).message).toMatch(/no answer within 200 ms/);
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('rejects at once with the abort reason when the signal aborts mid-request', async () => {
    const server = await scripted([{ status: 200, hang: true }]);
    const client = new PrometheusClient({ url: server.url, timeoutMs: 10_000 });
    const controller = new AbortController();
    const reason = new Error('interrupted by the test');
    setTimeout(() => controller.abort(reason), 100);
    const started = Date.now();
    await expect(client.instantQuery('up', Date.now(), { signal: controller.signal })).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry an answer that is not from the Prometheus API', async () => {
    const server = await scripted([{ status: 404, body: 'Not Found' }]);
    const client = new PrometheusClient({ url: server.url, backoffMs: 10 });
    const error = await client.instantQuery('up', Date.now()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusUnreachableError);
    expect((error as PrometheusUnreachableError).status).toBe(404);
    expect(server.requests).toHaveLength(1);
  });
});

const matrix = (...series: { metric: Record<string, string>; values: [number, string][] }[]): Reply => ({
  status: 200,
  body: { status: 'success', data: { resultType: 'matrix', result: series } },
});

describe('PrometheusClient.rangeQuery (scripted)', () => {
  it('sends start, end and step in seconds, and returns each series with its points in epoch ms', async () => {
    const server = await scripted([
      matrix(
        { metric: { alertname: 'A' }, values: [[1700000000.5, '1'], [1700000001.5, 'NaN'], [1700000003.5, '+Inf']] },
        { metric: {}, values: [[1700000000.5, '0.25']] },
      ),
    ]);
    const client = new PrometheusClient({ url: server.url });
    const series = await client.rangeQuery('ALERTS', 1_700_000_000_500, 1_700_000_003_500, 1_000);
    expect(series).toEqual([
      { labels: { alertname: 'A' }, points: [[1_700_000_000_500, 1], [1_700_000_001_500, NaN], [1_700_000_003_500, Infinity]] },
      { labels: {}, points: [[1_700_000_000_500, 0.25]] },
    ]);
    const params = new URLSearchParams(server.requests[0]?.body);
    expect(params.get('query')).toBe('ALERTS');
    expect(params.get('start')).toBe('1700000000.500');
    expect(params.get('end')).toBe('1700000003.500');
    expect(params.get('step')).toBe('1');
  });

  it('retries 5xx like instantQuery and gives up with PrometheusUnreachableError keeping the status', async () => {
    const server = await scripted([{ status: 503 }]);
    const client = new PrometheusClient({ url: server.url, attempts: 2, backoffMs: 10 });
    const error = await client.rangeQuery('up', 0, 1_000, 1_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusUnreachableError);
    expect((error as PrometheusUnreachableError).status).toBe(503);
    expect(server.requests).toHaveLength(2);
  });

  it('treats a result that is not a matrix as a query error', async () => {
    const server = await scripted([vector('1')]);
    const client = new PrometheusClient({ url: server.url });
    const error = await client.rangeQuery('up', 0, 1_000, 1_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusQueryError);
    expect((error as Error).message).toMatch(/returned a vector result; a range query must return a matrix/);
  });

  it('rejects at once with the abort reason when the signal aborts mid-request', async () => {
    const server = await scripted([{ status: 200, hang: true }]);
    const client = new PrometheusClient({ url: server.url, timeoutMs: 10_000 });
    const controller = new AbortController();
    const reason = new Error('interrupted by the test');
    setTimeout(() => controller.abort(reason), 100);
    const started = Date.now();
    await expect(client.rangeQuery('up', 0, 1_000, 1_000, { signal: controller.signal })).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.requests).toHaveLength(1);
  });
});

describe('PrometheusClient.rangeQuery against a real Prometheus', () => {
  let prometheus: RunningPrometheus | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'prometheus-client-test-'));
    prometheus = await startPrometheus({ dir, config: renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [], ruleFiles: [] }) });
  }, 40_000);

  afterAll(async () => {
    await prometheus?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('returns one point per step, at the requested times, with the series labels', async () => {
    const client = new PrometheusClient({ url: prometheus!.url });
    const end = Math.floor(Date.now() / 1000) * 1000;
    const start = end - 10_000;
    const series = await client.rangeQuery('label_replace(vector(time()), "source", "clock", "", "")', start, end, 1_000);
    expect(series).toHaveLength(1);
    expect(series[0]?.labels).toEqual({ source: 'clock' });
    const points = series[0]?.points ?? [];
    expect(points).toHaveLength(11);
    for (const [t, value] of points) expect(value * 1000, 'time() evaluates to each step time').toBe(t);
    expect(points[0]?.[0]).toBe(start);
    expect(points.at(-1)?.[0]).toBe(end);
  });

  it('leaves the steps where a series has no value out, rather than filling them', async () => {
    const client = new PrometheusClient({ url: prometheus!.url });
    const end = Math.floor(Date.now() / 10_000) * 10_000;
    // Present only in the first half of every 10 s: over 20 steps, 10 have a value.
    const series = await client.rangeQuery('vector(1) and on() (vector(time()) % 10 < 5)', end - 19_000, end, 1_000);
    expect(series).toHaveLength(1);
    expect(series[0]?.points.map(([t]) => (t / 1000) % 10)).toEqual([1, 2, 3, 4, 0, 1, 2, 3, 4, 0]);
  });

  it('rejects a query Prometheus cannot parse with its own message, without retrying', async () => {
    const client = new PrometheusClient({ url: prometheus!.url });
    const error = await client.rangeQuery('sum(up', Date.now() - 5_000, Date.now(), 1_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusQueryError);
    expect((error as PrometheusQueryError).errorType).toBe('bad_data');
  });

  it('passes on Prometheus refusing more than 11,000 points per series as a query error', async () => {
    const client = new PrometheusClient({ url: prometheus!.url });
    const error = await client.rangeQuery('vector(1)', Date.now() - 20_000_000, Date.now(), 1_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusQueryError);
    expect((error as Error).message).toMatch(/11,?000 points/);
  });

  it('reports a closed port as PrometheusUnreachableError within a bounded time', async () => {
    const port = await freePort();
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, attempts: 3, backoffMs: 20 });
    const started = Date.now();
    const error = await client.rangeQuery('up', Date.now() - 5_000, Date.now(), 1_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusUnreachableError);
    expect((error as PrometheusUnreachableError).status).toBeUndefined();
    expect((error as Error).message).toMatch(/did not answer after 3 tries: .*ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('parsePrometheusValue', () => {
  it('parses the special values Prometheus writes', () => {
    expect(parsePrometheusValue('+Inf')).toBe(Infinity);
    expect(parsePrometheusValue('-Inf')).toBe(-Infinity);
    expect(parsePrometheusValue('NaN')).toBeNaN();
    expect(parsePrometheusValue('1e3')).toBe(1000);
    expect(parsePrometheusValue(undefined)).toBeNaN();
  });
});
