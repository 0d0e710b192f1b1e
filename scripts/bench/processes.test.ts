import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isPortOpen } from '../../cluster/targets/local/ports.ts';
import { waitUntil } from '../util/wait.ts';
import { bundleEngineRunner, runAutocannon, runEngine, runHey, runWrk } from './generators.ts';
import { BODY, startNginx } from './nginx.ts';
import type { NginxTarget } from './nginx.ts';
import { killAllGroups, runPinned, startPinnedDaemon } from './processes.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  killAllGroups();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** True while any process of group `pgid` exists. */
/** Whether the group is gone within a bound: an orphaned member is reaped by init a moment after its leader exits. */
async function groupGone(pgid: number, timeoutMs = 3_000): Promise<boolean> {
  return waitUntil(() => !groupAlive(pgid), { what: `process group ${pgid} to be gone`, timeoutMs, intervalMs: 20 }).then(
    () => true,
    () => false,
  );
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function allowedCpus(pid: number): string {
  return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
}

describe('pinned, measured child processes', () => {
  it('runs a command on the given core and measures its CPU and RSS', async () => {
    const run = await runPinned({ core: 1, command: 'sh', args: ['-c', 'grep Cpus_allowed_list /proc/self/status; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'], timeoutMs: 20_000 });
    expect(run.stdout).toMatch(/Cpus_allowed_list:\s*1\n/);
    expect(run.cpuSeconds, 'a busy loop of 200k iterations costs measurable CPU').toBeGreaterThan(0.05);
    expect(run.peakRssMiB).toBeGreaterThan(0.5);
    expect(run.interferenceSeconds).toBeGreaterThanOrEqual(0);
  });

  it('rejects on a non-zero exit, naming the command and its stderr', async () => {
    await expect(runPinned({ core: 1, command: 'sh', args: ['-c', 'echo broken >&2; exit 3'], timeoutMs: 10_000 })).rejects.toThrow(/sh -c .* exited with 3; stderr: .*broken/s);
  });

  it('kills the whole group (also grandchildren) on timeout and on abort', async () => {
    const pidFile = path.join(await mkdtemp(path.join(tmpdir(), 'bench-test-')), 'pid');
    cleanups.push(() => rm(path.dirname(pidFile), { recursive: true, force: true }));
    await expect(runPinned({ core: 1, command: 'sh', args: ['-c', `sleep 60 & echo $! > ${pidFile}; wait`], timeoutMs: 500 })).rejects.toThrow(/timed out after 500 ms/);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await waitUntil(() => !existsSync(`/proc/${grandchild}`) || readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(' ')[2] === 'Z', { what: 'the backgrounded sleep to die', timeoutMs: 5_000 });

    const controller = new AbortController();
    const running = runPinned({ core: 1, command: 'sleep', args: ['60'], timeoutMs: 60_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    await expect(running).rejects.toThrow(/sleep 60 aborted/);
    await expect(runPinned({ core: 1, command: 'true', args: [], timeoutMs: 1_000, signal: controller.signal })).rejects.toThrow();
  });

  it('stops a daemon and its group with SIGTERM', async () => {
    const daemon = startPinnedDaemon(0, 'sh', ['-c', 'sleep 60 & wait']);
    expect(groupAlive(daemon.pid)).toBe(true);
    await daemon.stop();
    expect(daemon.exited()).toBe(true);
    expect(await groupGone(daemon.pid)).toBe(true);
  });
});

describe('nginx target and the generators against it', () => {
  it('starts nginx pinned to core 0, serves the body, and leaves nothing behind', async () => {
    const nginx = await startNginx(0);
    cleanups.push(() => nginx.stop());
    const response = await fetch(nginx.url);
    expect(await response.text()).toBe(BODY);
    expect(allowedCpus(nginx.pid)).toBe('0');
    await nginx.stop();
    expect(await isPortOpen(nginx.port)).toBe(false);
    expect(await groupGone(nginx.pid), 'master and worker are gone').toBe(true);
  });

  it('rejects with the reason when nginx cannot start, and cleans up', async () => {
    await expect(startNginx(0, '/nonexistent/nginx')).rejects.toThrow(/nginx on 127.0.0.1:\d+ was not ready within 10000 ms: last error: nginx exited/);
  });

  it('each generator runs for real against nginx and reports rate, CPU and RSS', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-test-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const nginx: NginxTarget = await startNginx(0);
    cleanups.push(() => nginx.stop());
    const ctx = { url: nginx.url, core: 1, engineRunner: await bundleEngineRunner(dir) };
    const runs = [
      await runEngine(ctx, { rate: 300, durationSeconds: 1, preAllocatedVUs: 5, maxVUs: 10 }),
      await runWrk(ctx, 4, 1),
      await runAutocannon(ctx, 4, 1, 300),
      await runHey(ctx, 4, 1, 50),
    ];
    for (const run of runs) {
      expect(run.errors, `${run.generator} errors`).toBe(0);
      expect(run.requests, `${run.generator} requests`).toBeGreaterThan(50);
      expect(run.cpuSeconds, `${run.generator} CPU`).toBeGreaterThan(0);
      expect(run.peakRssMiB, `${run.generator} RSS`).toBeGreaterThan(1);
    }
    const [engine] = runs;
    expect(engine?.requests, 'the engine ran its 300 scheduled iterations (a few may drop at start-up)').toBeGreaterThanOrEqual(270);
    // Nothing listens on port 1: every request is refused, and the runner says so rather than failing.
    const refused = await runEngine({ ...ctx, url: 'http://127.0.0.1:1/' }, { rate: 50, durationSeconds: 1, preAllocatedVUs: 1, maxVUs: 1 });
    expect(refused.requests).toBeGreaterThan(0);
    expect(refused.errors).toBe(refused.requests);
    await expect(runEngine({ ...ctx, engineRunner: path.join(dir, 'missing.mjs') }, { rate: 50, durationSeconds: 1, preAllocatedVUs: 1, maxVUs: 1 })).rejects.toThrow(/exited with 1; stderr: .*Cannot find module/s);
  });
});
