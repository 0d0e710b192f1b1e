import { afterEach, describe, expect, it } from 'vitest';
import type { RequestSpec, ScenarioDefinition } from '../types.ts';
import { createEmbeddedEngine } from './engine.ts';
import type { EmbeddedEngine } from './engine.ts';
import type { LoadSummary } from './results.ts';
import { parseExposition, respondAfter, scrape, startTestServer, sumSamples } from './test-support.ts';
import type { TestServer } from './test-support.ts';

const engines: EmbeddedEngine[] = [];
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.allSettled(engines.splice(0).map((engine) => engine.close()));
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});

async function server(handler: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const started = await startTestServer(handler);
  servers.push(started);
  return started;
}

async function run(scenario: ScenarioDefinition | ScenarioDefinition[], baseUrl: string): Promise<{ engine: EmbeddedEngine; summary: LoadSummary }> {
  const engine = await createEmbeddedEngine({ scenario, baseUrl });
  engines.push(engine);
  return { engine, summary: await engine.run() };
}

const get: RequestSpec = { name: 'GET /', weight: 1, method: 'GET', path: '/' };

function expectAccountedFor(summary: LoadSummary): void {
  expect(summary.requests + summary.droppedIterations + summary.interruptedIterations, 'scheduled = requests + dropped + interrupted').toBe(summary.scheduled);
}

describe('closed-model executors', () => {
  it('shared-iterations runs exactly N iterations over its VUs, each seen once by the server', async () => {
    const target = await server((_req, res) => res.end('ok'));
    const { summary } = await run({ name: 'shared', executor: 'shared-iterations', vus: 4, iterations: 57, requests: [get] }, target.url);
    expect(summary).toMatchObject({ scheduled: 57, requests: 57, errors: 0, interruptedIterations: 0, droppedIterations: 0 });
    expect(target.count()).toBe(57);
  });

  it('per-vu-iterations runs vus × iterations, filling vu and iterationInVU', async () => {
    const target = await server((_req, res) => res.end('ok'));
    const { summary } = await run(
      { name: 'per-vu', executor: 'per-vu-iterations', vus: 3, iterations: 4, requests: [{ ...get, path: (it) => `/?vu=${it.vu}&i=${it.iterationInVU}` }] },
      target.url,
    );
    expect(summary.requests).toBe(12);
    const expected = [1, 2, 3].flatMap((vu) => [0, 1, 2, 3].map((i) => `GET /?vu=${vu}&i=${i}`)).sort();
    expect([...target.received.keys()].sort(), 'each VU runs iterations 0..3 exactly once').toEqual(expected);
  });

  it('constant-vus keeps exactly vus iterations in flight against a slow server, then stops at the duration', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const target = await server((_req, res) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('close', () => (inFlight -= 1));
      respondAfter(res, 100);
    });
    const { summary } = await run({ name: 'cvus', executor: 'constant-vus', vus: 5, duration: '1s', requests: [get] }, target.url);
    expect(maxInFlight, 'never more than 5 in flight').toBe(5);
    // 5 VUs × ~1 s / 100 ms ≈ 50; generous lower bound for a loaded machine.
    expect(summary.requests).toBeGreaterThanOrEqual(20);
    expect(summary.requests).toBeLessThanOrEqual(55);
    expect(summary.interruptedIterations).toBe(0);
    expectAccountedFor(summary);
  });

  it('ramping-vus interrupts an iteration that outlives gracefulRampDown, counting it once', async () => {
    const target = await server((req, res) => respondAfter(res, req.url === '/slow' ? 10_000 : 20));
    const { summary } = await run(
      {
        name: 'ramp-vus',
        executor: 'ramping-vus',
        startVUs: 2,
        gracefulRampDown: '100ms',
        gracefulStop: '100ms',
        stages: [{ duration: '300ms', target: 2 }, { duration: '600ms', target: 1 }],
        // VU 2 always hangs; VU 1 answers fast.
        requests: [{ ...get, path: (it) => (it.vu === 2 ? '/slow' : '/fast') }],
      },
      target.url,
    );
    expect(summary.interruptedIterations, 'VU 2 ramped down mid-request: interrupted once').toBe(1);
    expect(target.received.get('GET /slow')).toBe(1);
    expect(summary.requests).toBe(target.received.get('GET /fast'));
    expectAccountedFor(summary);
  });
});

