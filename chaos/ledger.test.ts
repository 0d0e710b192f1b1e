import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from './ledger.ts';
import { processStartTime } from '../cluster/targets/local/managed-process.ts';
import { waitUntil } from '../scripts/util/wait.ts';

const dirs: string[] = [];
const pids: number[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ledger-test-'));
  dirs.push(dir);
  return dir;
}

/** A real, long-running process in its own group, as the harness starts them. */
function sleeper(args: string[] = []): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)', ...args], { detached: true, stdio: 'ignore' });
  child.unref();
  pids.push(child.pid!);
  return child.pid!;
}

function alive(pid: number): boolean {
  const stat = processStartTime(pid);
  return stat !== undefined;
}

afterEach(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('Ledger', () => {
  it('records before, removes after, and survives being reopened (a new process reads it)', () => {
    const state = tempDir();
    const ledger = Ledger.open(state);
    const id = ledger.record({ runId: 'r1', kind: 'fault', description: 'delete pod a', revert: { type: 'none' } });
    expect(Ledger.open(state).entries()).toMatchObject([{ id, runId: 'r1', kind: 'fault', harnessPid: process.pid }]);
    ledger.remove(id);
    ledger.remove(id); // idempotent
    expect(Ledger.open(state).entries()).toEqual([]);
  });

  it("treats entries of a live harness as in use and a dead harness's as orphans", () => {
    const state = tempDir();
    const ledger = Ledger.open(state);
    ledger.record({ runId: 'mine', kind: 'fault', description: 'live', revert: { type: 'none' } });
    const entries = ledger.entries();
    // Rewrite one entry as if a harness that no longer runs had written it.
    writeFileSync(ledger.file, JSON.stringify({ version: 1, entries: [...entries, { ...entries[0], id: 'x', harnessPid: 999_999_999, description: 'dead' }] }));
    expect(ledger.orphans().map((e) => e.description)).toEqual(['dead']);
  });

  it('reverts a recorded process (SIGTERM to its group) and a temp dir, then forgets them', async () => {
    const state = tempDir();
    const work = tempDir();
    const pid = sleeper();
    const ledger = Ledger.open(state);
    ledger.record({ runId: 'r', kind: 'process', description: 'sleeper', revert: { type: 'kill-process', pid, startTime: processStartTime(pid), name: 'sleeper' } });
    ledger.record({ runId: 'r', kind: 'temp-dir', description: 'work', revert: { type: 'remove-dir', path: work } });
    const report = await ledger.revert(ledger.entries());
    expect(report.failed).toEqual([]);
    expect(report.reverted.map((e) => e.description)).toEqual(['sleeper', 'work']);
    await waitUntil(() => !alive(pid), { what: 'the sleeper to exit', timeoutMs: 5_000 });
    expect(existsSync(work)).toBe(false);
    expect(ledger.entries()).toEqual([]);
  });

  it('never kills a process that merely reuses a recorded PID', async () => {
    const state = tempDir();
    const pid = sleeper();
    const ledger = Ledger.open(state);
    // Recorded with another start time: the recorded process is gone, this is someone else.
    ledger.record({ runId: 'r', kind: 'process', description: 'old', revert: { type: 'kill-process', pid, startTime: (processStartTime(pid) ?? 0) - 1, name: 'old' } });
    const report = await ledger.revert(ledger.entries());
    expect(report.failed).toEqual([]);
    expect(alive(pid)).toBe(true);
  });

  it('before removing a temp dir, stops processes still running from it (started but never recorded)', async () => {
    const state = tempDir();
    const work = tempDir();
    mkdirSync(path.join(work, 'data'));
    const pid = sleeper([path.join(work, 'data')]);
    const ledger = Ledger.open(state);
    ledger.record({ runId: 'r', kind: 'temp-dir', description: 'work', revert: { type: 'remove-dir', path: work } });
    await ledger.revert(ledger.entries());
    await waitUntil(() => !alive(pid), { what: 'the process using the dir to exit', timeoutMs: 5_000 });
    expect(existsSync(work)).toBe(false);
  });

  it('reports an unreadable ledger instead of treating it as empty', () => {
    const state = tempDir();
    const ledger = Ledger.open(state);
    writeFileSync(ledger.file, '{ not json');
    expect(() => ledger.entries()).toThrow(/unreadable .* inspect it before deleting it/);
  });
});
