import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { ManagedProcess, processStartTime } from './managed-process.ts';
import { freePort, isPortOpen } from './ports.ts';
import { sleep, waitUntil } from '../../../scripts/util/wait.ts';
import { ExitCode } from '../../../scripts/exit-codes.ts';

// The real process entry, with real child processes as replicas, on 127.0.0.1.

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const INGRESS_MAIN = fileURLToPath(new URL('./ingress-main.ts', import.meta.url));
const workDir = mkdtempSync(path.join(tmpdir(), 'ingress-main-test-'));
const processes: ManagedProcess[] = [];
const strayPids: number[] = [];
const client = new Agent({ connections: 128 });

afterEach(async () => {
  await Promise.allSettled(processes.splice(0).map((p) => p.stop({ graceMs: 2_000 })));
  for (const pid of strayPids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
afterAll(async () => {
  await client.close();
  rmSync(workDir, { recursive: true, force: true });
});

/** A minimal replica: answers JSON {name, body} after `?delay=<ms>`. CommonJS for `node -e`. */
const REPLICA_SOURCE = `
const http = require('node:http');
const [port, name] = process.argv.slice(1);
http.createServer((req, res) => {
  const delay = Number(new URL(req.url, 'http://x').searchParams.get('delay') || 0);
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name, body }));
  }, delay));
}).listen(Number(port), '127.0.0.1');
`;

function baseEnv(): Record<string, string | undefined> {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: undefined };
}

async function startReplica(name: string): Promise<{ proc: ManagedProcess; port: number; address: string }> {
  const port = await freePort();
  const proc = await ManagedProcess.start({
    name,
    command: process.execPath,
    args: ['-e', REPLICA_SOURCE, String(port), name],
    env: baseEnv(),
    logFile: path.join(workDir, `${name}.log`),
  });
  processes.push(proc);
  await waitUntil(() => isPortOpen(port), { what: `replica ${name} on ${port}`, timeoutMs: 10_000 });
  return { proc, port, address: `127.0.0.1:${port}` };
}

async function startIngressProcess(env: Record<string, string>, name = 'ingress'): Promise<{ proc: ManagedProcess; url: string; logFile: string }> {
  const port = await freePort();
  const logFile = path.join(workDir, `${name}-${port}.log`);
  const proc = await ManagedProcess.start({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', INGRESS_MAIN],
    cwd: REPO_ROOT,
    env: { ...baseEnv(), INGRESS_PORT: String(port), ...env },
    logFile,
  });
  processes.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      if (!proc.running) throw new Error(`ingress exited: ${JSON.stringify(proc.exitStatus)}: ${await proc.logTail()}`);
      const response = await request(`${url}/-/ready`, { dispatcher: client });
      await response.body.dump();
      return response.statusCode === 200;
    },
    { what: `ingress process on ${port}`, timeoutMs: 20_000 },
  );
  return { proc, url, logFile };
}

