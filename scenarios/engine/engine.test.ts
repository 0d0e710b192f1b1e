import { afterEach, describe, expect, it } from 'vitest';
import { freePort, isPortOpen } from '../../cluster/targets/local/ports.ts';
import { defineScenario } from '../types.ts';
import type { RequestSpec, ScenarioDefinition } from '../types.ts';
import { createEmbeddedEngine } from './engine.ts';
import type { EmbeddedEngine, EmbeddedEngineOptions } from './engine.ts';
import type { LoadSummary } from './results.ts';
import { parseExposition, promtoolCheckMetrics, respondAfter, scrape, startTestServer, sumSamples } from './test-support.ts';
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

async function engineFor(scenario: EmbeddedEngineOptions['scenario'], baseUrl: string): Promise<EmbeddedEngine> {
  const engine = await createEmbeddedEngine({ scenario, baseUrl });
  engines.push(engine);
  return engine;
}

type ArrivalRateDefinition = Extract<ScenarioDefinition, { executor: 'constant-arrival-rate' }>;

function scenario(overrides: Partial<ArrivalRateDefinition> & { rate: number; duration: string }, request: Partial<RequestSpec> = {}): ScenarioDefinition {
  return defineScenario({
    name: 'engine-test',
    executor: 'constant-arrival-rate',
    preAllocatedVUs: 10,
    maxVUs: 100,
    requests: [{ name: 'GET /', weight: 1, method: 'GET', path: '/', ...request }],
    ...overrides,
  });
}

function expectAccountedFor(summary: LoadSummary): void {
  expect(
    summary.requests + summary.droppedIterations + summary.interruptedIterations,
    `requests ${summary.requests} + dropped ${summary.droppedIterations} + interrupted ${summary.interruptedIterations} should equal scheduled ${summary.scheduled}`,
  ).toBe(summary.scheduled);
  const byKind = Object.values(summary.errorsByKind).reduce((a, b) => a + b, 0);
  expect(byKind, 'errorsByKind should add up to errors').toBe(summary.errors);
  const byStatus = Object.values(summary.statusCounts).reduce((a, b) => a + b, 0);
  expect(byStatus, 'statusCounts should add up to requests').toBe(summary.requests);
}

