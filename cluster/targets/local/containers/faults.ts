import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Ledger } from '../../../../chaos/ledger.ts';
import { waitUntil } from '../../../../scripts/util/wait.ts';
import { docker, inspectContainer, type ContainerState } from './docker.ts';
import type { ServiceContainer } from './services.ts';

/**
 * The local experiments, applied to containers: kill (the pod-delete analogue: the container is
 * killed and started again), pause (freezer, like the process pause) and CPU/memory limits
 * (`docker update`). Each is recorded in the ledger before it is applied and each returns proof
 * read back from Docker and the kernel, never just "the command succeeded".
 *
 * The ledger entries of faults revert with `none`: every container the harness starts has its own
 * `container-remove` entry, and removing the container removes its pause and its limits with it.
 * In a live run the faults are undone explicitly (restart, unpause, update back) and proven.
 */

export interface FaultContext {
  ledger: Ledger;
  runId: string;
}

/** A container's identity at one moment: a restart changes both fields. */
export interface ContainerIncarnation {
  pid: number;
  startedAt: string;
}

export interface KillProof {
  before: ContainerIncarnation;
  after: ContainerIncarnation;
  /** The container was seen not running between the two (the kill took effect). */
  observedDown: boolean;
  /** ms from the kill to the service answering again. */
  recoveredInMs: number;
}

const STATE_TIMEOUT_MS = 15_000;

/**
 * SIGKILLs the container's main process, then starts the same container again (its data in the
 * container's writable layer survives, like a pod's restart) and waits until the service answers.
 * Proven by a new PID and a new start time.
 */
export async function killContainer(target: ServiceContainer, context: FaultContext, options: { readyTimeoutMs?: number; signal?: AbortSignal } = {}): Promise<KillProof> {
  const before = await inspectContainer(target.id);
  if (!before.running) throw new Error(`cannot kill container ${target.name}: it is ${before.status}, not running; start it again or remove it`);
  const entry = context.ledger.record({ runId: context.runId, kind: 'fault', description: `kill container ${target.name} (pid ${before.pid})`, revert: { type: 'none' } });
  try {
    const killedAt = Date.now();
    await docker(['kill', '--signal', 'KILL', target.id]);
    await waitForState(target.id, (s) => !s.running, 'stopped after the kill');
    await docker(['start', target.id]);
    await target.waitReady(options.readyTimeoutMs ?? 60_000, options.signal);
    const after = await inspectContainer(target.id);
    if (after.pid === before.pid || after.startedAt === before.startedAt) {
      throw new Error(`container ${target.name} was not restarted: pid ${before.pid} → ${after.pid}, started ${before.startedAt} → ${after.startedAt}`);
    }
    return { before: incarnation(before), after: incarnation(after), observedDown: true, recoveredInMs: Date.now() - killedAt };
  } finally {
    context.ledger.remove(entry);
  }
}

export interface PausedContainer {
  /** Docker's state while paused (`paused`), read back after the pause. */
  status: string;
  /** The freezer cgroup's state as the kernel reports it (`FROZEN`), when readable. */
  freezerState: string | undefined;
  /** Unpauses and proves it (running, not paused, freezer THAWED). Idempotent. */
  unpause(): Promise<{ status: string; freezerState: string | undefined }>;
}

/** `docker pause` (the cgroup freezer): the service stops answering but keeps its connections. */
export async function pauseContainer(target: ServiceContainer, context: FaultContext): Promise<PausedContainer> {
  const state = await inspectContainer(target.id);
  if (!state.running || state.paused) throw new Error(`cannot pause container ${target.name}: it is ${state.status}; only a running, unpaused container can be paused`);
  const entry = context.ledger.record({ runId: context.runId, kind: 'fault', description: `pause container ${target.name}`, revert: { type: 'none' } });
  try {
    await docker(['pause', target.id]);
  } catch (error) {
    context.ledger.remove(entry);
    throw error;
  }
  const paused = await waitForState(target.id, (s) => s.paused, 'paused');
  let unpausing: Promise<{ status: string; freezerState: string | undefined }> | undefined;
  return {
    status: paused.status,
    freezerState: readCgroupFile(state.pid, 'freezer', 'freezer.state'),
    unpause: () =>
      (unpausing ??= (async () => {
        await docker(['unpause', target.id]);
        const resumed = await waitForState(target.id, (s) => s.running && !s.paused, 'running again');
        context.ledger.remove(entry);
        return { status: resumed.status, freezerState: readCgroupFile(resumed.pid, 'freezer', 'freezer.state') };
      })()),
  };
}

export interface ResourceLimits {
  /** CPUs (0.5 = half a core). */
  cpus?: number;
  /** Memory limit in bytes (swap limited to the same, so the limit is real). */
  memoryBytes?: number;
}

export interface LimitProof {
  /** HostConfig as Docker reports it after the update. */
  nanoCpus: number;
  memoryBytes: number;
  /** The kernel's view: cpu.cfs_quota_us / cpu.cfs_period_us and memory.limit_in_bytes of the container's cgroup. */
  cgroup: { cfsQuotaUs: number | undefined; cfsPeriodUs: number | undefined; memoryLimitBytes: number | undefined };
}

export interface LimitedContainer extends LimitProof {
  /**
   * Restores the previous limits. Docker cannot lift a limit once set (0 means "unchanged" to
   * `docker update`), so a container that had none gets the host's capacity instead: all CPUs and
   * all memory, which limits nothing. Returns the proof of the restored values. Idempotent.
   */
  revert(): Promise<LimitProof>;
}

