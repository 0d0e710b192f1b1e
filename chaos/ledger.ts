import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { processStartTime } from '../cluster/targets/local/managed-process.ts';
import { sleep } from '../scripts/util/wait.ts';
import { revertChaosEngineEntry, type ChaosEngineStopAction } from './litmus/engine-stop.ts';
import { removeCgroup, thawCgroup, type CgroupController } from './local/cgroups.ts';
import { removeContainer } from '../cluster/targets/local/containers/docker.ts';
import { deleteNetns, deleteNetnsIptablesRule } from './local/netns.ts';

/**
 * How to undo something the harness did, as data, so that a later process (the next run, or
 * `resilience cleanup`) can undo it after this one was killed with SIGKILL.
 */
export type RevertAction =
  /** Stop a process the harness started. The start time guards against a reused PID. */
  | { type: 'kill-process'; pid: number; startTime: number | undefined; name: string }
  /** Remove a temporary directory the harness created. */
  | { type: 'remove-dir'; path: string }
  /**
   * Undo a cgroup the harness created around a process: move its tasks back to `originalCgroup`
   * (the directory they came from) and remove `path`. Freezer cgroups are thawed first.
   */
  | { type: 'cgroup-remove'; controller: CgroupController; path: string; originalCgroup: string }
  /** Thaw a freezer cgroup the harness froze (`freezer.state` ← THAWED). */
  | { type: 'thaw'; path: string }
  /**
   * Delete a network namespace the harness created (a lossy hop): the processes still inside it are
   * stopped first, its veth pair and iptables rules go with it. Already gone = done.
   */
  | { type: 'netns-delete'; name: string; hostLink: string }
  /** Delete an iptables rule (`-D chain …rule`) inside a harness network namespace. Already gone = done. */
  | { type: 'iptables-delete'; netns: string; chain: string; rule: string[] }
  /**
   * Force-remove a container the harness started (`docker rm --force --volumes`). Recorded by
   * `name` before creation (`id` is '' until Docker assigns it); either identifies it.
   */
  | { type: 'container-remove'; id: string; name: string }
  /** Nothing to undo by hand: e.g. a deleted replica is restored by its supervisor, as a Deployment would. */
  | { type: 'none' }
  /** Stop (`engineState: stop`) and delete a Litmus ChaosEngine the harness created; 404 = reverted. */
  | ChaosEngineStopAction;

export interface LedgerEntry {
  id: string;
  runId: string;
  /** `fault`: injected chaos; `process` and `temp-dir`: resources the run owns. */
  kind: 'fault' | 'process' | 'temp-dir';
  description: string;
  createdAt: string;
  /** The harness process that wrote the entry; while it lives, its entries are not leftovers. */
  harnessPid: number;
  harnessStartTime: number | undefined;
  revert: RevertAction;
}

export interface RevertReport {
  reverted: LedgerEntry[];
  failed: { entry: LedgerEntry; error: string }[];
}

/**
 * The ledger: everything the harness injects or starts is written here *before* it happens and
 * removed after it has been undone. Writes are synchronous and fsynced, so an entry survives a
 * crash of the harness the instant after it was recorded.
 *
 * One file per state directory. Methods are synchronous except `revert*`; the class is not meant
 * to be shared between processes at the same time (the run lock guards that).
 */
export class Ledger {
  readonly file: string;

