import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultSpecError, startFaultProxy } from './fault-proxy.ts';
import type { FaultProxy, FaultSpec } from './fault-proxy.ts';
import { waitUntil } from '../../scripts/util/wait.ts';

// Real sockets on 127.0.0.1: an HTTP or TCP-echo server plays the replica, the proxy sits in front.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket.on('close', () => sockets.delete(socket)).on('error', () => undefined));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  );
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return address.port;
}

const httpReplica = (): Promise<number> => listen(http.createServer((_req, res) => res.end('ok')));
const echoReplica = (): Promise<number> => listen(net.createServer((socket) => socket.pipe(socket)));

async function proxyTo(port: number, fault?: FaultSpec): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, fault: fault ?? null });
  cleanups.push(() => proxy.close());
  return proxy;
}

/** A keep-alive client with one connection, so each request costs one round trip, no setup. */
function keepAliveClient(): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  cleanups.push(() => agent.destroy());
  return agent;
}

function get(port: number, agent: http.Agent | false, timeoutMs = 5_000): Promise<{ ms: number; body: string }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ms: performance.now() - start, body }));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
  });
}

/** Sequential request latencies (ms). */
async function latencies(port: number, agent: http.Agent, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(port, agent)).ms);
  return out.sort((a, b) => a - b);
}
const median = (sorted: number[]): number => sorted[Math.floor(sorted.length / 2)] ?? NaN;

/** 'answered', 'timeout', 'closed' or an error code such as 'ECONNRESET'. */
type Outcome = string;
/** One connection to an echo target: send, wait for the echo or `timeoutMs`. */
function echoOnce(port: number, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (outcome: Outcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.on('connect', () => socket.write('ping'));
    socket.on('data', () => done('answered'));
    socket.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    socket.on('close', () => done('closed'));
  });
}
const count = (outcomes: Outcome[], what: Outcome): number => outcomes.filter((o) => o === what).length;
/** 4.5 standard deviations of a binomial count: a false failure about once in 150 000 runs. */
const binomialBounds = (n: number, p: number): [number, number] => {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - 4.5 * sd, n * p + 4.5 * sd];
};

