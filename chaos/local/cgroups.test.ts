import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../ledger.ts';
import { cgroupDirOf, HarnessCgroup } from './cgroups.ts';
import { sleep } from '../../scripts/util/wait.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempLedger(): Ledger {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cgroups-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return Ledger.open(dir);
}

/** A real process burning one core, with a child of its own (to check descendants follow it). */
function busyProcess(): number {
  const script = "require('node:child_process').spawn('sleep', ['600'], { stdio: 'ignore' }); for (;;) {}";
  const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: 'ignore' });
  const pid = child.pid!;
  cleanups.push(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  return pid;
}

async function cpuRate(cgroup: HarnessCgroup, ms: number): Promise<number> {
  const u0 = cgroup.cpuUsageNs();
  const t0 = performance.now();
  await sleep(ms);
  return (cgroup.cpuUsageNs() - u0) / ((performance.now() - t0) * 1e6);
}

describe('HarnessCgroup (cgroups v1, real processes)', () => {
  it('moves a process and its children in, measures and throttles its CPU, and moves them back on remove', async () => {
    const ledger = tempLedger();
    const pid = busyProcess();
    await sleep(300); // let it fork its child
    const original = cgroupDirOf(pid, 'cpu');
    const cgroup = HarnessCgroup.create({ runId: 'test', name: 'busy', pid, controllers: ['cpu', 'cpuacct', 'memory'], ledger });
    cleanups.push(() => cgroup.remove());
    expect(cgroup.dir('cpu')).toBe(path.join(original, 'resilience-test-busy'));
    expect(ledger.entries().map((e) => e.revert)).toEqual([
      { type: 'cgroup-remove', controller: 'cpu', path: cgroup.dir('cpu'), originalCgroup: original },
      { type: 'cgroup-remove', controller: 'cpuacct', path: cgroup.dir('cpuacct'), originalCgroup: path.dirname(cgroup.dir('cpuacct')) },
      expect.objectContaining({ type: 'cgroup-remove', controller: 'memory' }),
    ]);
    expect(cgroup.pids('cpu')).toHaveLength(2); // the process and its `sleep` child

    const free = await cpuRate(cgroup, 700);
    expect(free, 'an unthrottled busy loop uses about one core').toBeGreaterThan(0.7);
    cgroup.setCpuQuota(20_000, 100_000);
    await sleep(200);
    const throttled = await cpuRate(cgroup, 1_000);
    expect(throttled, 'CFS quota of 20 ms per 100 ms').toBeLessThan(0.3);
    expect(readFileSync(path.join(cgroup.dir('cpu'), 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('20000');
    console.log(`cpu throttle: ${free.toFixed(2)} → ${throttled.toFixed(2)} cores`);

    cgroup.setMemoryLimit(512 * 1024 * 1024);
    expect(readFileSync(path.join(cgroup.dir('memory'), 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(512 * 1024 * 1024));

    await cgroup.remove();
    await cgroup.remove(); // idempotent
    for (const controller of ['cpu', 'cpuacct', 'memory'] as const) expect(existsSync(path.join(cgroupDirOf(pid, controller), 'resilience-test-busy'))).toBe(false);
    expect(cgroupDirOf(pid, 'cpu')).toBe(original);
    expect(ledger.entries()).toEqual([]);
  });

  it('is reverted from the ledger by a fresh Ledger after the harness died (cgroup-remove)', async () => {
    const ledger = tempLedger();
    const pid = busyProcess();
    const original = cgroupDirOf(pid, 'cpu');
    const cgroup = HarnessCgroup.create({ runId: 'test', name: 'orphan', pid, controllers: ['cpu', 'cpuacct'], ledger });
    cleanups.push(() => cgroup.remove());
    cgroup.setCpuQuota(10_000);
    const fresh = Ledger.open(ledger.stateDir);
    const report = await fresh.revert(fresh.entries());
    expect(report.failed).toEqual([]);
    expect(report.reverted).toHaveLength(2);
    expect(existsSync(cgroup.dir('cpu'))).toBe(false);
    expect(existsSync(cgroup.dir('cpuacct'))).toBe(false);
    expect(cgroupDirOf(pid, 'cpu')).toBe(original);
    expect(fresh.entries()).toEqual([]);
  });

  it('leaves nothing behind when the process is already gone', () => {
    const ledger = tempLedger();
    expect(() => HarnessCgroup.create({ runId: 'test', name: 'gone', pid: 999_999_999, controllers: ['cpu'], ledger })).toThrow(/ENOENT/);
    expect(ledger.entries()).toEqual([]);
  });
});
