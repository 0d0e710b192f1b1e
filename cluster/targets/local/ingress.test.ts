import http from 'node:http';
import { createHash } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { freePort } from './ports.ts';
import { waitUntil } from '../../../scripts/util/wait.ts';
import {
  createIngress,
  ingressConfigFromEnv,
  ingressEnv,
  IngressConfigError,
  INGRESS_DEFAULTS,
  ISTIO_DEFAULT_RETRY_ON,
  parseRetryOn,
  type Ingress,
  type IngressOptions,
  type UpstreamStatus,
} from './ingress.ts';

// Real HTTP servers on 127.0.0.1 play the replicas; the ingress runs in this process (the
// process entry and a real SIGKILLed replica process are tested in ingress-main.test.ts).

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

interface TestUpstream {
  name: string;
  port: number;
  address: string;
  hits: number;
  bodies: string[];
  close(): Promise<void>;
}

const servers: TestUpstream[] = [];
const ingresses: Ingress[] = [];
const client = new Agent({ connections: 64 });

afterEach(async () => {
  await Promise.allSettled(ingresses.splice(0).map((ingress) => ingress.close({ graceMs: 0 })));
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});
afterAll(async () => {
  await client.close();
});

const answer =
  (name: string): Behaviour =>
  (req, res, body) => {
    const text = JSON.stringify({ name, method: req.method, url: req.url, body, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(text);
  };
const status =
  (code: number): Behaviour =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'text/plain' });
    res.end(`status ${code} from upstream`);
  };
/** Reads the whole request, then drops the connection without a response. */
const resetAfterRequest: Behaviour = (req) => {
  req.socket.destroy();
};
const slow =
  (ms: number, name: string): Behaviour =>
  (req, res, body) => {
    const timer = setTimeout(() => answer(name)(req, res, body), ms);
    res.once('close', () => clearTimeout(timer));
  };