/** Applies CPU and/or memory limits with `docker update`, proven from HostConfig and the cgroup files. */
export async function limitContainer(target: ServiceContainer, limits: ResourceLimits, context: FaultContext): Promise<LimitedContainer> {
  if (limits.cpus === undefined && limits.memoryBytes === undefined) throw new Error('limitContainer needs cpus or memoryBytes; neither was given');
  if (limits.cpus !== undefined && !(limits.cpus > 0 && limits.cpus <= os.availableParallelism())) {
    throw new Error(`cpus must be > 0 and at most the host's ${os.availableParallelism()} CPUs, got ${limits.cpus}`);
  }
  // Docker refuses memory limits below 6 MiB.
  if (limits.memoryBytes !== undefined && !(Number.isInteger(limits.memoryBytes) && limits.memoryBytes >= 6 * 2 ** 20)) {
    throw new Error(`memoryBytes must be an integer of at least 6291456 (6 MiB), got ${limits.memoryBytes}`);
  }
  const original = await inspectContainer(target.id);
  const entry = context.ledger.record({ runId: context.runId, kind: 'fault', description: `limit container ${target.name} (${describeLimits(limits)})`, revert: { type: 'none' } });
  try {
    await docker(['update', ...updateArgs(limits.cpus, limits.memoryBytes), target.id]);
  } catch (error) {
    context.ledger.remove(entry);
    throw error;
  }
  const proof = await readLimits(target.id);
  let reverting: Promise<LimitProof> | undefined;
  return {
    ...proof,
    revert: () =>
      (reverting ??= (async () => {
        const cpus = limits.cpus === undefined ? undefined : original.nanoCpus > 0 ? original.nanoCpus / 1e9 : os.availableParallelism();
        const memory = limits.memoryBytes === undefined ? undefined : original.memoryBytes > 0 ? original.memoryBytes : pageAligned(os.totalmem());
        // An explicit swap limit (not -1, which `docker update` ignores): runc then raises
        // memory.memsw.limit_in_bytes before memory.limit_in_bytes, as cgroup v1 requires.
        const swap = original.memorySwapBytes > 0 ? original.memorySwapBytes : memory;
        await docker(['update', ...updateArgs(cpus, memory, swap), target.id]);
        context.ledger.remove(entry);
        return readLimits(target.id);
      })()),
  };
}

/** `docker update` flags; swap defaults to the memory limit (no swap beyond it, so the limit really bounds the container). */
function updateArgs(cpus: number | undefined, memoryBytes: number | undefined, swapBytes: number | undefined = memoryBytes): string[] {
  const args: string[] = [];
  if (cpus !== undefined) args.push('--cpus', String(cpus));
  if (memoryBytes !== undefined) args.push('--memory', String(memoryBytes), '--memory-swap', String(swapBytes));
  return args;
}

function pageAligned(bytes: number): number {
  return Math.floor(bytes / 4096) * 4096;
}

async function readLimits(id: string): Promise<LimitProof> {
  const state = await inspectContainer(id);
  const number = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));
  return {
    nanoCpus: state.nanoCpus,
    memoryBytes: state.memoryBytes,
    cgroup: {
      cfsQuotaUs: number(readCgroupFile(state.pid, 'cpu', 'cpu.cfs_quota_us')),
      cfsPeriodUs: number(readCgroupFile(state.pid, 'cpu', 'cpu.cfs_period_us')),
      memoryLimitBytes: number(readCgroupFile(state.pid, 'memory', 'memory.limit_in_bytes')),
    },
  };
}

/**
 * Reads a cgroup v1 control file of the process's own cgroup (from /proc/<pid>/cgroup, so any
 * cgroup parent or driver works); undefined on cgroup v2 or when unreadable.
 */
export function readCgroupFile(pid: number, controller: string, file: string): string | undefined {
  try {
    for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
      const [, controllers, cgroupPath] = line.split(':');
      if (controllers === undefined || cgroupPath === undefined || !controllers.split(',').includes(controller)) continue;
      const mount = controller === 'cpu' ? '/sys/fs/cgroup/cpu,cpuacct' : `/sys/fs/cgroup/${controller}`;
      for (const base of [mount, `/sys/fs/cgroup/${controller}`]) {
        try {
          return readFileSync(`${base}${cgroupPath}/${file}`, 'utf8').trim();
        } catch {
          // try the next mount layout
        }
      }
    }
  } catch {
    // the process is gone
  }
  return undefined;
}

async function waitForState(id: string, predicate: (state: ContainerState) => boolean, what: string): Promise<ContainerState> {
  return waitUntil(
    async () => {
      const state = await inspectContainer(id);
      return predicate(state) ? state : undefined;
    },
    { what: `container ${id.slice(0, 12)} ${what}`, timeoutMs: STATE_TIMEOUT_MS, intervalMs: 50 },
  );
}

function incarnation(state: ContainerState): ContainerIncarnation {
  return { pid: state.pid, startedAt: state.startedAt };
}

function describeLimits(limits: ResourceLimits): string {
  return [limits.cpus !== undefined ? `${limits.cpus} CPUs` : '', limits.memoryBytes !== undefined ? `${limits.memoryBytes} bytes of memory` : ''].filter(Boolean).join(', ');
}
