import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Ledger } from '../ledger.ts';
import { sleep } from '../../scripts/util/wait.ts';

/** The cgroup v1 controllers the local injectors use, each mounted at /sys/fs/cgroup/<controller>. */
export type CgroupController = 'cpu' | 'cpuacct' | 'memory' | 'freezer';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/** Prefix of every cgroup the harness creates, so leftovers are easy to find (`ls /sys/fs/cgroup/* | grep resilience`). */
export const HARNESS_CGROUP_PREFIX = 'resilience-';

/**
 * The cgroup directory `pid` belongs to under `controller` (e.g. /sys/fs/cgroup/memory/process_api/ab12).
 * Throws when the process is gone or the controller is not mounted as v1.
 */
export function cgroupDirOf(pid: number, controller: CgroupController): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  for (const line of lines) {
    // "4:memory:/process_api/ab12"; co-mounted controllers appear as "cpu,cpuacct".
    const [, controllers, relative] = line.split(':');
    if (controllers === undefined || relative === undefined) continue;
    if (controllers.split(',').includes(controller)) return path.join(CGROUP_ROOT, controller, relative).replace(/\/$/, '');
  }
  throw new Error(`process ${pid} has no cgroup v1 ${controller} controller (is ${CGROUP_ROOT}/${controller} mounted?)`);
}