describe('embedded engine: open-model arrival rate', () => {
  it('sends 200/s for 3 s: 600 scheduled, evenly paced, none dropped', async () => {
    const arrivals: number[] = [];
    const target = await server((_req, res) => {
      arrivals.push(performance.now());
      res.end('ok');
    });
    const engine = await engineFor(scenario({ rate: 200, duration: '3s' }), target.url);

    const running = engine.run();
    const liveSamples: number[] = [];
    for (let i = 0; i < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      liveSamples.push(engine.live().ratePerSec);
    }
    const summary = await running;

    expect(summary.scheduled, 'a 3 s run at 200/s schedules exactly 600 iterations').toBe(600);
    expect(Math.abs(summary.requests - 600), `requests ${summary.requests} should be within 2 % of 600`).toBeLessThanOrEqual(12);
    expect(summary.droppedIterations, 'a fast local server should cause no drops').toBe(0);
    expect(summary.errors).toBe(0);
    expect(summary.statusCounts).toEqual({ '200': summary.requests });
    expect(target.count(), 'the server should see each request exactly once').toBe(summary.requests);
    expect(Math.abs(summary.achievedRatePerSec - 200), `achieved ${summary.achievedRatePerSec}/s should be within 2 % of 200/s`).toBeLessThanOrEqual(4);
    expectAccountedFor(summary);

    // Pacing: the first 600 arrivals span ~3 s, and every half second gets ~100 of them.
    const first = arrivals[0] ?? 0;
    const span = (arrivals[arrivals.length - 1] ?? 0) - first;
    expect(span, `arrivals should span ~2995 ms, spanned ${span.toFixed(0)} ms`).toBeGreaterThan(2_900);
    expect(span).toBeLessThan(3_150);
    for (let window = 0; window < 6; window++) {
      const inWindow = arrivals.filter((t) => t - first >= window * 500 && t - first < (window + 1) * 500).length;
      expect(Math.abs(inWindow - 100), `half-second window #${window} got ${inWindow} arrivals, expected ~100`).toBeLessThanOrEqual(10);
    }
    for (const rate of liveSamples) expect(Math.abs(rate - 200), `live rate ${rate.toFixed(1)}/s should be ~200/s`).toBeLessThanOrEqual(30);
    expect(engine.live().totalMs).toBe(3_000);
  });

  it('charges a server stall to the requests scheduled during it (no coordinated omission), dropping none', async () => {
    let firstArrival: number | undefined;
    const target = await server((_req, res) => {
      const now = performance.now();
      firstArrival ??= now;
      const sinceStart = now - firstArrival;
      // From 1.5 s to 2.5 s into the run, every request takes 1 s.
      respondAfter(res, sinceStart >= 1_500 && sinceStart < 2_500 ? 1_000 : 0);
    });
    const engine = await engineFor(scenario({ rate: 100, duration: '4s', preAllocatedVUs: 20, maxVUs: 300 }), target.url);

    const summary = await engine.run();

    expect(summary.scheduled).toBe(400);
    expect(summary.droppedIterations, 'maxVUs 300 leaves room for the ~100 stalled requests').toBe(0);
    expect(summary.requests).toBe(400);
    expect(summary.latencyMs.p99, `p99 ${summary.latencyMs.p99} ms should show the 1 s stall`).toBeGreaterThanOrEqual(900);
    expect(summary.latencyMs.p50, 'requests outside the stall stay fast').toBeLessThan(100);
    expectAccountedFor(summary);
  });

  it('measures latency from the scheduled start, so a stalled generator shows in the percentiles', async () => {
    let blocked = false;
    let firstArrival: number | undefined;
    const target = await server((_req, res) => {
      const now = performance.now();
      firstArrival ??= now;
      if (!blocked && now - firstArrival >= 1_000) {
        blocked = true;
        // Busy-wait in this same process: the engine's loop is stuck for 400 ms, so the ~40
        // iterations due meanwhile are sent late. Measured from the send they would look fast.
        const until = performance.now() + 400;
        while (performance.now() < until);
      }
      res.end('ok');
    });
    const engine = await engineFor(scenario({ rate: 100, duration: '2s', preAllocatedVUs: 20, maxVUs: 200 }), target.url);

    const summary = await engine.run();

    expect(summary.droppedIterations, '400 ms behind schedule is under the 1 s lateness bound').toBe(0);
    expect(summary.latencyMs.p95, `p95 ${summary.latencyMs.p95} ms should include the time iterations waited behind the stall`).toBeGreaterThanOrEqual(250);
    expect(summary.selfHealth.maxEventLoopLagMs, 'the self-health monitor should see the stalled loop').toBeGreaterThanOrEqual(300);
    expectAccountedFor(summary);
  });

  it('drops iterations when all maxVUs are busy and reports the generator as overloaded', async () => {
    const target = await server((_req, res) => respondAfter(res, 500));
    const engine = await engineFor(scenario({ rate: 100, duration: '1s', preAllocatedVUs: 5, maxVUs: 10, gracefulStop: '5s' }), target.url);

    const summary = await engine.run();

    expect(summary.scheduled).toBe(100);
    expect(summary.droppedIterations, 'at most 10 in flight with 500 ms responses: most of 100 iterations drop').toBeGreaterThan(60);
    expect(summary.requests).toBeLessThanOrEqual(40);
    expect(summary.selfHealth.overloaded).toBe(true);
    expect(summary.selfHealth.reason).toMatch(/dropped \d+ of 100 scheduled iterations.*all 10 VUs \(maxVUs\) busy/);
    expectAccountedFor(summary);

    const samples = parseExposition(await scrape(engine.metricsUrl));
    expect(sumSamples(samples, 'k6_dropped_iterations_total', { scenario: 'engine-test' })).toBe(summary.droppedIterations);
    expect(sumSamples(samples, 'k6_vus_max')).toBe(10);
    expect(sumSamples(samples, 'k6_vus'), 'nothing in flight after the run').toBe(0);
  });
});

