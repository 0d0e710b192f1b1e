import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ManagedProcess, processStartTime } from '../../cluster/targets/local/managed-process.ts';
import { freePort, isPortOpen } from '../../cluster/targets/local/ports.ts';
import { sleep, waitUntil } from '../../scripts/util/wait.ts';
import { ExitCode } from '../../scripts/exit-codes.ts';

// The real process entry in front of a real HTTP server, on 127.0.0.1.

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./fault-proxy-main.ts', import.meta.url));
const workDir = mkdtempSync(path.join(tmpdir(), 'fault-proxy-main-test-'));
const processes: ManagedProcess[] = [];
const strayPids: number[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await Promise.allSettled(processes.splice(0).map((p) => p.stop({ graceMs: 2_000 })));
  for (const pid of strayPids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const baseEnv = (): Record<string, string | undefined> => ({ PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: undefined });

async function replica(): Promise<number> {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return address.port;
}

async function startMain(env: Record<string, string>, name: string): Promise<{ proc: ManagedProcess; logFile: string }> {
  const logFile = path.join(workDir, `${name}.log`);
  const proc = await ManagedProcess.start({ name, command: process.execPath, args: ['--import', 'tsx', MAIN], cwd: REPO_ROOT, env: { ...baseEnv(), ...env }, logFile });
  processes.push(proc);
  return { proc, logFile };
}

/** Median of `n` sequential keep-alive requests, ms. */
async function medianLatency(port: number, agent: http.Agent, n = 9): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    out.push(performance.now() - start);
  }
  return out.sort((a, b) => a - b)[Math.floor(n / 2)] ?? NaN;
}

describe('fault-proxy-main process', () => {
  it('starts idle, SIGUSR1 adds NETWORK_LATENCY, SIGUSR2 removes it, SIGTERM exits 0', async () => {
    const target = await replica();
    const port = await freePort();
    const { proc, logFile } = await startMain(
      { FAULT_PROXY_TARGET: `127.0.0.1:${target}`, FAULT_PROXY_PORT: String(port), NETWORK_LATENCY: '80', FAULT_PROXY_ACTIVE: 'false' },
      'toggle',
    );
    await waitUntil(() => readFileSync(logFile, 'utf8').includes('listening on'), { what: 'fault proxy listening', timeoutMs: 20_000 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    await medianLatency(port, agent, 3);
    const idle = await medianLatency(port, agent);
    proc.kill('SIGUSR1');
    await waitUntil(() => readFileSync(logFile, 'utf8').includes('fault on'), { what: 'fault on', timeoutMs: 5_000 });
    const on = await medianLatency(port, agent);
    proc.kill('SIGUSR2');
    await waitUntil(() => readFileSync(logFile, 'utf8').includes('fault off'), { what: 'fault off', timeoutMs: 5_000 });
    const off = await medianLatency(port, agent);
    console.log(`process entry: idle p50 ${idle.toFixed(1)} ms, fault on ${on.toFixed(1)} ms, off ${off.toFixed(1)} ms`);
    expect(on - idle).toBeGreaterThanOrEqual(78);
    expect(on - idle).toBeLessThan(110);
    expect(off - idle).toBeLessThan(10);

    proc.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(readFileSync(logFile, 'utf8')).toMatch(/SIGTERM: closing; fault null, stats \{"connections":1,"delayedChunks":9/);
  });

  it.each([
    [{}, 'FAULT_PROXY_TARGET', 'required'],
    [{ FAULT_PROXY_TARGET: '10.0.0.1:80' }, 'FAULT_PROXY_TARGET', 'loopback'],
    [{ FAULT_PROXY_TARGET: '127.0.0.1:80', NETWORK_PACKET_LOSS_PERCENTAGE: '150' }, 'NETWORK_PACKET_LOSS_PERCENTAGE', 'from 0 to 100'],
    [{ FAULT_PROXY_TARGET: '127.0.0.1:80', NETWORK_LATENCY: '2s' }, 'NETWORK_LATENCY', 'integer'],
    [{ FAULT_PROXY_TARGET: '127.0.0.1:80', FAULT_PROXY_ACTIVE: 'yes' }, 'FAULT_PROXY_ACTIVE', 'allowed: true, false'],
  ])('exits 2 on bad configuration %j, naming %s', async (env, variable, allowed) => {
    const { proc, logFile } = await startMain(env, `bad-${variable}-${Object.keys(env).length}`);
    const exit = await Promise.race([proc.exited, sleep(20_000).then(() => 'still running' as const)]);
    const log = readFileSync(logFile, 'utf8');
    expect(exit, `should exit with InvalidConfig; log:\n${log}`).toEqual({ code: ExitCode.InvalidConfig, signal: null });
    expect(log).toContain(`invalid configuration: ${variable}: `);
    expect(log).toContain(allowed);
  });

  it('exits 4 when its port is taken', async () => {
    const taken = await replica();
    const { proc, logFile } = await startMain({ FAULT_PROXY_TARGET: '127.0.0.1:80', FAULT_PROXY_PORT: String(taken) }, 'port-taken');
    const exit = await Promise.race([proc.exited, sleep(20_000).then(() => 'still running' as const)]);
    expect(exit, readFileSync(logFile, 'utf8')).toEqual({ code: ExitCode.Environment, signal: null });
    expect(readFileSync(logFile, 'utf8')).toContain(`cannot listen on 127.0.0.1:${taken}`);
  });

  it('exits by itself when its parent is SIGKILLed (orphan guard)', async () => {
    const target = await replica();
    const port = await freePort();
    // A shell plays the harness: it starts the proxy, prints its pid and waits.
    const shell = spawn('sh', ['-c', `"${process.execPath}" --import tsx "${MAIN}" >>"${workDir}/orphan.log" 2>&1 & echo $!; wait`], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, FAULT_PROXY_PORT: String(port), FAULT_PROXY_TARGET: `127.0.0.1:${target}`, NETWORK_LATENCY: '50' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const shellExited = new Promise((resolve) => shell.once('exit', resolve));
    const proxyPid = await new Promise<number>((resolve, reject) => {
      shell.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      shell.once('error', reject);
    });
    strayPids.push(proxyPid);
    try {
      await waitUntil(() => isPortOpen(port), { what: 'orphan-test proxy', timeoutMs: 20_000 });
      expect(processStartTime(proxyPid), 'the proxy runs before its parent dies').toBeDefined();
      shell.kill('SIGKILL');
      await shellExited;
      await waitUntil(() => !isAlive(proxyPid), { what: `proxy ${proxyPid} to exit after its parent was killed`, timeoutMs: 10_000 });
      expect(await isPortOpen(port), 'the orphaned proxy no longer listens').toBe(false);
    } finally {
      shell.kill('SIGKILL');
    }
  });
});

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie (state Z) has exited; only its parent has not reaped it yet.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