  private constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, 'ledger.json');
  }

  static open(stateDir: string): Ledger {
    mkdirSync(stateDir, { recursive: true });
    return new Ledger(stateDir);
  }

  entries(): LedgerEntry[] {
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { entries?: LedgerEntry[] };
      return Array.isArray(parsed.entries) ? parsed.entries : [];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`the ledger ${this.file} is unreadable (${(error as Error).message}); inspect it before deleting it: it lists faults that may still be active`, {
        cause: error,
      });
    }
  }

  /** Records an entry and returns its id. Call before injecting or starting the thing. */
  record(entry: Pick<LedgerEntry, 'runId' | 'kind' | 'description' | 'revert'>): string {
    const full: LedgerEntry = {
      ...entry,
      id: randomUUID(),
      createdAt: new Date().toISOString(),
      harnessPid: process.pid,
      harnessStartTime: processStartTime(process.pid),
    };
    this.write([...this.entries(), full]);
    return full.id;
  }

  /** Replaces an entry's revert action (e.g. once a process's PID is known). */
  update(id: string, revert: RevertAction): void {
    this.write(this.entries().map((e) => (e.id === id ? { ...e, revert } : e)));
  }

  /** Removes an entry once what it records has been undone. Idempotent. */
  remove(id: string): void {
    const entries = this.entries();
    const kept = entries.filter((e) => e.id !== id);
    if (kept.length !== entries.length) this.write(kept);
  }

  /** Entries written by harness processes that no longer run: leftovers of a crash or SIGKILL. */
  orphans(): LedgerEntry[] {
    return this.entries().filter((e) => !isSameProcessAlive(e.harnessPid, e.harnessStartTime));
  }

  /**
   * Undoes the given entries, faults first, then processes (newest first), then directories, and
   * removes each from the ledger once undone. Failures are collected, not thrown, so one stuck
   * entry does not keep the others in place.
   */
  async revert(entries: readonly LedgerEntry[]): Promise<RevertReport> {
    const order = { fault: 0, process: 1, 'temp-dir': 2 } as const;
    const sorted = [...entries].sort((a, b) => order[a.kind] - order[b.kind] || b.createdAt.localeCompare(a.createdAt));
    const report: RevertReport = { reverted: [], failed: [] };
    for (const entry of sorted) {
      try {
        await applyRevert(entry.revert);
        this.remove(entry.id);
        report.reverted.push(entry);
      } catch (error) {
        report.failed.push({ entry, error: (error as Error).message });
      }
    }
    return report;
  }

  private write(entries: LedgerEntry[]): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify({ version: 1, entries }, null, 2));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}

function isSameProcessAlive(pid: number, startTime: number | undefined): boolean {
  const current = processStartTime(pid);
  return current !== undefined && (startTime === undefined || current === startTime);
}

async function applyRevert(action: RevertAction): Promise<void> {
  switch (action.type) {
    case 'none':
      return;
    case 'chaos-engine-stop':
      await revertChaosEngineEntry(action);
      return;
    case 'remove-dir':
      // A service started in the dir may not have reached the ledger yet when the harness died
      // (it is recorded once ready): stop whatever still runs from the dir before removing it.
      for (const pid of processesUsingPath(action.path)) await killRecordedProcess(pid, processStartTime(pid), `process ${pid} using ${action.path}`);
      rmSync(action.path, { recursive: true, force: true });
      return;
    case 'kill-process':
      await killRecordedProcess(action.pid, action.startTime, action.name);
      return;
    case 'cgroup-remove':
      await removeCgroup(action.controller, action.path, action.originalCgroup);
      return;
    case 'netns-delete':
      await deleteNetns(action.name, action.hostLink);
      return;
    case 'iptables-delete':
      await deleteNetnsIptablesRule(action.netns, action.chain, action.rule);
      return;
    case 'thaw':
      thawCgroup(action.path);
      return;
    case 'container-remove':
      await removeContainer(action.id || action.name);
      return;
  }
}

/** SIGTERM to the process's group, SIGKILL after 5 s; only if it is still the process recorded. */
async function killRecordedProcess(pid: number, startTime: number | undefined, name: string): Promise<void> {
  if (!isSameProcessAlive(pid, startTime)) return;
  signalGroup(pid, 'SIGTERM');
  for (let waited = 0; waited < 5_000; waited += 50) {
    if (!isSameProcessAlive(pid, startTime)) return;
    await sleep(50);
  }
  signalGroup(pid, 'SIGKILL');
  for (let waited = 0; waited < 2_000; waited += 50) {
    if (!isSameProcessAlive(pid, startTime)) return;
    await sleep(50);
  }
  throw new Error(`${name} (pid ${pid}) did not exit after SIGKILL`);
}

/** PIDs whose command line mentions `dir` (postgres -D, redis --dir, prometheus --storage.tsdb.path …). */
function processesUsingPath(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.includes(dir))) pids.push(pid);
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH' && (error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    }
  }
}
