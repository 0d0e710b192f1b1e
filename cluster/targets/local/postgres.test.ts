import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MissingBinaryError, ServiceStartError } from './binaries.ts';
import { isPortOpen } from './ports.ts';
import { startPostgres, type RunningPostgres } from './postgres.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pg-test-'));
  dirs.push(dir);
  return dir;
}

/** PIDs of live processes whose command line mentions `text` (our temp dir): leaks show up here. */
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

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

let running: RunningPostgres | undefined;
let mainDir: string;

beforeAll(async () => {
  mainDir = tempDir();
  running = await startPostgres({ dir: mainDir, maxConnections: 42 });
});

afterAll(async () => {
  await running?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('startPostgres', () => {
  it('answers queries at its url, with the hastecrm database created', async () => {
    const pgRunning = running!;
    expect(pgRunning.url).toBe(`postgres://postgres@127.0.0.1:${pgRunning.port}/hastecrm`);
    const rows = await query<{ db: string; user: string }>(pgRunning.url, 'SELECT current_database() AS db, current_user AS user');
    expect(rows).toEqual([{ db: 'hastecrm', user: 'postgres' }]);
  });

  it('is tuned as a throwaway server, listening only on 127.0.0.1, with the requested max_connections', async () => {
    const rows = await query<{ name: string; setting: string }>(
      running!.url,
      "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'listen_addresses', 'max_connections') ORDER BY name",
    );
    expect(rows).toEqual([
      { name: 'fsync', setting: 'off' },
      { name: 'listen_addresses', setting: '127.0.0.1' },
      { name: 'max_connections', setting: '42' },
    ]);
  });

  it('runs as the postgres system user when the harness is root (PostgreSQL refuses root)', () => {
    const status = readFileSync(`/proc/${running!.process.pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    if (process.getuid?.() === 0) {
      const passwdUid = /^postgres:[^:]*:(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'))?.[1];
      expect(uid, 'uid of the postmaster').toBe(Number(passwdUid));
    } else {
      expect(uid, 'uid of the postmaster').toBe(process.getuid?.());
    }
  });

  it('fails fast when the port is taken, with the PostgreSQL log tail in the error, leaving nothing running', async () => {
    const blocker = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const dir = tempDir();
    try {
      const started = Date.now();
      const error: unknown = await startPostgres({ dir, port, readyTimeoutMs: 20_000 }).catch((e: unknown) => e);
      expect(error, 'startPostgres on a busy port should reject with ServiceStartError').toBeInstanceOf(ServiceStartError);
      const startError = error as ServiceStartError;
      expect(startError.logTail).toContain('Address already in use');
      expect(startError.message).toContain('exited during startup');
      expect(startError.message).toContain('could not bind IPv4 address "127.0.0.1"');
      expect(Date.now() - started, 'reported at once rather than after the readiness timeout').toBeLessThan(15_000);
      expect(processesMentioning(dir), 'processes left running for the failed start').toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('reports a readiness timeout as ServiceStartError and stops the half-started server', async () => {
    const dir = tempDir();
    const error: unknown = await startPostgres({ dir, readyTimeoutMs: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceStartError);
    expect((error as Error).message).toMatch(/PostgreSQL on 127\.0\.0\.1:\d+ was not ready within 1 ms/);
    expect(processesMentioning(dir), 'processes left running after the timeout').toEqual([]);
  });

  it('stops initdb and rejects when aborted during startup', async () => {
    const dir = tempDir();
    const error: unknown = await startPostgres({ dir, signal: AbortSignal.timeout(50) }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('TimeoutError');
    expect(processesMentioning(dir), 'processes left running after the abort').toEqual([]);
  });

  it('throws MissingBinaryError naming initdb when PostgreSQL is not installed', async () => {
    const error: unknown = await startPostgres({ dir: tempDir(), binaries: { path: '', postgresLibDir: '/nonexistent' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingBinaryError);
    expect((error as MissingBinaryError).binary).toBe('initdb');
    expect((error as Error).message).toContain('apt-get install -y postgresql');
  });

  it('stop() shuts PostgreSQL down cleanly (fast shutdown, exit 0) and frees the port; a second stop() is a no-op', async () => {
    const pgRunning = running!;
    await pgRunning.stop();
    expect(pgRunning.process.running).toBe(false);
    expect(pgRunning.process.exitStatus).toEqual({ code: 0, signal: null });
    expect(await isPortOpen(pgRunning.port)).toBe(false);
    expect(processesMentioning(mainDir)).toEqual([]);
    await pgRunning.stop();
  });
});