describe('embedded engine: errors by kind', () => {
  const TEN_ITERATIONS = { rate: 20, duration: '500ms' };

  async function runAndScrape(baseUrl: string, request: Partial<RequestSpec> = {}): Promise<{ summary: LoadSummary; samples: ReturnType<typeof parseExposition> }> {
    const engine = await engineFor(scenario(TEN_ITERATIONS, request), baseUrl);
    const summary = await engine.run();
    expectAccountedFor(summary);
    expect(summary.requests, 'all 10 iterations end as counted requests').toBe(10);
    return { summary, samples: parseExposition(await scrape(engine.metricsUrl)) };
  }

  it('counts connection refused once per request, status 0, error_code 1212', async () => {
    const closedPort = await freePort();
    const { summary, samples } = await runAndScrape(`http://127.0.0.1:${closedPort}`);

    expect(summary.errorsByKind).toEqual({ refused: 10, reset: 0, timeout: 0, http: 0, other: 0 });
    expect(summary.errors).toBe(10);
    expect(summary.statusCounts).toEqual({ '0': 10 });
    expect(sumSamples(samples, 'k6_http_reqs_total', { status: '0', error_code: '1212', expected_response: 'false', name: 'GET /' })).toBe(10);
    expect(sumSamples(samples, 'k6_http_reqs_total'), 'no request counted under any other labels').toBe(10);
  });

  it('counts a connection reset by the server once per request, status 0, error_code 1220', async () => {
    const target = await server((req) => req.socket.destroy());
    const { summary, samples } = await runAndScrape(target.url);

    expect(summary.errorsByKind).toEqual({ refused: 0, reset: 10, timeout: 0, http: 0, other: 0 });
    expect(target.count(), 'a reset request must not be retried').toBe(10);
    expect(sumSamples(samples, 'k6_http_reqs_total', { status: '0', error_code: '1220', expected_response: 'false' })).toBe(10);
    expect(sumSamples(samples, 'k6_http_reqs_total')).toBe(10);
  });

  it('times a request out after timeoutMs, status 0, error_code 1050', async () => {
    const target = await server((_req, res) => respondAfter(res, 3_000));
    const { summary, samples } = await runAndScrape(target.url, { timeoutMs: 200 });

    expect(summary.errorsByKind).toEqual({ refused: 0, reset: 0, timeout: 10, http: 0, other: 0 });
    expect(summary.errorSamples.timeout).toMatch(/timeout after 200 ms/);
    expect(summary.latencyMs.p50, 'a timed-out request ends at its 200 ms deadline').toBeGreaterThanOrEqual(200);
    expect(summary.latencyMs.max, 'well before the server would have answered').toBeLessThan(1_000);
    expect(target.count()).toBe(10);
    expect(sumSamples(samples, 'k6_http_reqs_total', { status: '0', error_code: '1050', expected_response: 'false' })).toBe(10);
    expect(sumSamples(samples, 'k6_http_reqs_total')).toBe(10);
  });

  it('counts an unexpected HTTP status as kind http with error_code 1000 + status', async () => {
    const target = await server((_req, res) => res.writeHead(500).end('boom'));
    const { summary, samples } = await runAndScrape(target.url);

    expect(summary.errorsByKind).toEqual({ refused: 0, reset: 0, timeout: 0, http: 10, other: 0 });
    expect(summary.statusCounts).toEqual({ '500': 10 });
    expect(sumSamples(samples, 'k6_http_reqs_total', { status: '500', error_code: '1500', expected_response: 'false' })).toBe(10);
    expect(sumSamples(samples, 'k6_http_req_duration_seconds_count', { status: '500', expected_response: 'false' })).toBe(10);
    expect(sumSamples(samples, 'k6_http_reqs_total')).toBe(10);
  });

  it('treats a status listed in expectedStatuses as success, still tagging k6’s error_code', async () => {
    const target = await server((_req, res) => res.writeHead(404).end());
    const { summary, samples } = await runAndScrape(target.url, { expectedStatuses: [200, 404] });

    expect(summary.errors).toBe(0);
    expect(sumSamples(samples, 'k6_http_reqs_total', { status: '404', error_code: '1404', expected_response: 'true' })).toBe(10);
  });

  it('counts a throwing path function as kind other, with its message', async () => {
    const target = await server((_req, res) => res.end());
    const { summary } = await runAndScrape(target.url, {
      path: () => {
        throw new Error('no ids');
      },
    });

    expect(summary.errorsByKind.other).toBe(10);
    expect(summary.errorSamples.other).toMatch(/GET \/: building the request failed: no ids/);
    expect(target.count()).toBe(0);
  });
});