describe('ramping-arrival-rate', () => {
  it('achieves each stage’s rate from the integral of the ramp', async () => {
    const arrivals: number[] = [];
    const target = await server((_req, res) => {
      arrivals.push(performance.now());
      res.end('ok');
    });
    const { summary } = await run(
      { name: 'ramp', executor: 'ramping-arrival-rate', startRate: 50, preAllocatedVUs: 20, stages: [{ duration: '1s', target: 50 }, { duration: '1s', target: 250 }, { duration: '1s', target: 250 }], requests: [get] },
      target.url,
    );
    // Integral: 50 + (50 + 250) / 2 + 250 = 450.
    expect(summary.scheduled).toBe(450);
    expect(summary.requests).toBe(450);
    const first = arrivals[0] ?? 0;
    const inSecond = (s: number): number => arrivals.filter((t) => t - first >= s * 1000 && t - first < (s + 1) * 1000).length;
    expect(Math.abs(inSecond(0) - 50)).toBeLessThanOrEqual(10);
    expect(Math.abs(inSecond(1) - 150)).toBeLessThanOrEqual(25);
    expect(Math.abs(inSecond(2) - 250)).toBeLessThanOrEqual(25);
  });
});

describe('checks and several scenarios', () => {
  it('counts checks per name without counting a failed check as an error, and exposes k6_checks_total', async () => {
    const target = await server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":false}'));
    const { engine, summary } = await run(
      {
        name: 'checked',
        executor: 'shared-iterations',
        vus: 2,
        iterations: 10,
        requests: [{ ...get, checks: { 'status is 200': (r) => r.status === 200, 'ok is true': (r) => (r.json() as { ok: boolean }).ok, throws: () => { throw new Error('boom'); } } }],
      },
      target.url,
    );
    expect(summary.errors).toBe(0);
    expect(summary.checks).toEqual([
      { scenario: 'checked', request: 'GET /', check: 'status is 200', passes: 10, fails: 0 },
      { scenario: 'checked', request: 'GET /', check: 'ok is true', passes: 0, fails: 10 },
      { scenario: 'checked', request: 'GET /', check: 'throws', passes: 0, fails: 10 },
    ]);
    const samples = parseExposition(await scrape(engine.metricsUrl));
    expect(sumSamples(samples, 'k6_checks_total', { check: 'status is 200', result: 'pass' })).toBe(10);
    expect(sumSamples(samples, 'k6_checks_total', { check: 'ok is true', result: 'fail' })).toBe(10);
    expect(sumSamples(samples, 'k6_checks_rate', { check: 'status is 200' })).toBe(1);
  });

  it('runs several scenarios, each from its startTime, with its own scenario label and setup', async () => {
    const arrivals = new Map<string, number[]>();
    const target = await server((req, res) => {
      const key = req.url ?? '';
      arrivals.set(key, [...(arrivals.get(key) ?? []), performance.now()]);
      res.end('ok');
    });
    const startedAt = performance.now();
    const { engine, summary } = await run(
      [
        { name: 'first', executor: 'shared-iterations', vus: 1, iterations: 3, requests: [{ ...get, path: '/first' }] },
        {
          name: 'second',
          executor: 'per-vu-iterations',
          startTime: '500ms',
          vus: 2,
          iterations: 2,
          setup: () => Promise.resolve(undefined),
          requests: [{ ...get, name: 'GET /second', path: '/second' }],
        },
      ],
      target.url,
    );
    expect(summary.perScenario?.map((s) => [s.scenario, s.requests])).toEqual([['first', 3], ['second', 4]]);
    expect(summary).toMatchObject({ scenario: 'first+second', executor: 'multiple', requests: 7, scheduled: 7 });
    expect(Math.min(...(arrivals.get('/second') ?? [])) - startedAt, 'second starts after its 500 ms startTime').toBeGreaterThanOrEqual(490);
    const samples = parseExposition(await scrape(engine.metricsUrl));
    expect(sumSamples(samples, 'k6_http_reqs_total', { scenario: 'first' })).toBe(3);
    expect(sumSamples(samples, 'k6_http_reqs_total', { scenario: 'second' })).toBe(4);
  });

  it('rejects overrides with several scenarios, and duplicate names', async () => {
    const one: ScenarioDefinition = { name: 'a', executor: 'shared-iterations', requests: [get] };
    await expect(createEmbeddedEngine({ scenario: [one, { ...one, name: 'b' }], baseUrl: 'http://127.0.0.1:1', overrides: { rate: 5 } })).rejects.toThrow(/apply to a single scenario, got 2/);
    await expect(createEmbeddedEngine({ scenario: [one, one], baseUrl: 'http://127.0.0.1:1' })).rejects.toThrow(/"a" appears twice/);
  });
});
