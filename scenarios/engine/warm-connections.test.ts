import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { WarmConnections } from './warm-connections.ts';

/** A keep-alive HTTP responder counting the connections it accepted and the requests it read. */
async function responder(): Promise<{ url: string; connections: () => number; requests: () => number; close: () => Promise<void>; dropAll: () => void }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let requests = 0;
  const server = net.createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', () => {
      requests += 1;
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    requests: () => requests,
    dropAll: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('WarmConnections', () => {
  it('opens connections without sending a request, and the pool uses them instead of connecting', async () => {
    const server = await responder();
    cleanups.push(server.close);
    const warm = new WarmConnections(server.url, 5_000);
    cleanups.push(() => warm.close());
    expect(await warm.open(4)).toBe(4);
    await until(() => server.connections() === 4, '4 accepted connections');
    expect(server.requests()).toBe(0);

    const pool = new Pool(server.url, { connections: 4, pipelining: 1, connect: warm.connect });
    cleanups.push(() => pool.destroy());
    const responses = await Promise.all(Array.from({ length: 4 }, () => pool.request({ path: '/', method: 'GET' }).then((r) => r.body.text())));
    expect(responses).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(warm.available).toBe(0);
    expect(server.connections()).toBe(4);
  });

  it('forgets warm sockets the server closed, and connects afresh for the pool', async () => {
    const server = await responder();
    cleanups.push(server.close);
    const warm = new WarmConnections(server.url, 5_000);
    cleanups.push(() => warm.close());
    expect(await warm.open(2)).toBe(2);
    await until(() => server.connections() === 2, '2 accepted connections');
    server.dropAll();
    await until(() => warm.available === 0, 'the closed sockets to be forgotten');
    const pool = new Pool(server.url, { connections: 1, pipelining: 1, connect: warm.connect });
    cleanups.push(() => pool.destroy());
    const response = await pool.request({ path: '/', method: 'GET' });
    expect(await response.body.text()).toBe('ok');
    expect(server.connections()).toBe(3);
  });

  it('opens none against a refused port without throwing, and the pool then reports the refusal', async () => {
    const server = await responder();
    const url = server.url;
    await server.close();
    const warm = new WarmConnections(url, 5_000);
    cleanups.push(() => warm.close());
    expect(await warm.open(3)).toBe(0);
    const pool = new Pool(url, { connections: 1, connect: warm.connect });
    cleanups.push(() => pool.destroy());
    await expect(pool.request({ path: '/', method: 'GET' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('close() destroys idle sockets and stops an open() in progress', async () => {
    const server = await responder();
    cleanups.push(server.close);
    const warm = new WarmConnections(server.url, 5_000);
    expect(await warm.open(3)).toBe(3);
    await until(() => server.connections() === 3, '3 accepted connections');
    warm.close();
    expect(warm.available).toBe(0);
    expect(await warm.open(5)).toBe(0);
    const controller = new AbortController();
    controller.abort();
    const other = new WarmConnections(server.url, 5_000);
    cleanups.push(() => other.close());
    expect(await other.open(5, controller.signal)).toBe(0);
  });
});