describe('embedded engine: stopping', () => {
  it('on abort, stops scheduling, interrupts what outlives the graceful stop, and accounts for every iteration', async () => {
    const target = await server((_req, res) => respondAfter(res, 300));
    const engine = await engineFor(scenario({ rate: 100, duration: '10s', preAllocatedVUs: 50, maxVUs: 100, gracefulStop: '100ms' }), target.url);
    const controller = new AbortController();

    const running = engine.run(controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const abortedAt = performance.now();
    controller.abort(new Error('test abort'));
    const summary = await running;
    const stoppedAfterMs = performance.now() - abortedAt;

    expect(stoppedAfterMs, 'the run resolves after the 100 ms graceful stop, not the 10 s duration').toBeLessThan(600);
    expect(summary.scheduled, 'only iterations due before the abort are scheduled').toBeGreaterThan(80);
    expect(summary.scheduled).toBeLessThan(130);
    expect(summary.interruptedIterations, '300 ms requests cannot all finish in a 100 ms graceful stop').toBeGreaterThan(0);
    expect(summary.requests, 'requests older than 300 ms finished').toBeGreaterThan(50);
    expect(summary.durationMs).toBeLessThan(1_300);
    expectAccountedFor(summary);

    const samples = parseExposition(await scrape(engine.metricsUrl));
    expect(sumSamples(samples, 'k6_http_reqs_total'), 'interrupted iterations are not counted as requests').toBe(summary.requests);
    expect(sumSamples(samples, 'k6_iterations_total')).toBe(summary.requests);
  });

  it('waits for in-flight iterations within the graceful stop at the end of the duration', async () => {
    const target = await server((_req, res) => respondAfter(res, 300));
    const engine = await engineFor(scenario({ rate: 50, duration: '1s', gracefulStop: '2s', preAllocatedVUs: 30 }), target.url);

    const summary = await engine.run();

    expect(summary.interruptedIterations).toBe(0);
    expect(summary.requests).toBe(50);
    expect(summary.latencyMs.p50).toBeGreaterThanOrEqual(300);
    expectAccountedFor(summary);
  });

  it('close() during a run interrupts it, stops /metrics, and is idempotent', async () => {
    const target = await server((_req, res) => respondAfter(res, 2_000));
    const engine = await engineFor(scenario({ rate: 50, duration: '10s' }), target.url);
    const running = engine.run();
    await new Promise((resolve) => setTimeout(resolve, 300));

    await Promise.all([engine.close(), engine.close()]);
    const summary = await running;

    expect(summary.interruptedIterations).toBeGreaterThan(0);
    expectAccountedFor(summary);
    expect(await isPortOpen(engine.metricsPort), '/metrics should stop listening on close').toBe(false);
    await engine.close();
  });
});

describe('embedded engine: /metrics', () => {
  it('serves k6-named metrics that Prometheus’s own parser accepts, with an exact 0.5 s bucket', async () => {
    let n = 0;
    const target = await server((_req, res) => {
      n += 1;
      res.writeHead(n % 5 === 0 ? 503 : 200).end();
    });
    const engine = await engineFor(
      scenario({ rate: 40, duration: '500ms', name: 'metrics "quoted"\\name', tags: { suite: 'unit' } }, { name: 'GET /things/:id' }),
      target.url,
    );
    const before = parseExposition(await scrape(engine.metricsUrl));
    expect(sumSamples(before, 'k6_iterations_total'), 'counters exist at 0 before the first request').toBe(0);

    const summary = await engine.run();
    const text = await scrape(engine.metricsUrl);

    const promtool = await promtoolCheckMetrics(text);
    expect(promtool.exitCode, `promtool check metrics should accept the exposition:\n${promtool.output}`).toBe(0);
    for (const name of [
      '# TYPE k6_http_reqs_total counter',
      '# TYPE k6_http_req_duration_seconds histogram',
      '# TYPE k6_iterations_total counter',
      '# TYPE k6_dropped_iterations_total counter',
      '# TYPE k6_vus gauge',
      '# TYPE k6_vus_max gauge',
      '# TYPE resilience_engine_event_loop_lag_seconds gauge',
      '# TYPE resilience_engine_cpu_utilization gauge',
    ]) {
      expect(text).toContain(name);
    }
    const samples = parseExposition(text);
    const labels = { scenario: 'metrics "quoted"\\name', name: 'GET /things/:id', method: 'GET', suite: 'unit' };
    expect(sumSamples(samples, 'k6_http_reqs_total', labels)).toBe(summary.requests);
    expect(sumSamples(samples, 'k6_http_reqs_total', { ...labels, status: '503', expected_response: 'false', error_code: '1503' })).toBe(summary.statusCounts['503']);
    const buckets = samples.filter((s) => s.name === 'k6_http_req_duration_seconds_bucket' && s.labels.status === '200');
    expect(buckets.map((s) => s.labels.le)).toContain('0.5');
    const values = buckets.map((s) => s.value);
    expect(values, 'buckets are cumulative').toEqual([...values].sort((a, b) => a - b));
    expect(buckets.find((s) => s.labels.le === '+Inf')?.value).toBe(summary.statusCounts['200']);
    expect(buckets.find((s) => s.labels.le === '0.5')?.value, 'fast local responses are all under 0.5 s').toBe(summary.statusCounts['200']);
    expect(sumSamples(samples, 'k6_http_req_duration_seconds_count')).toBe(summary.requests);
    expect(sumSamples(samples, 'k6_iterations_total', { scenario: labels.scenario })).toBe(summary.requests);
  });

  it('answers 404 off /metrics', async () => {
    const target = await server((_req, res) => res.end());
    const engine = await engineFor(scenario({ rate: 1, duration: '1s' }), target.url);
    const response = await fetch(engine.metricsUrl.replace('/metrics', '/other'));
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });
});

describe('embedded engine: setup', () => {
  it('passes what setup returned to path and body functions, and sends the JSON body', async () => {
    const bodies: string[] = [];
    const target = await server((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.url === '/seed') {
          res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'seed-7' }));
          return;
        }
        bodies.push(`${req.headers['content-type'] ?? ''} ${req.url ?? ''} ${body}`);
        res.end();
      });
    });
    const definition = defineScenario<{ id: string }>({
      name: 'setup-test',
      executor: 'constant-arrival-rate',
      rate: 10,
      duration: '300ms',
      preAllocatedVUs: 2,
      async setup({ http }) {
        const response = await http.post('/seed', { hello: 'world' }, { expectedStatuses: [201] });
        return { id: (response.body as { id: string }).id };
      },
      requests: [{ name: 'PUT /things/:id', weight: 1, method: 'PUT', path: (it) => `/things/${it.data.id}`, body: (it) => ({ iteration: it.iteration }) }],
    });
    const engine = await engineFor(definition, target.url);

    const summary = await engine.run();

    expect(summary.errors).toBe(0);
    expect(bodies).toEqual(['application/json /things/seed-7 {"iteration":0}', 'application/json /things/seed-7 {"iteration":1}', 'application/json /things/seed-7 {"iteration":2}']);
  });

  it('rejects run() with the setup’s error when setup fails, sending no load', async () => {
    const target = await server((_req, res) => res.writeHead(503).end('down'));
    const definition = defineScenario({
      name: 'failing-setup',
      executor: 'constant-arrival-rate',
      rate: 10,
      duration: '1s',
      preAllocatedVUs: 1,
      async setup({ http }) {
        await http.get('/seed');
      },
      requests: [{ name: 'GET /', weight: 1, method: 'GET', path: '/' }],
    });
    const engine = await engineFor(definition, target.url);

    await expect(engine.run()).rejects.toThrow(/setup of scenario "failing-setup" failed: setup GET \/seed answered 503: down/);
    expect(target.count(), 'only the setup request reached the server').toBe(1);
  });
});
