import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../ledger.ts';
import { processState, runPause } from './pause.ts';
import type { InjectorContext } from './pod-delete.ts';
import type { ChaosTarget } from './stress.ts';
import { cgroupDirOf } from './cgroups.ts';
import { freePort } from '../../cluster/targets/local/ports.ts';
import { waitUntil } from '../../scripts/util/wait.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function context(signal = new AbortController().signal): InjectorContext {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pause-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { runId: 'test', ledger: Ledger.open(dir), log: () => undefined, signal };
}

/** True when the server answered within 300 ms. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/', timeout: 300, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/** A tiny real HTTP server, as a replica. */
async function server(name: string): Promise<ChaosTarget & { port: number }> {
  const port = await freePort();
  const script = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')";
  const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: 'ignore', env: { PORT: String(port) } });
  const pid = child.pid!;
  cleanups.push(() => {
    try {
      // A frozen process cannot die until thawed; the pause's own cleanup thaws it first.
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  await waitUntil(() => answers(port), { what: `server on ${port}`, timeoutMs: 5_000 });
  return { name, pid, port };
}

describe('pause through the cgroup v1 freezer, on a real HTTP server', () => {
  it('freezes the server (state D, no HTTP answer) for the duration, then thaws it and removes the cgroup', async () => {
    const ctx = context();
    const target = await server('api-1');
    const seen = new Set<string>();
    const states: string[] = [];
    const poll = setInterval(() => {
      ctx.ledger.entries().forEach((e) => seen.add(e.revert.type));
      states.push(processState(target.pid) ?? 'gone');
    }, 20);
    const record = await runPause({ name: 'pause', durationMs: 1_500 }, target, ctx, { probe: () => answers(target.port) });
    clearInterval(poll);
    console.log(record.actions[0]?.evidence);
    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.actions[0]!.evidence).toMatch(/FROZEN after \d+ ms, process state D, no answer to the probe/);
    expect(record.end - record.start).toBeGreaterThanOrEqual(1_500);
    expect(states).toContain('D');
    expect([...seen].sort()).toEqual(['cgroup-remove', 'thaw']);
    expect(await answers(target.port), 'answers again after the thaw').toBe(true);
    expect(processState(target.pid)).not.toBe('D');
    expect(cgroupDirOf(target.pid, 'freezer')).not.toMatch(/resilience-/);
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('is not proven when the probe still gets an answer', async () => {
    const ctx = context();
    const target = await server('api-2');
    const record = await runPause({ name: 'pause', durationMs: 300 }, target, ctx, { probe: () => Promise.resolve(true) });
    expect(record.tookEffect).toBe(false);
    expect(record.reason).toMatch(/but it still answered/);
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('after the harness dies mid-pause, a fresh Ledger thaws the server and removes the cgroup', async () => {
    const abort = new AbortController();
    const ctx = context(abort.signal);
    const target = await server('api-3');
    const running = runPause({ name: 'pause', durationMs: 20_000 }, target, ctx);
    cleanups.push(async () => {
      abort.abort();
      await running;
    });
    await waitUntil(() => processState(target.pid) === 'D', { what: 'frozen server', timeoutMs: 5_000 });
    const dir = cgroupDirOf(target.pid, 'freezer');
    expect(dir).toMatch(/resilience-test-api-3-pause$/);
    expect(await answers(target.port)).toBe(false);
    // Make the entries look like a SIGKILLed harness's: its PID no longer runs.
    writeFileSync(ctx.ledger.file, JSON.stringify({ version: 1, entries: ctx.ledger.entries().map((e) => ({ ...e, harnessPid: 999_999_999 })) }));
    const fresh = Ledger.open(ctx.ledger.stateDir);
    expect(fresh.orphans().map((e) => e.revert.type).sort()).toEqual(['cgroup-remove', 'thaw']);
    const report = await fresh.revert(fresh.orphans());
    expect(report.failed).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(await answers(target.port), 'answers again after the cleanup').toBe(true);
    expect(processState(target.pid)).not.toBe('D');
    expect(fresh.entries()).toEqual([]);
    abort.abort();
    await running;
  });
});
