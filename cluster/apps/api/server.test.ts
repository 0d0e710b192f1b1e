import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitUntil } from '../../../scripts/util/wait.ts';
import { freePort, isPortOpen } from '../../targets/local/ports.ts';
import { metricValue, TestDependencies, waitForReady } from './test-helpers.ts';

/** The real entry point as a child process: `node --import tsx cluster/apps/api/server.ts`. */

const REPO_ROOT = resolve(import.meta.dirname, '../../..');
const SERVER = join(REPO_ROOT, 'cluster/apps/api/server.ts');

const deps = new TestDependencies();
let scratch: string;
/** Every process these tests started, killed in afterEach if a test left it running. */
const pids = new Set<number>();

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'api-server-test-'));
  await deps.start();
});

afterEach(() => {
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  pids.clear();
});

afterAll(async () => {
  await deps.stop();
  rmSync(scratch, { recursive: true, force: true });
});

interface Server {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Only what the API needs: nothing from the test runner's environment leaks in. */
function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
}

function spawnServer(env: Record<string, string>): Server {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], { cwd: REPO_ROOT, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) pids.add(child.pid);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
  return { child, output: () => output, exited };
}

/** Resolves with the exit, or rejects after `ms` with the output so far. */
async function exitWithin(server: Server, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const outcome = await Promise.race([server.exited, sleep(ms).then(() => undefined)]);
  if (!outcome) throw new Error(`the API did not exit within ${ms} ms; output:\n${server.output()}`);
  return outcome;
}

function isAlive(pid: number): boolean {
  try {
    // A zombie has exited; only its parent has not collected it yet.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('server.ts configuration', () => {
  it.each([
    ['PG_POOL_SIZE', 'abc', 'an integer from 1 to 1000'],
    ['PORT', '70000', 'an integer from 0 to 65535'],
    ['ARTIFICIAL_LATENCY_MS', '-5', 'an integer from 0 to 600000'],
    ['DATABASE_URL', 'mysql://db/x', 'postgres://'],
  ])('exits 2 on %s=%s, naming the variable, the value and what is allowed', async (variable, value, allowed) => {
    const server = spawnServer(deps.env({ [variable]: value }));
    const exit = await exitWithin(server, 15_000);
    expect(exit.code, `exit code; output:\n${server.output()}`).toBe(2);
    expect(server.output()).toContain(variable);
    expect(server.output()).toContain(value);
    expect(server.output()).toContain(allowed);
  });

  it('exits 2 when DATABASE_URL is missing, saying it is required', async () => {
    const { DATABASE_URL: _omitted, ...env } = deps.env();
    const server = spawnServer(env);
    const exit = await exitWithin(server, 15_000);
    expect(exit.code).toBe(2);
    expect(server.output()).toContain('DATABASE_URL is required');
  });
});

describe('server.ts lifecycle', () => {
  it('on SIGTERM refuses new connections, lets an in-flight request finish with 200, and exits 0', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = spawnServer(deps.env({ PORT: String(port), ARTIFICIAL_LATENCY_MS: '1500', SHUTDOWN_GRACE_MS: '8000', REPLICA_NAME: 'sigterm-test' }));
    await waitForReady(base);
    // A real request through the real entry point (the latency applies to /api only).
    const created = await fetch(`${base}/api/contacts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Child', email: 'child@example.com' }) });
    expect(created.status).toBe(201);

    let slowSettled = false;
    const slow = fetch(`${base}/api/contacts?limit=1`).finally(() => (slowSettled = true));
    await waitUntil(async () => (metricValue(await (await fetch(`${base}/metrics`)).text(), 'http_requests_in_flight') ?? 0) >= 1, {
      what: 'the slow request to be in flight',
      timeoutMs: 5_000,
    });

    server.child.kill('SIGTERM');
    await waitUntil(async () => !(await isPortOpen(port, '127.0.0.1', 200)), { what: 'the listening socket to close', timeoutMs: 1_000, intervalMs: 20 });
    expect(slowSettled, 'the in-flight request is still running when new connections are already refused').toBe(false);

    const response = await slow;
    expect(response.status, 'the in-flight request completes').toBe(200);
    expect(response.headers.get('connection')).toBe('close');
    expect(((await response.json()) as { contacts: unknown[] }).contacts).toHaveLength(1);

    const exit = await exitWithin(server, 10_000);
    expect(exit, `exit; output:\n${server.output()}`).toEqual({ code: 0, signal: null });
    expect(server.output()).toMatch(/"msg":"shutting down","reason":"SIGTERM"/);
  });

  it('shuts itself down when its parent process is killed with SIGKILL (orphan guard)', async () => {
    const port = await freePort();
    const logFile = join(scratch, 'orphan.log');
    // An intermediate parent starts the API and prints its pid; we then SIGKILL the parent.
    const launcher = `
      const { spawn } = require('node:child_process');
      const { openSync } = require('node:fs');
      const log = openSync(${JSON.stringify(logFile)}, 'a');
      const child = spawn(process.execPath, ['--import', 'tsx', ${JSON.stringify(SERVER)}], { stdio: ['ignore', log, log] });
      process.stdout.write(child.pid + '\\n');
      setInterval(() => {}, 1000);
    `;
    const parent = spawn(process.execPath, ['-e', launcher], { cwd: REPO_ROOT, env: { ...baseEnv(), ...deps.env({ PORT: String(port), REPLICA_NAME: 'orphan-test' }) }, stdio: ['ignore', 'pipe', 'inherit'] });
    if (parent.pid !== undefined) pids.add(parent.pid);
    const apiPid = await new Promise<number>((resolvePid, reject) => {
      parent.stdout.once('data', (chunk: Buffer) => resolvePid(Number(chunk.toString().trim())));
      parent.once('exit', () => reject(new Error('the launcher exited before starting the API')));
    });
    pids.add(apiPid);
    await waitForReady(`http://127.0.0.1:${port}`);

    parent.kill('SIGKILL');
    await waitUntil(() => !isAlive(apiPid), { what: `API pid ${apiPid} to exit after its parent was killed`, timeoutMs: 10_000, intervalMs: 100 });
    expect(readFileSync(logFile, 'utf8')).toMatch(/"msg":"shutting down","reason":"parent process \d+ is gone"/);
    expect(await isPortOpen(port)).toBe(false);
  });
});