async function metric(url: string, series: string): Promise<number> {
  const response = await request(`${url}/-/metrics`, { dispatcher: client });
  const text = await response.body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('ingress-main process', () => {
  it('proxies, finishes an in-flight request on SIGTERM, and exits 0', async () => {
    const replica = await startReplica('replica-a');
    const ingress = await startIngressProcess({ INGRESS_UPSTREAMS: replica.address });

    const first = await request(`${ingress.url}/api/contacts`, { dispatcher: client, method: 'POST', body: '{"name":"Ada"}' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-ingress-attempts']).toBe('1');
    expect(await first.body.json()).toEqual({ name: 'replica-a', body: '{"name":"Ada"}' });
    expect(await metric(ingress.url, 'ingress_requests_total{status="200"}')).toBe(1);

    const inFlight = request(`${ingress.url}/api/contacts?delay=600`, { dispatcher: client });
    await sleep(150);
    ingress.proc.kill('SIGTERM');
    const slowReply = await inFlight;
    expect(slowReply.statusCode, 'the request in flight at SIGTERM completes').toBe(200);
    await slowReply.body.dump();
    const exit = await ingress.proc.exited;
    expect(exit, `exit status; log:\n${await ingress.proc.logTail()}`).toEqual({ code: 0, signal: null });
  });

  it.each([
    [{ INGRESS_UPSTREAMS: '127.0.0.1:4001', INGRESS_ATTEMPTS: 'three' }, 'INGRESS_ATTEMPTS', 'must be an integer from 0 to 100'],
    [{}, 'INGRESS_UPSTREAMS', 'required'],
    [{ INGRESS_UPSTREAMS: '127.0.0.1:4001', INGRESS_RETRY_ON: 'sometimes' }, 'INGRESS_RETRY_ON', 'allowed: connect-failure'],
  ])('exits 2 on bad configuration %j, naming %s', async (env, variable, allowed) => {
    const logFile = path.join(workDir, `bad-${variable}.log`);
    const proc = await ManagedProcess.start({
      name: 'ingress-bad-env',
      command: process.execPath,
      args: ['--import', 'tsx', INGRESS_MAIN],
      cwd: REPO_ROOT,
      env: { ...baseEnv(), ...env },
      logFile,
    });
    processes.push(proc);
    const exit = await Promise.race([proc.exited, sleep(20_000).then(() => 'still running' as const)]);
    const log = readFileSync(logFile, 'utf8');
    expect(exit, `should exit with InvalidConfig; log:\n${log}`).toEqual({ code: ExitCode.InvalidConfig, signal: null });
    expect(log).toContain(`invalid configuration: ${variable}: `);
    expect(log).toContain(allowed);
  });

  it('exits by itself when its parent is SIGKILLed (orphan guard)', async () => {
    const replica = await startReplica('replica-orphan');
    const port = await freePort();
    // A shell plays the harness: it starts the ingress, prints its pid and waits.
    const shell = spawn('sh', ['-c', `"${process.execPath}" --import tsx "${INGRESS_MAIN}" >>"${workDir}/orphan.log" 2>&1 & echo $!; wait`], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, INGRESS_PORT: String(port), INGRESS_UPSTREAMS: replica.address },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const shellExited = new Promise((resolve) => shell.once('exit', resolve));
    const ingressPid = await new Promise<number>((resolve, reject) => {
      shell.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      shell.once('error', reject);
    });
    strayPids.push(ingressPid);
    try {
      await waitUntil(() => isPortOpen(port), { what: 'orphan-test ingress', timeoutMs: 20_000 });
      expect(processStartTime(ingressPid), 'the ingress runs before its parent dies').toBeDefined();
      shell.kill('SIGKILL');
      await shellExited;
      await waitUntil(() => !isAlive(ingressPid), { what: `ingress ${ingressPid} to exit after its parent was killed`, timeoutMs: 10_000 });
      expect(await isPortOpen(port), 'the orphaned ingress no longer listens').toBe(false);
    } finally {
      shell.kill('SIGKILL');
    }
  });

  it('keeps 100 % success at ~100 req/s for 2 s while a replica process is SIGKILLed (attempts=3)', async () => {
    const replicas = await Promise.all(['r1', 'r2', 'r3'].map((name) => startReplica(name)));
    const ingress = await startIngressProcess({ INGRESS_UPSTREAMS: replicas.map((r) => r.address).join(','), INGRESS_ATTEMPTS: '3' });
    const victim = replicas[1];
    if (victim === undefined) throw new Error('no victim');

    const rate = 100;
    const total = 200;
    const killAt = 70;
    const results: Promise<{ status: number; attempts: number; ms: number; name: string; error?: string }>[] = [];
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      if (i === killAt) victim.proc.kill('SIGKILL');
      const scheduled = start + (i * 1000) / rate;
      // 50 ms of server time keeps several requests in flight at the victim when it dies.
      results.push(
        request(`${ingress.url}/api/contacts?delay=50&i=${i}`, { dispatcher: client, headersTimeout: 10_000, bodyTimeout: 10_000 }).then(
          async (response) => {
            const text = await response.body.text();
            const name = response.statusCode === 200 ? ((JSON.parse(text) as { name?: string }).name ?? '') : '';
            const base = { status: response.statusCode, attempts: Number(response.headers['x-ingress-attempts']), ms: performance.now() - scheduled, name };
            return response.statusCode === 200 ? base : { ...base, error: text };
          },
          (error: unknown) => ({ status: 0, attempts: 0, ms: performance.now() - scheduled, name: '', error: String(error) }),
        ),
      );
    }
    const done = await Promise.all(results);
    const failed = done.filter((r) => r.status !== 200);
    expect(failed, `every request should succeed; ${failed.length} of ${done.length} failed, first: ${JSON.stringify(failed.slice(0, 3))}`).toEqual([]);
    expect(done.slice(0, killAt).some((r) => r.name === 'r2'), 'the victim served traffic before the kill').toBe(true);
    const exit = await victim.proc.exited;
    expect(exit.signal).toBe('SIGKILL');

    const retries = await metric(ingress.url, 'ingress_retries_total');
    const refused = await metric(ingress.url, `ingress_upstream_attempts_total{upstream="${victim.address}",outcome="refused"}`);
    const reset = await metric(ingress.url, `ingress_upstream_attempts_total{upstream="${victim.address}",outcome="reset"}`);
    expect(retries, 'the kill must have been absorbed by retries').toBeGreaterThanOrEqual(1);
    expect(refused + reset).toBeGreaterThanOrEqual(1);

    const latencies = done.map((r) => r.ms).sort((a, b) => a - b);
    const pick = (q: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN);
    // Measurements for the report (visible with --reporter=verbose).
    console.log(
      `kill test: ${done.length} requests, ${failed.length} failed, retries ${retries}, victim refused ${refused} reset ${reset}, ` +
        `max tries ${Math.max(...done.map((r) => r.attempts))}, latency p50 ${pick(0.5)} ms p99 ${pick(0.99)} ms max ${pick(1)} ms`,
    );
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