/** PIDs (thread group leaders) in a cgroup directory. */
export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Moves a process (all its threads) into a cgroup directory; false if it has already exited. */
export function movePid(pid: number, dir: string): boolean {
  try {
    writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Undoes a harness cgroup: thaws it (a frozen task must not stay frozen), moves every task back to
 * `originalCgroup`, and removes the directory. Idempotent: a missing directory is already undone.
 * This is the `cgroup-remove` revert of the ledger, so it runs in a later process after a SIGKILL.
 */
export async function removeCgroup(controller: CgroupController, dir: string, originalCgroup: string): Promise<void> {
  if (!existsSync(dir)) return;
  if (controller === 'freezer') thawCgroup(dir);
  // A process forking while we move its siblings can land in the cgroup after our read, and an
  // exiting one keeps the directory busy for a moment: retry until it is empty or the time is up.
  let lastError: unknown;
  for (let attempt = 0; attempt < 40; attempt++) {
    for (const pid of cgroupPids(dir)) movePid(pid, originalCgroup);
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw error;
      lastError = error;
    }
    await sleep(50);
  }
  throw new Error(`cannot remove cgroup ${dir}: ${(lastError as Error).message}; tasks left: ${cgroupPids(dir).join(', ') || 'none'}`);
}

/** Descendants of `pid` (children, grandchildren …), from /proc, so they can follow it into a cgroup. */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const child = Number(name);
    if (!Number.isInteger(child)) continue;
    try {
      const stat = readFileSync(`/proc/${child}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), child]);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

export interface HarnessCgroupOptions {
  runId: string;
  /** Short name of what it holds ("api-1-cpu-hog"); part of the directory name. */
  name: string;
  /** The process to move in, with its current descendants. */
  pid: number;
  controllers: readonly CgroupController[];
  ledger: Ledger;
}

/**
 * A cgroup the harness creates around a target process, under each requested v1 controller:
 * `<the process's current cgroup>/resilience-<runId>-<name>`. For a process in the root cgroup that
 * is /sys/fs/cgroup/<controller>/resilience-<runId>-<name>. Nesting under the current cgroup (rather
 * than always at the root) keeps the process inside whatever limits its supervisor gave it.
 *
 * Each directory is written to the ledger (`cgroup-remove`) before it is created, so a later run or
 * `resilience cleanup` moves the tasks back and removes it if the harness dies.
 */
export class HarnessCgroup {
  private constructor(
    private readonly dirs: ReadonlyMap<CgroupController, { dir: string; original: string; ledgerId: string }>,
    private readonly ledger: Ledger,
  ) {}

  static create(options: HarnessCgroupOptions): HarnessCgroup {
    const dirs = new Map<CgroupController, { dir: string; original: string; ledgerId: string }>();
    const cgroup = new HarnessCgroup(dirs, options.ledger);
    const safeName = `${HARNESS_CGROUP_PREFIX}${options.runId}-${options.name}`.replace(/[^\w.-]/g, '_');
    try {
      for (const controller of options.controllers) {
        const original = cgroupDirOf(options.pid, controller);
        const dir = path.join(original, safeName);
        const ledgerId = options.ledger.record({
          runId: options.runId,
          kind: 'fault',
          description: `cgroup ${dir} around pid ${options.pid}`,
          revert: { type: 'cgroup-remove', controller, path: dir, originalCgroup: original },
        });
        dirs.set(controller, { dir, original, ledgerId });
        mkdirSync(dir);
      }
      cgroup.addPid(options.pid, { withDescendants: true });
    } catch (error) {
      // Leave nothing half made: the caller gets no handle to remove it with.
      void cgroup.remove().catch(() => undefined);
      throw error;
    }
    return cgroup;
  }

  /** The directory under `controller`; throws if this cgroup was not created with it. */
  dir(controller: CgroupController): string {
    const entry = this.dirs.get(controller);
    if (entry === undefined) throw new Error(`this harness cgroup has no ${controller} controller`);
    return entry.dir;
  }

  /** Moves `pid` (and, by default, its current descendants) into every controller's directory. */
  addPid(pid: number, options: { withDescendants?: boolean } = {}): void {
    const pids = options.withDescendants === false ? [pid] : [pid, ...descendantsOf(pid)];
    for (const { dir } of this.dirs.values()) {
      if (!movePid(pid, dir)) throw new Error(`process ${pid} exited before it could be moved into ${dir}`);
      for (const descendant of pids.slice(1)) movePid(descendant, dir);
    }
  }

  pids(controller: CgroupController): number[] {
    return cgroupPids(this.dir(controller));
  }

  /** Total CPU time used by the tasks in the cgroup, in nanoseconds (`cpuacct.usage`). */
  cpuUsageNs(): number {
    return Number(readFileSync(path.join(this.dir('cpuacct'), 'cpuacct.usage'), 'utf8').trim());
  }

  /** Limits the cgroup to `quotaUs` of CPU per `periodUs` (CFS bandwidth): 50 000 / 100 000 is half a core. */
  setCpuQuota(quotaUs: number, periodUs = 100_000): void {
    const dir = this.dir('cpu');
    writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(periodUs));
    writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
  }

  /** Memory charged to the cgroup since its tasks moved in, in bytes (`memory.usage_in_bytes`). */
  memoryUsageBytes(): number {
    return Number(readFileSync(path.join(this.dir('memory'), 'memory.usage_in_bytes'), 'utf8').trim());
  }

  setMemoryLimit(bytes: number): void {
    writeFileSync(path.join(this.dir('memory'), 'memory.limit_in_bytes'), String(bytes));
  }

  /**
   * Moves every task back to where it was and removes the directories (and their ledger entries).
   * Idempotent; tries every controller even when one fails, then throws the first failure.
   */
  async remove(): Promise<void> {
    let firstError: Error | undefined;
    for (const [controller, { dir, original, ledgerId }] of this.dirs) {
      try {
        await removeCgroup(controller, dir, original);
        this.ledger.remove(ledgerId);
      } catch (error) {
        firstError ??= error instanceof Error ? error : new Error(`cannot remove cgroup ${dir}`, { cause: error });
      }
    }
    if (firstError !== undefined) throw firstError;
  }
}

/** Thaws a freezer cgroup directory; a directory already removed counts as thawed. */
export function thawCgroup(dir: string): void {
  try {
    writeFileSync(path.join(dir, 'freezer.state'), 'THAWED');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Freezes a freezer cgroup directory; the kernel finishes freezing asynchronously (see `freezerState`). */
export function freezeCgroup(dir: string): void {
  writeFileSync(path.join(dir, 'freezer.state'), 'FROZEN');
}

/** THAWED, FREEZING (in progress) or FROZEN. */
export function freezerState(dir: string): string {
  return readFileSync(path.join(dir, 'freezer.state'), 'utf8').trim();
}