async function startUpstream(name: string, behaviour: Behaviour, port = 0): Promise<TestUpstream> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      upstream.hits += 1;
      upstream.bodies.push(body);
      behaviour(req, res, body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const upstream: TestUpstream = {
    name,
    port: address.port,
    address: `127.0.0.1:${address.port}`,
    hits: 0,
    bodies: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(upstream);
  return upstream;
}

/** An address where nothing listens (a free port that we do not bind). */
async function deadAddress(): Promise<{ port: number; address: string }> {
  const port = await freePort();
  return { port, address: `127.0.0.1:${port}` };
}

async function startIngress(options: IngressOptions): Promise<Ingress> {
  const ingress = await createIngress(options);
  ingresses.push(ingress);
  return ingress;
}

interface Reply {
  status: number;
  attempts: number;
  upstream: string | undefined;
  text: string;
  ms: number;
  headers: Record<string, string | string[] | undefined>;
}

async function send(ingress: Ingress, path = '/api/items', init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const started = performance.now();
  const response = await request(`${ingress.url}${path}`, {
    dispatcher: client,
    method: init.method ?? 'GET',
    body: init.body,
    headers: init.headers,
  });
  const text = await response.body.text();
  const upstream = response.headers['x-ingress-upstream'];
  return {
    status: response.statusCode,
    attempts: Number(response.headers['x-ingress-attempts']),
    upstream: typeof upstream === 'string' ? upstream : undefined,
    text,
    ms: performance.now() - started,
    headers: response.headers,
  };
}

function nameOf(reply: Reply): string {
  return (JSON.parse(reply.text) as { name: string }).name;
}

async function metricsText(ingress: Ingress): Promise<string> {
  const response = await request(`${ingress.url}/-/metrics`, { dispatcher: client });
  return response.body.text();
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('routing', () => {
  it('round-robins across three upstreams in order, one try each', async () => {
    const ups = await Promise.all(['a', 'b', 'c'].map((name) => startUpstream(name, answer(name))));
    const ingress = await startIngress({ upstreams: ups.map((u) => u.address) });
    const names: string[] = [];
    for (let i = 0; i < 30; i++) {
      const reply = await send(ingress);
      expect(reply.status, 'every request through healthy upstreams should succeed').toBe(200);
      expect(reply.attempts, 'healthy upstreams need no retry').toBe(1);
      names.push(nameOf(reply));
    }
    expect(names.join(''), 'strict round robin a, b, c, a, …').toBe('abc'.repeat(10));
    expect(ups.map((u) => u.hits)).toEqual([10, 10, 10]);
  });

  it('strips hop-by-hop headers both ways and appends x-forwarded-for', async () => {
    const up = await startUpstream('echo', (req, res, body) => {
      res.setHeader('connection', 'x-upstream-hop');
      res.setHeader('x-upstream-hop', 'must not reach the client');
      res.setHeader('x-kept', 'yes');
      answer('echo')(req, res, body);
    });
    const ingress = await startIngress({ upstreams: [up.address] });
    // node:http lets us send a custom Connection header (undici does not).
    const reply = await new Promise<{ headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request(`${ingress.url}/api/echo`, {
        headers: { connection: 'keep-alive, x-secret-hop', 'x-secret-hop': '1', 'keep-alive': 'timeout=5', te: 'trailers', 'x-forwarded-for': '10.0.0.1', 'x-app': 'kept' },
        agent: false,
      });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
    const seen = (JSON.parse(reply.body) as { headers: Record<string, string> }).headers;
    expect(seen['x-secret-hop'], 'a header named in Connection is hop-by-hop').toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['x-app'], 'end-to-end headers pass').toBe('kept');
    expect(seen['x-forwarded-for'], 'the client address is appended').toBe('10.0.0.1, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(reply.headers['x-upstream-hop'], 'response hop-by-hop headers are stripped too').toBeUndefined();
    expect(reply.headers['x-kept']).toBe('yes');
    expect(reply.headers['x-ingress-attempts']).toBe('1');
  });

  it('takes a new upstream list through PUT /-/upstreams and rejects an invalid one', async () => {
    const a = await startUpstream('a', answer('a'));
    const b = await startUpstream('b', answer('b'));
    const ingress = await startIngress({ upstreams: [a.address] });
    expect(nameOf(await send(ingress))).toBe('a');

    const put = await request(`${ingress.url}/-/upstreams`, { dispatcher: client, method: 'PUT', body: JSON.stringify([b.address]) });
    expect(put.statusCode, await put.body.text()).toBe(200);
    for (let i = 0; i < 4; i++) expect(nameOf(await send(ingress)), 'after the PUT only b serves').toBe('b');

    const bad = await request(`${ingress.url}/-/upstreams`, { dispatcher: client, method: 'PUT', body: JSON.stringify(['10.1.2.3:80']) });
    expect(bad.statusCode, 'a non-loopback upstream is refused').toBe(400);
    expect(await bad.body.text()).toContain('loopback');
    expect(ingress.upstreams().map((u) => u.address), 'a refused list changes nothing').toEqual([b.address]);

    const notJson = await request(`${ingress.url}/-/upstreams`, { dispatcher: client, method: 'PUT', body: '{nope' });
    expect(notJson.statusCode).toBe(400);
    await notJson.body.dump();
  });

  it('answers 503 "no healthy upstream" with an empty list, and /-/ready independently of upstreams', async () => {
    const ingress = await startIngress({ upstreams: [] });
    const reply = await send(ingress);
    expect(reply.status).toBe(503);
    expect(reply.text).toBe('no healthy upstream');
    expect(reply.attempts).toBe(0);
    const ready = await request(`${ingress.url}/-/ready`, { dispatcher: client });
    expect(ready.statusCode, 'ready means listening, whatever the upstreams').toBe(200);
    await ready.body.dump();
  });
});

describe('passive health and retries', () => {
  it('serves every request when an upstream has nothing listening, ejects it, and re-admits it once it is back', async () => {
    const a = await startUpstream('a', answer('a'));
    const b = await startUpstream('b', answer('b'));
    const dead = await deadAddress();
    const ingress = await startIngress({ upstreams: [a.address, b.address, dead.address], ejectionMs: 200, maxEjectionMs: 400 });

    const replies: Reply[] = [];
    for (let i = 0; i < 30; i++) replies.push(await send(ingress));
    expect(
      replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`),
      'every request should succeed through retries',
    ).toEqual([]);
    expect(
      replies.some((r) => r.attempts > 1),
      'some request must have needed a retry',
    ).toBe(true);
    const deadState = ingress.upstreams().find((u) => u.address === dead.address);
    expect(deadState?.ejections, 'the dead upstream was ejected').toBeGreaterThanOrEqual(1);

    const metrics = await metricsText(ingress);
    expect(metricValue(metrics, `ingress_upstream_attempts_total{upstream="${dead.address}",outcome="refused"}`)).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'ingress_retries_total')).toBeGreaterThanOrEqual(1);

    const back = await startUpstream('c', answer('c'), dead.port);
    await waitUntil(async () => (await send(ingress)).upstream === dead.address, { what: 'the restarted upstream to serve again', timeoutMs: 5_000, intervalMs: 20 });
    expect(back.hits).toBeGreaterThanOrEqual(1);
    const readmitted = ingress.upstreams().find((u) => u.address === dead.address);
    expect(readmitted, 'a success resets the ejection doubling').toMatchObject({ ejected: false, consecutiveEjections: 0 });
  });

  it('doubles the ejection time of an upstream that keeps failing, up to the cap', async () => {
    const good = await startUpstream('good', answer('good'));
    const dead = await deadAddress();
    const ingress = await startIngress({ upstreams: [dead.address, good.address], ejectionMs: 100, maxEjectionMs: 500 });
    // Each ejection's length lies between what is left of it when we look and that plus the time
    // since the request that caused it was sent; so the check holds on a slow machine too.
    const bounds: { left: number; upTo: number }[] = [];
    const deadState = (): UpstreamStatus | undefined => ingress.upstreams().find((u) => u.address === dead.address);
    for (let round = 0; round < 4; round++) {
      await waitUntil(() => deadState()?.ejected === false, { what: 'ejection to end', timeoutMs: 2_000, intervalMs: 10 });
      const before = deadState()?.ejections ?? -1;
      let sentAt = Date.now();
      // Round robin reaches the dead upstream within two requests; each request ejects it at most once.
      for (let i = 0; i < 2 && deadState()?.ejections === before; i++) {
        sentAt = Date.now();
        expect((await send(ingress)).status).toBe(200);
      }
      const state = deadState();
      expect(state?.ejections, `round ${round}: the dead upstream should be ejected once more`).toBe(before + 1);
      const left = state?.ejectedForMs ?? -1;
      bounds.push({ left, upTo: left + (Date.now() - sentAt) + 1 });
    }
    const expected = [100, 200, 400, 500];
    bounds.forEach(({ left, upTo }, round) => {
      const want = expected[round] ?? NaN;
      const why = `ejection ${round + 1} should last ${want} ms (doubling from 100, capped at 500); observed between ${left} and ${upTo} ms`;
      expect(want, why).toBeGreaterThanOrEqual(left);
      expect(want, why).toBeLessThanOrEqual(upTo);
    });
  });

  it('still tries ejected upstreams when every upstream is ejected (panic mode)', async () => {
    const one = await deadAddress();
    const two = await deadAddress();
    const ingress = await startIngress({ upstreams: [one.address, two.address], attempts: 1, ejectionMs: 10_000, maxEjectionMs: 10_000 });
    const failed = await send(ingress);
    expect(failed.status, 'two dead upstreams, one retry: connect failure').toBe(503);
    expect(failed.text).toContain('upstream connect error or disconnect/reset before headers');
    expect(failed.attempts).toBe(2);
    expect(ingress.upstreams().every((u) => u.ejected)).toBe(true);

    await startUpstream('revived', answer('revived'), one.port);
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) replies.push(await send(ingress));
    expect(
      replies.every((r) => r.status === 200),
      'with all upstreams ejected the ingress must still try them and reach the revived one',
    ).toBe(true);
  });

  it('retries a reset before the response headers on another upstream', async () => {
    const resetter = await startUpstream('resetter', resetAfterRequest);
    const good = await startUpstream('good', answer('good'));
    const ingress = await startIngress({ upstreams: [resetter.address, good.address], ejectionMs: 50, maxEjectionMs: 50 });
    const replies: Reply[] = [];
    for (let i = 0; i < 20; i++) {
      replies.push(await send(ingress));
      if (i % 5 === 4) await waitUntil(() => ingress.upstreams().every((u) => !u.ejected), { what: 'ejection to end', timeoutMs: 1_000, intervalMs: 10 });
    }
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(replies.every((r) => nameOf(r) === 'good')).toBe(true);
    expect(resetter.hits, 'the resetting upstream did receive requests').toBeGreaterThanOrEqual(2);
    expect(replies.filter((r) => r.attempts === 2).length, 'each request that met the resetter took a second try').toBe(resetter.hits);
    const metrics = await metricsText(ingress);
    expect(metricValue(metrics, `ingress_upstream_attempts_total{upstream="${resetter.address}",outcome="reset"}`)).toBe(resetter.hits);
  });

  it('replays a buffered POST body intact on the retry', async () => {
    const resetter = await startUpstream('resetter', resetAfterRequest);
    const echo = await startUpstream('echo', answer('echo'));
    const ingress = await startIngress({ upstreams: [resetter.address, echo.address] });
    const payload = JSON.stringify({ items: Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `contact-${i}`, note: 'ü'.repeat(i % 7) })) });
    const reply = await send(ingress, '/api/contacts', { method: 'POST', body: payload, headers: { 'content-type': 'application/json' } });
    expect(reply.status).toBe(200);
    expect(reply.attempts, 'round robin sends the first try to the resetter').toBe(2);
    const echoed = JSON.parse(reply.text) as { body: string; method: string; headers: Record<string, string> };
    const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
    expect(echoed.method).toBe('POST');
    expect(sha(echoed.body), 'the retried body equals the original').toBe(sha(payload));
    expect(sha(resetter.bodies[0] ?? ''), 'the first try carried the whole body too').toBe(sha(payload));
    expect(echoed.headers['content-length']).toBe(String(Buffer.byteLength(payload)));
  });

  it('answers 413 without contacting an upstream when the body exceeds the limit', async () => {
    const echo = await startUpstream('echo', answer('echo'));
    const ingress = await startIngress({ upstreams: [echo.address], maxBodyBytes: 1024 });
    const reply = await send(ingress, '/api/contacts', { method: 'POST', body: 'x'.repeat(2048) });
    expect(reply.status).toBe(413);
    expect(reply.attempts).toBe(0);
    expect(echo.hits).toBe(0);
  });

  it('retries a per-try timeout on another upstream', async () => {
    const slowOne = await startUpstream('slow', slow(2_000, 'slow'));
    const fast = await startUpstream('fast', answer('fast'));
    const ingress = await startIngress({ upstreams: [slowOne.address, fast.address], perTryTimeoutMs: 250, timeoutMs: 5_000 });
    const reply = await send(ingress);
    expect(reply.status).toBe(200);
    expect(nameOf(reply)).toBe('fast');
    expect(reply.attempts, 'first try to the slow upstream, second to the fast one').toBe(2);
    expect(reply.ms, 'the slow try was cut at the per-try timeout').toBeGreaterThanOrEqual(240);
    expect(reply.ms).toBeLessThan(1_500);
    const metrics = await metricsText(ingress);
    expect(metricValue(metrics, `ingress_upstream_attempts_total{upstream="${slowOne.address}",outcome="timeout"}`)).toBe(1);
  });

  it('answers 504 at the overall timeout, whatever the per-try timeout', async () => {
    const slowOne = await startUpstream('slow', slow(3_000, 'slow'));
    const ingress = await startIngress({ upstreams: [slowOne.address], timeoutMs: 400, perTryTimeoutMs: 10_000 });
    const reply = await send(ingress);
    expect(reply.status).toBe(504);
    expect(reply.text).toBe('upstream request timeout');
    expect(reply.attempts).toBe(1);
    expect(reply.ms).toBeGreaterThanOrEqual(390);
    expect(reply.ms, 'the route timeout bounds the request').toBeLessThan(1_500);
  });

  it('answers 504 when every try times out, after 1 + attempts tries', async () => {
    const slowA = await startUpstream('slowA', slow(3_000, 'slowA'));
    const slowB = await startUpstream('slowB', slow(3_000, 'slowB'));
    const ingress = await startIngress({ upstreams: [slowA.address, slowB.address], timeoutMs: 10_000, perTryTimeoutMs: 150, attempts: 2 });
    const reply = await send(ingress);
    expect(reply.status).toBe(504);
    expect(reply.attempts).toBe(3);
    expect(reply.ms).toBeGreaterThanOrEqual(440);
    expect(reply.ms).toBeLessThan(2_000);
  });

  it('with attempts=0 a dead upstream makes requests fail with 503', async () => {
    const good = await startUpstream('good', answer('good'));
    const dead = await deadAddress();
    const ingress = await startIngress({ upstreams: [dead.address, good.address], attempts: 0 });
    const replies: Reply[] = [];
    for (let i = 0; i < 10; i++) replies.push(await send(ingress));
    const failures = replies.filter((r) => r.status === 503);
    expect(failures.length, 'without retries the request sent to the dead upstream fails').toBeGreaterThanOrEqual(1);
    expect(failures[0]?.text).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection failure');
    expect(replies.every((r) => r.attempts === 1), 'attempts=0 means one try only').toBe(true);
    const metrics = await metricsText(ingress);
    expect(metricValue(metrics, 'ingress_requests_total{status="503"}')).toBe(failures.length);
    expect(metricValue(metrics, 'ingress_retries_total')).toBe(0);
  });

  it('retries 503 but passes 500 through (Istio default)', async () => {
    const unavailable = await startUpstream('u503', status(503));
    const broken = await startUpstream('u500', status(500));
    const good = await startUpstream('good', answer('good'));

    const retrying = await startIngress({ upstreams: [unavailable.address, good.address] });
    const replies: Reply[] = [];
    for (let i = 0; i < 6; i++) replies.push(await send(retrying));
    expect(replies.map((r) => r.status), '503s are retried elsewhere').toEqual(Array(6).fill(200));
    expect(unavailable.hits, 'a 503 does not eject: round robin keeps sending first tries to it').toBe(6);

    const passing = await startIngress({ upstreams: [broken.address, good.address] });
    const first = await send(passing);
    expect(first.status, 'a 500 is not retried').toBe(500);
    expect(first.attempts).toBe(1);
    expect(first.text).toBe('status 500 from upstream');
  });

  it('counts attempts as retries: attempts=3 makes 4 tries, then passes the last 503 on', async () => {
    const a = await startUpstream('a', status(503));
    const b = await startUpstream('b', status(503));
    const ingress = await startIngress({ upstreams: [a.address, b.address], attempts: 3 });
    const reply = await send(ingress);
    expect(reply.status).toBe(503);
    expect(reply.text, "the upstream's own 503 is passed on").toBe('status 503 from upstream');
    expect(reply.attempts).toBe(4);
    expect(a.hits + b.hits).toBe(4);
    expect(a.hits, 'retries alternate between upstreams').toBe(2);
  });

  it('with the strict Istio default retryOn, a reset is not retried', async () => {
    const resetter = await startUpstream('resetter', resetAfterRequest);
    const good = await startUpstream('good', answer('good'));
    const ingress = await startIngress({ upstreams: [resetter.address, good.address], retryOn: ISTIO_DEFAULT_RETRY_ON });
    const reply = await send(ingress);
    expect(reply.status).toBe(503);
    expect(reply.text).toContain('reset reason: connection termination');
    expect(reply.attempts).toBe(1);
  });
});

describe('metrics and lifecycle', () => {
  it('exports the ingress metrics with a 0.5 s latency bucket', async () => {
    const up = await startUpstream('a', answer('a'));
    const ingress = await startIngress({ upstreams: [up.address] });
    await send(ingress);
    const text = await metricsText(ingress);
    for (const name of ['ingress_requests_total', 'ingress_request_duration_seconds', 'ingress_upstream_attempts_total', 'ingress_retries_total', 'ingress_upstream_ejected']) {
      expect(text, `metric ${name} should be exported`).toContain(`# TYPE ${name} `);
    }
    expect(metricValue(text, 'ingress_requests_total{status="200"}')).toBe(1);
    expect(metricValue(text, 'ingress_request_duration_seconds_bucket{le="0.5"}')).toBe(1);
    expect(metricValue(text, `ingress_upstream_attempts_total{upstream="${up.address}",outcome="ok"}`)).toBe(1);
    expect(text).toContain(`ingress_upstream_ejected{upstream="${up.address}"} 0`);
  });

  it('cancels the upstream try when the client goes away, and counts it as 499', async () => {
    let upstreamSawClose = false;
    const up = await startUpstream('slow', (req, res, body) => {
      res.once('close', () => (upstreamSawClose = !res.writableFinished));
      slow(5_000, 'slow')(req, res, body);
    });
    const ingress = await startIngress({ upstreams: [up.address] });
    const gone = AbortSignal.timeout(150);
    await expect(request(`${ingress.url}/api/items`, { dispatcher: client, signal: gone })).rejects.toThrow();
    await waitUntil(() => upstreamSawClose, { what: 'the upstream request to be cancelled', timeoutMs: 2_000, intervalMs: 10 });
    await waitUntil(async () => metricValue(await metricsText(ingress), 'ingress_requests_total{status="499"}') === 1, { what: 'a 499 to be counted', timeoutMs: 2_000 });
    const metrics = await metricsText(ingress);
    expect(metricValue(metrics, `ingress_upstream_attempts_total{upstream="${up.address}",outcome="cancelled"}`)).toBe(1);
    expect(ingress.upstreams()[0]?.ejected, 'a departed client says nothing about the upstream').toBe(false);
  });

  it('lets an in-flight request finish on close, then refuses connections', async () => {
    const up = await startUpstream('slow', slow(300, 'slow'));
    const ingress = await startIngress({ upstreams: [up.address] });
    const pending = send(ingress);
    await waitUntil(() => up.hits === 1, { what: 'the request to reach the upstream', timeoutMs: 2_000, intervalMs: 10 });
    const started = performance.now();
    await ingress.close({ graceMs: 5_000 });
    const reply = await pending;
    expect(reply.status, 'the in-flight request completes during the grace').toBe(200);
    expect(performance.now() - started).toBeLessThan(2_000);
    await expect(request(`${ingress.url}/api/items`, { dispatcher: new Agent() })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await ingress.close(); // idempotent
  });
});

describe('configuration', () => {
  const base = { INGRESS_UPSTREAMS: '127.0.0.1:4001,127.0.0.1:4002' };

  it('reads the seed policy defaults and every variable from the environment', () => {
    const defaults = ingressConfigFromEnv(base);
    expect(defaults).toMatchObject({ timeoutMs: 30_000, attempts: 3, perTryTimeoutMs: 10_000, upstreams: ['127.0.0.1:4001', '127.0.0.1:4002'] });
    const options: IngressOptions = { upstreams: ['127.0.0.1:5001'], port: 4000, timeoutMs: 1_000, attempts: 0, perTryTimeoutMs: 100, retryOn: 'connect-failure,reset,503', ejectionMs: 10, maxEjectionMs: 20 };
    expect(ingressConfigFromEnv(ingressEnv(options)), 'ingressEnv renders what ingressConfigFromEnv reads').toMatchObject(options);
  });

  it.each([
    [{ INGRESS_ATTEMPTS: 'three' }, 'INGRESS_ATTEMPTS', 'integer from 0 to 100'],
    [{ INGRESS_ATTEMPTS: '-1' }, 'INGRESS_ATTEMPTS', 'integer from 0 to 100'],
    [{ INGRESS_PORT: '70000' }, 'INGRESS_PORT', 'integer from 0 to 65535'],
    [{ INGRESS_TIMEOUT_MS: '0' }, 'INGRESS_TIMEOUT_MS', 'integer from 1'],
    [{ INGRESS_UPSTREAMS: '' }, 'INGRESS_UPSTREAMS', 'required'],
    [{ INGRESS_UPSTREAMS: 'localhost:4001' }, 'INGRESS_UPSTREAMS', 'loopback IP literal'],
    [{ INGRESS_UPSTREAMS: '10.0.0.5:4001' }, 'INGRESS_UPSTREAMS', 'loopback IP literal'],
    [{ INGRESS_UPSTREAMS: '127.0.0.1:0' }, 'INGRESS_UPSTREAMS', 'loopback IP literal'],
    [{ INGRESS_RETRY_ON: 'connect-failure,bogus' }, 'INGRESS_RETRY_ON', 'unknown retry condition "bogus"'],
    [{ INGRESS_RETRY_ON: '999' }, 'INGRESS_RETRY_ON', 'not an HTTP status code'],
    [{ INGRESS_EJECTION_MS: '500', INGRESS_MAX_EJECTION_MS: '100' }, 'INGRESS_MAX_EJECTION_MS', 'at least INGRESS_EJECTION_MS'],
    [{ INGRESS_HOST: '0.0.0.0' }, 'INGRESS_HOST', 'loopback'],
    [{ INGRESS_ATEMPTS: '3' }, 'INGRESS_ATEMPTS', 'unknown variable'],
  ])('%j is refused naming %s', (env, variable, allowed) => {
    const attempt = (): unknown => ingressConfigFromEnv({ ...base, ...env });
    expect(attempt).toThrow(IngressConfigError);
    expect(attempt).toThrow(new RegExp(`^${variable}: .*${allowed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('compiles retryOn like Istio: numbers are retriable codes, reset covers timeouts', () => {
    const strict = parseRetryOn(ISTIO_DEFAULT_RETRY_ON);
    expect([...strict.failures], 'strict Istio default retries connect failures only').toEqual(['refused']);
    expect([...strict.statuses]).toEqual([503]);
    const ours = parseRetryOn(INGRESS_DEFAULTS.retryOn);
    expect([...ours.failures].sort()).toEqual(['protocol_error', 'refused', 'reset', 'timeout']);
    const gateway = parseRetryOn('gateway-error');
    expect([...gateway.statuses].sort()).toEqual([502, 503, 504]);
    expect(parseRetryOn('5xx').any5xx).toBe(true);
    expect([...parseRetryOn('retriable-status-codes').statuses], 'the token alone names no codes, as in Istio').toEqual([]);
  });
});
