import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineScenario } from '../types.ts';
import { createEmbeddedEngine } from './engine.ts';
import type { EmbeddedEngine } from './engine.ts';
import { WARM_UP_ITERATIONS, warmUpHotPath } from './warm-up.ts';

/**
 * A keep-alive HTTP responder in raw TCP: one fixed answer per chunk read, and a record of the
 * order in which connections were accepted and requests read.
 */
async function rawResponder(): Promise<{ url: string; events: string[]; requests: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const events: string[] = [];
  let requests = 0;
  const server = net.createServer((socket) => {
    events.push('connection');
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', () => {
      requests += 1;
      events.push('request');
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    events,
    requests: () => requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Waits through event-loop turns (setImmediate, which the fake timers leave real) until `condition`, for at most 10 s of wall time. */
async function spinUntil(condition: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  return condition();
}

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('open model: a freed VU starts an overdue iteration itself', () => {
  it('keeps one VU busy with no timer tick at all: every completion starts the next due iteration', async () => {
    const target = await rawResponder();
    cleanups.push(target.close);
    // The warm-up ends through a timer; run it (once per process) before the timers are frozen.
    await warmUpHotPath();
    const engine: EmbeddedEngine = await createEmbeddedEngine({
      scenario: defineScenario({
        name: 'one-vu',
        executor: 'constant-arrival-rate',
        // An iteration every 10 µs: whenever the one VU frees up, the next iteration is overdue.
        rate: 100_000,
        duration: '30s',
        preAllocatedVUs: 1,
        maxVUs: 1,
        requests: [{ name: 'GET /', weight: 1, method: 'GET', path: '/' }],
      }),
      baseUrl: target.url,
    });
    cleanups.push(() => engine.close());
    // Freeze the engine's scheduling timer: only the start at run() and completions can send now.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    void engine.run();

    const reached = await spinUntil(() => target.requests() >= 50);
    expect(reached, `the server saw ${target.requests()} requests; a VU waiting for the timer would have sent 1`).toBe(true);
    expect(engine.live().inFlight).toBeLessThanOrEqual(1);
    vi.useRealTimers();
    await engine.close();
    const live = engine.live();
    // Iterations come due far faster than one VU completes them: the rest are dropped, none counted twice.
    expect(live.requests).toBeGreaterThanOrEqual(49);
    expect(live.requests).toBeLessThanOrEqual(target.requests());
  });
});

describe('before the clock starts', () => {
  it('opens the pre-allocated VUs’ connections, sending the target no request beyond the scheduled ones', async () => {
    const target = await rawResponder();
    cleanups.push(target.close);
    const engine = await createEmbeddedEngine({
      scenario: defineScenario({
        name: 'warm',
        executor: 'constant-arrival-rate',
        // 3 iterations 100 ms apart: opened lazily, one connection would serve them all.
        rate: 10,
        duration: '300ms',
        preAllocatedVUs: 8,
        maxVUs: 8,
        requests: [{ name: 'GET /', weight: 1, method: 'GET', path: '/' }],
      }),
      baseUrl: target.url,
    });
    cleanups.push(() => engine.close());

    const summary = await engine.run();

    expect(summary).toMatchObject({ scheduled: 3, requests: 3, errors: 0, droppedIterations: 0 });
    expect(target.requests(), 'only the scheduled requests reach the target').toBe(3);
    expect(await spinUntil(() => target.events.filter((e) => e === 'connection').length === 8), 'one connection per pre-allocated VU').toBe(true);
  });

  it('warms the request path once per process against its own loopback responder', async () => {
    const first = warmUpHotPath();
    const result = await first;
    expect(result.requests).toBe(WARM_UP_ITERATIONS);
    expect(warmUpHotPath(), 'later calls reuse the first warm-up').toBe(first);
  });
});
