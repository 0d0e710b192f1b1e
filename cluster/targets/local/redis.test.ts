import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MissingBinaryError, ServiceStartError } from './binaries.ts';
import { isPortOpen } from './ports.ts';
import { startRedis, type RunningRedis } from './redis.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'redis-test-'));
  dirs.push(dir);
  return dir;
}

/** PIDs of live processes whose command line mentions `text`: leaks show up here. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

let running: RunningRedis | undefined;
let mainDir: string;
let client: Redis | undefined;

beforeAll(async () => {
  mainDir = tempDir();
  running = await startRedis({ dir: mainDir });
  client = new Redis(running.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  client.on('error', () => undefined); // the last test stops the server under it
  await client.connect();
});

afterAll(async () => {
  client?.disconnect();
  await running?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('startRedis', () => {
  it('answers PING at its url', async () => {
    expect(running!.url).toBe(`redis://127.0.0.1:${running!.port}`);
    expect(await client!.ping()).toBe('PONG');
  });

  it('persists nothing, binds 127.0.0.1 and works in the given dir', async () => {
    const config = async (name: string): Promise<string | undefined> => ((await client!.config('GET', name)) as string[])[1];
    expect(await config('save')).toBe('');
    expect(await config('appendonly')).toBe('no');
    expect(await config('bind')).toBe('127.0.0.1');
    expect(await config('dir')).toBe(mainDir);
  });

  it('fails fast when the port is taken, with the Redis log tail in the error, leaving nothing running', async () => {
    const blocker = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const dir = tempDir();
    try {
      const error: unknown = await startRedis({ dir, port }).catch((e: unknown) => e);
      expect(error, 'startRedis on a busy port should reject with ServiceStartError').toBeInstanceOf(ServiceStartError);
      expect((error as ServiceStartError).logTail).toContain('Address already in use');
      expect((error as Error).message).toContain(`Could not create server TCP listening socket 127.0.0.1:${port}`);
      expect(processesMentioning(dir)).toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('throws MissingBinaryError naming redis-server when it is not installed', async () => {
    const error: unknown = await startRedis({ dir: tempDir(), binaries: { path: '' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingBinaryError);
    expect((error as MissingBinaryError).binary).toBe('redis-server');
    expect((error as Error).message).toContain('apt-get install -y redis-server');
  });

  it('stop() ends the server and frees the port; a second stop() is a no-op', async () => {
    const redisRunning = running!;
    await redisRunning.stop();
    expect(redisRunning.process.running).toBe(false);
    expect(await isPortOpen(redisRunning.port)).toBe(false);
    expect(processesMentioning(mainDir)).toEqual([]);
    await redisRunning.stop();
  });
});
