import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../ledger.ts';
import { runCpuHog, runMemoryHog, type ChaosTarget } from './stress.ts';
import type { InjectorContext } from './pod-delete.ts';
import { cgroupDirOf } from './cgroups.ts';
import { waitUntil } from '../../scripts/util/wait.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function context(signal = new AbortController().signal): InjectorContext {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stress-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { runId: 'test', ledger: Ledger.open(dir), log: () => undefined, signal };
}

/** An idle real replica stand-in: a Node process that only waits. */
function replica(name: string): ChaosTarget {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
  const pid = child.pid!;
  cleanups.push(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  return { name, pid };
}

/** Processes in the stress process's group (stress-ng and its workers share it); other sessions' stress-ng do not count. */
function stressProcesses(pgid: number | undefined): number[] {
  if (pgid === undefined) throw new Error('the stress process never reached the ledger');
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Watches the ledger while an experiment runs: the revert types seen and the stress process's PID. */
function watchLedger(ledger: Ledger): { seen: Set<string>; stressPid: () => number | undefined; stop: () => void } {
  const seen = new Set<string>();
  let pid: number | undefined;
  const poll = setInterval(() => {
    for (const e of ledger.entries()) {
      seen.add(e.revert.type);
      if (e.revert.type === 'kill-process') pid = e.revert.pid;
    }
  }, 20);
  return { seen, stressPid: () => pid, stop: () => clearInterval(poll) };
}

function harnessCgroupsOf(pid: number): string[] {
  return (['cpu', 'cpuacct', 'memory'] as const).map((c) => cgroupDirOf(pid, c)).filter((dir) => dir.includes('resilience-'));
}

describe('stress-ng hogs inside the target replica’s cgroup', () => {
  it('pod-cpu-hog: 1 core at 60 % raises the cgroup CPU rate by at least half of it, then leaves nothing', async () => {
    const ctx = context();
    const target = replica('api-1');
    const watch = watchLedger(ctx.ledger);
    const record = await runCpuHog({ name: 'cpu-hog', cpuCores: 1, cpuLoad: 60, durationMs: 3_000 }, target, ctx);
    watch.stop();
    console.log(record.actions[0]?.evidence);
    expect(record.tookEffect, record.reason).toBe(true);
    const [, rise] = /\(\+([\d.]+); requested 0\.60/.exec(record.actions[0]!.evidence!) ?? [];
    expect(Number(rise)).toBeGreaterThanOrEqual(0.3);
    expect(record.end - record.start).toBeGreaterThanOrEqual(3_000);
    expect([...watch.seen].sort(), 'the stress process and the cgroups were in the ledger while active').toEqual(['cgroup-remove', 'kill-process']);
    expect(ctx.ledger.entries()).toEqual([]);
    expect(stressProcesses(watch.stressPid())).toEqual([]);
    expect(harnessCgroupsOf(target.pid)).toEqual([]);
  });

  it('pod-memory-hog: 200 MB raises the cgroup memory usage by at least 100 MB, then leaves nothing', async () => {
    const ctx = context();
    const target = replica('api-2');
    const watch = watchLedger(ctx.ledger);
    const record = await runMemoryHog({ name: 'memory-hog', memoryConsumptionMb: 200, durationMs: 2_000 }, target, ctx);
    watch.stop();
    console.log(record.actions[0]?.evidence);
    expect(record.tookEffect, record.reason).toBe(true);
    const [, rise] = /\(\+(\d+); requested 200/.exec(record.actions[0]!.evidence!) ?? [];
    expect(Number(rise)).toBeGreaterThanOrEqual(100);
    expect(ctx.ledger.entries()).toEqual([]);
    expect(stressProcesses(watch.stressPid())).toEqual([]);
    expect(harnessCgroupsOf(target.pid)).toEqual([]);
  });

  it('after the harness dies mid-hog, a fresh Ledger reverts the orphans: no stress process, no cgroup left', async () => {
    const abort = new AbortController();
    const ctx = context(abort.signal);
    const target = replica('api-3');
    const running = runCpuHog({ name: 'cpu-hog', cpuCores: 1, cpuLoad: 80, durationMs: 20_000 }, target, ctx);
    cleanups.push(async () => {
      abort.abort();
      await running;
    });
    const watch = watchLedger(ctx.ledger);
    cleanups.push(watch.stop);
    await waitUntil(() => watch.stressPid() !== undefined && stressProcesses(watch.stressPid()).length >= 2, { what: 'stress-ng workers', timeoutMs: 5_000 });
    watch.stop();
    const dirs = harnessCgroupsOf(target.pid);
    expect(dirs).toHaveLength(2);
    // Make the entries look like a SIGKILLed harness's: its PID no longer runs.
    const entries = ctx.ledger.entries().map((e) => ({ ...e, harnessPid: 999_999_999 }));
    writeFileSync(ctx.ledger.file, JSON.stringify({ version: 1, entries }));
    const fresh = Ledger.open(ctx.ledger.stateDir);
    expect(fresh.orphans().map((e) => e.revert.type).sort()).toEqual(['cgroup-remove', 'cgroup-remove', 'kill-process']);
    const report = await fresh.revert(fresh.orphans());
    expect(report.failed).toEqual([]);
    expect(stressProcesses(watch.stressPid())).toEqual([]);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
    expect(harnessCgroupsOf(target.pid)).toEqual([]);
    expect(fresh.entries()).toEqual([]);
    abort.abort();
    const record = await running;
    expect(record.end - record.start).toBeLessThan(10_000);
  });
});