describe('fault proxy', () => {
  it('adds NETWORK_LATENCY to each keep-alive round trip, and switching it off restores the baseline', async () => {
    const proxy = await proxyTo(await httpReplica());
    const agent = keepAliveClient();
    await latencies(proxy.port, agent, 5); // warm-up: open the pooled connection
    const baseline = median(await latencies(proxy.port, agent, 20));

    proxy.setFault({ latencyMs: 100 });
    const faulted = await latencies(proxy.port, agent, 20);
    const added = median(faulted) - baseline;
    proxy.setFault(null);
    const after = median(await latencies(proxy.port, agent, 20));

    console.log(`latency: baseline p50 ${baseline.toFixed(1)} ms, with 100 ms p50 ${median(faulted).toFixed(1)} ms (added ${added.toFixed(1)}), after revert p50 ${after.toFixed(1)} ms`);
    expect(added).toBeGreaterThanOrEqual(98);
    expect(added).toBeLessThan(120);
    expect(faulted[0]! - baseline, 'every request is delayed').toBeGreaterThanOrEqual(98);
    expect(after - baseline, 'baseline restored').toBeLessThan(10);
    expect(proxy.stats().delayedChunks).toBeGreaterThanOrEqual(20);
  });

  it('adds the latency once more to connection setup (a fresh connection pays two round trips)', async () => {
    const proxy = await proxyTo(await httpReplica());
    const base: number[] = [];
    for (let i = 0; i < 6; i++) base.push((await get(proxy.port, false)).ms);
    const baseline = median(base.slice(1).sort((a, b) => a - b));
    proxy.setFault({ latencyMs: 100 });
    const fresh: number[] = [];
    for (let i = 0; i < 5; i++) fresh.push((await get(proxy.port, false)).ms);
    const added = median(fresh.sort((a, b) => a - b)) - baseline;
    console.log(`latency on fresh connections: baseline ${baseline.toFixed(1)} ms, added ${added.toFixed(1)} ms`);
    expect(added).toBeGreaterThanOrEqual(190);
    expect(added).toBeLessThan(240);
  });

  it('spreads delays uniformly over latency ± JITTER', async () => {
    const proxy = await proxyTo(await httpReplica());
    const agent = keepAliveClient();
    await latencies(proxy.port, agent, 5);
    const baseline = median(await latencies(proxy.port, agent, 10));
    proxy.setFault({ latencyMs: 100, jitterMs: 50 });
    const added = (await latencies(proxy.port, agent, 60)).map((ms) => ms - baseline);
    const mean = added.reduce((a, b) => a + b, 0) / added.length;
    const sd = Math.sqrt(added.reduce((a, b) => a + (b - mean) ** 2, 0) / added.length);
    console.log(`jitter 100±50 ms: added min ${added[0]!.toFixed(1)} p50 ${median(added).toFixed(1)} max ${added.at(-1)!.toFixed(1)} mean ${mean.toFixed(1)} sd ${sd.toFixed(1)} (uniform: sd 28.9)`);
    expect(added[0]!).toBeGreaterThanOrEqual(47);
    expect(added.at(-1)!).toBeLessThan(165);
    expect(added[0]!, 'some delays well below the latency').toBeLessThan(80);
    expect(added.at(-1)!, 'some delays well above').toBeGreaterThan(120);
    expect(sd).toBeGreaterThan(18);
    expect(sd).toBeLessThan(40);
  });

  it('black-holes NETWORK_PACKET_LOSS_PERCENTAGE of new connections (binomial bounds over 200)', async () => {
    const proxy = await proxyTo(await echoReplica(), { lossPercent: 30 });
    const outcomes: Outcome[] = [];
    // Batches of 50 keep the 300 ms client timeout far above any scheduling delay.
    for (let batch = 0; batch < 4; batch++) outcomes.push(...(await Promise.all(Array.from({ length: 50 }, () => echoOnce(proxy.port, 300)))));
    const [low, high] = binomialBounds(200, 0.3);
    console.log(`loss 30 %: ${count(outcomes, 'timeout')} of 200 timed out (bounds ${low.toFixed(0)}-${high.toFixed(0)}), ${count(outcomes, 'answered')} answered`);
    expect(count(outcomes, 'timeout') + count(outcomes, 'answered'), JSON.stringify(outcomes)).toBe(200);
    expect(count(outcomes, 'timeout')).toBe(proxy.stats().blackholed);
    expect(count(outcomes, 'timeout')).toBeGreaterThanOrEqual(low);
    expect(count(outcomes, 'timeout')).toBeLessThanOrEqual(high);
  });

  it('clearing loss releases black-holed connections and answers every new one', async () => {
    const proxy = await proxyTo(await echoReplica(), { lossPercent: 100 });
    const stuck = echoOnce(proxy.port, 5_000);
    await waitUntil(() => proxy.stats().blackholed === 1, { what: 'a black-holed connection', timeoutMs: 2_000 });
    proxy.setFault(null);
    expect(await stuck, 'the stuck connection is closed by the revert').toBe('closed');
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => echoOnce(proxy.port, 1_000)));
    expect(count(outcomes, 'answered')).toBe(20);
  });

  it('resets a share of connections; clients see ECONNRESET', async () => {
    const proxy = await proxyTo(await httpReplica(), { resetPercent: 100 });
    await expect(get(proxy.port, false)).rejects.toMatchObject({ code: 'ECONNRESET' });

    const echo = await proxyTo(await echoReplica(), { resetPercent: 40 });
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => echoOnce(echo.port, 2_000)));
    const [low, high] = binomialBounds(200, 0.4);
    console.log(`reset 40 %: ${count(outcomes, 'ECONNRESET')} of 200 reset (bounds ${low.toFixed(0)}-${high.toFixed(0)})`);
    expect(count(outcomes, 'ECONNRESET') + count(outcomes, 'answered'), JSON.stringify(outcomes)).toBe(200);
    expect(count(outcomes, 'ECONNRESET')).toBe(echo.stats().resets);
    expect(count(outcomes, 'ECONNRESET')).toBeGreaterThanOrEqual(low);
    expect(count(outcomes, 'ECONNRESET')).toBeLessThanOrEqual(high);
  });

  it('passes bodies through intact, in order, under jitter', async () => {
    const proxy = await proxyTo(await echoReplica(), { latencyMs: 20, jitterMs: 20 });
    const payload = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7919) % 251;
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
    cleanups.push(() => void socket.destroy());
    const received: Buffer[] = [];
    let length = 0;
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        length += chunk.length;
        if (length >= payload.length) resolve();
      });
      socket.on('error', reject);
    });
    socket.write(payload);
    await done;
    expect(Buffer.concat(received).equals(payload)).toBe(true);
  });

  it('rejects invalid specs', async () => {
    const proxy = await proxyTo(await echoReplica());
    expect(() => proxy.setFault({ lossPercent: 101 })).toThrow(FaultSpecError);
    expect(() => proxy.setFault({ latencyMs: -1 })).toThrow(/latencyMs: must be a number/);
    expect(proxy.fault()).toBeNull();
  });

  it('close() is idempotent and leaves no socket or timer behind', async () => {
    const tcpHandles = (): number => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    // Sockets of earlier tests close asynchronously: take the baseline once the count is steady.
    let last = -1;
    await waitUntil(
      async () => {
        const now = tcpHandles();
        const steady = now === last;
        last = now;
        await new Promise((resolve) => setTimeout(resolve, 100));
        return steady;
      },
      { what: 'a steady socket count', timeoutMs: 5_000 },
    );
    const before = { tcp: tcpHandles(), timers: timers() };
    const replicaPort = await echoReplica();
    // A fixed draw of 0.6: loss 50 % passes the connection on, reset 100 % resets it.
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: replicaPort }, fault: { latencyMs: 2_000 }, random: () => 0.6 });
    cleanups.push(() => proxy.close());
    // Connections in every state: forwarded with bytes queued, black-holed, waiting to be reset.
    const connect = (): net.Socket => net.connect({ host: '127.0.0.1', port: proxy.port }).on('error', () => undefined);
    const clients = [connect()];
    clients[0]!.write('queued');
    // Fault decisions are taken at accept, so wait for each accept before switching.
    await waitUntil(() => proxy.stats().connections === 1, { what: 'accepted', timeoutMs: 2_000 });
    proxy.setFault({ latencyMs: 2_000, lossPercent: 100 });
    clients.push(connect());
    await waitUntil(() => proxy.stats().blackholed === 1, { what: 'black-holed', timeoutMs: 2_000 });
    proxy.setFault({ lossPercent: 50, resetPercent: 100 });
    clients.push(connect());
    await waitUntil(() => proxy.stats().open === 3, { what: '3 open connections', timeoutMs: 2_000 });
    expect(tcpHandles(), 'the connections are there before close').toBeGreaterThanOrEqual(before.tcp + 6);
    const closed = clients.map((c) => new Promise((resolve) => c.on('close', resolve)));

    await Promise.all([proxy.close(), proxy.close()]);
    await proxy.close();
    await Promise.all(closed);
    expect(proxy.stats().open).toBe(0);
    cleanups.pop(); // the proxy, closed above
    await cleanups.pop()!(); // the echo replica
    await waitUntil(() => tcpHandles() <= before.tcp && timers() <= before.timers, {
      what: `handles back to ${JSON.stringify(before)}: ${JSON.stringify(process.getActiveResourcesInfo())}`,
      timeoutMs: 2_000,
    });
    await expect(echoOnce(proxy.port, 500)).resolves.toBe('ECONNREFUSED');
  });
});
