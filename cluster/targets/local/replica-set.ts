import { matchesLabelSelector } from '../../../chaos/litmus/experiments.ts';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ManagedProcess } from './managed-process.ts';
import type { Ledger } from '../../../chaos/ledger.ts';
import type { PodControl } from '../../../chaos/types.ts';
import { sleep, waitUntil } from '../../../scripts/util/wait.ts';

/** How long a container may take to die of killContainer's signal before the kill counts as failed. */
const KILL_GRACE_MS = 5_000;

/** A replica as chaos and reports see it: a pod, in Kubernetes words. */
export interface Pod {
  /** Changes with every restart, like a pod recreated by its ReplicaSet: "hastecrm-api-3f9k2". */
  name: string;
  labels: Record<string, string>;
  slot: number;
  port: number;
  pid: number;
  ready: boolean;
  startedAt: number;
  /** Container restarts of this pod (container-kill restarts in place, keeping the pod's name). */
  restarts: number;
}

export interface ReplicaSetSpec {
  /** "hastecrm-api": also the prefix of pod names and the value of the `app` label. */
  app: string;
  replicas: number;
  ports: readonly number[];
  command: string;
  /** Arguments and environment for the replica in `slot` listening on `port`. */
  args: readonly string[];
  env: (slot: number, port: number) => Record<string, string | undefined>;
  /** GET this path answers 200 when the replica is ready. */
  readyPath: string;
  readyTimeoutMs: number;
  logDir: string;
  runId: string;
  ledger: Ledger;
  log: (message: string) => void;
}

interface Slot {
  index: number;
  port: number;
  pod: Pod | undefined;
  process: ManagedProcess | undefined;
  ledgerId: string | undefined;
  restarts: number;
  /** Set by killContainer: the next launch keeps this pod's name, as a container restart keeps its pod. */
  restartInPlace: { name: string; restarts: number } | undefined;
}

/**
 * Keeps N replicas of a command running, as a Deployment's ReplicaSet would: a replica that exits
 * (deleted by chaos, or crashed) is replaced at once by a new one with a new name and PID. A
 * replica that keeps crashing right after start is restarted with a growing delay (CrashLoopBackOff).
 *
 * `stop()` is idempotent: it stops restarting, then stops every replica gracefully.
 */
export class ReplicaSet implements PodControl {
  private readonly slots: Slot[];
  private stopped = false;
  private readonly pending = new Set<Promise<void>>();
  private readonly readyWaiters = new Set<() => void>();

  constructor(private readonly spec: ReplicaSetSpec) {
    this.slots = Array.from({ length: spec.replicas }, (_, index) => ({
      index,
      port: spec.ports[index] ?? 0,
      pod: undefined,
      process: undefined,
      ledgerId: undefined,
      restarts: 0,
      restartInPlace: undefined,
    }));
  }

  /** Starts every replica and waits until all are ready, or throws with the failing replica's log. */
  async start(signal: AbortSignal): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.launch(slot, signal)));
  }

  /** Current pods, matching every label of `selector` when one is given. */
  pods(selector: Record<string, string> = {}): Pod[] {
    return this.slots.flatMap((slot) => (slot.pod && matchesLabelSelector(slot.pod.labels, selector) ? [{ ...slot.pod }] : []));
  }

  restartCount(): number {
    return this.slots.reduce((sum, slot) => sum + slot.restarts, 0);
  }

  /** Endpoints as host:port for scrape configs and the ingress. */
  endpoints(): string[] {
    return this.slots.map((slot) => `127.0.0.1:${slot.port}`);
  }

  /**
   * Deletes a pod: SIGTERM (graceful, like `kubectl delete pod`) or SIGKILL when `force`.
   * Resolves once the process has exited; its replacement is started by the ReplicaSet.
   */
  async deletePod(name: string, force: boolean): Promise<Pod> {
    const slot = this.slots.find((s) => s.pod?.name === name);
    if (!slot?.process || !slot.pod) throw new Error(`no pod named ${name}`);
    const victim = { ...slot.pod };
    const exited = slot.process.exited;
    slot.process.kill(force ? 'SIGKILL' : 'SIGTERM');
    await exited;
    return victim;
  }

  /**
   * Kills a pod's container with `signal` (Litmus's container-kill): the pod stays, its container
   * is restarted in place (same pod name, new PID, restart count + 1), as the kubelet would.
   * Resolves once the process has exited; throws when it is still running {@link KILL_GRACE_MS} later.
   */
  async killContainer(name: string, signal: NodeJS.Signals): Promise<Pod> {
    const slot = this.slots.find((s) => s.pod?.name === name);
    if (!slot?.process || !slot.pod) throw new Error(`no pod named ${name}`);
    const victim = { ...slot.pod };
    slot.restartInPlace = { name: victim.name, restarts: victim.restarts + 1 };
    const proc = slot.process;
    proc.kill(signal);
    const died = await Promise.race([proc.exited.then(() => true), sleep(KILL_GRACE_MS).then(() => false)]);
    if (!died) {
      // A signal the process survives (e.g. SIGUSR2) is not a kill. Forget the in-place restart,
      // or the pod's next real death would wrongly keep its name and count as a container restart.
      if (slot.process === proc) slot.restartInPlace = undefined;
      throw new Error(`${victim.name} (pid ${victim.pid}) was still running ${KILL_GRACE_MS} ms after ${signal}: the signal did not kill its container`);
    }
    return victim;
  }

  /** Waits until `previous`'s container runs again (same pod name, new PID) and is ready. */
  async waitForContainerRestart(previous: Pod, timeoutMs: number, signal?: AbortSignal): Promise<Pod> {
    const slot = this.slots[previous.slot];
    if (!slot) throw new Error(`no slot ${previous.slot}`);
    return waitUntil(() => (slot.pod && slot.pod.name === previous.name && slot.pod.pid !== previous.pid && slot.pod.ready ? { ...slot.pod } : undefined), {
      what: `the container of pod ${previous.name} to restart`,
      timeoutMs,
      ...(signal ? { signal } : {}),
    });
  }

  /** Waits until the slot of `previous` runs a new, ready pod; returns it. */
  async waitForReplacement(previous: Pod, timeoutMs: number, signal?: AbortSignal): Promise<Pod> {
    const slot = this.slots[previous.slot];
    if (!slot) throw new Error(`no slot ${previous.slot}`);
    return waitUntil(() => (slot.pod && slot.pod.name !== previous.name && slot.pod.ready ? { ...slot.pod } : undefined), {
      what: `a replacement for pod ${previous.name}`,
      timeoutMs,
      ...(signal ? { signal } : {}),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of this.readyWaiters) wake();
    await Promise.all(
      this.slots.map(async (slot) => {
        await slot.process?.stop({ graceMs: 5_000 });
        this.forget(slot);
      }),
    );
    await Promise.all([...this.pending]);
  }

  private async launch(slot: Slot, signal?: AbortSignal): Promise<void> {
    const inPlace = slot.restartInPlace;
    slot.restartInPlace = undefined;
    const name = inPlace?.name ?? `${this.spec.app}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const proc = await ManagedProcess.start({
      name,
      command: this.spec.command,
      args: this.spec.args,
      env: this.spec.env(slot.index, slot.port),
      logFile: path.join(this.spec.logDir, `${this.spec.app}-${slot.index}.log`),
    });
    slot.process = proc;
    slot.ledgerId = this.spec.ledger.record({
      runId: this.spec.runId,
      kind: 'process',
      description: `replica ${name} (pid ${proc.pid})`,
      revert: { type: 'kill-process', pid: proc.pid, startTime: proc.startTime, name },
    });
    slot.pod = { name, labels: { app: this.spec.app }, slot: slot.index, port: slot.port, pid: proc.pid, ready: false, startedAt: Date.now(), restarts: inPlace?.restarts ?? 0 };
    const watch = proc.exited.then(() => this.onExit(slot, proc));
    this.track(watch);
    // A replica that exits before it is ready fails the wait at once, not at the deadline.
    const exitedEarly = new AbortController();
    void proc.exited.then(() => exitedEarly.abort(new Error(`${name} exited (${describeExit(proc)}) before it was ready`)));
    try {
      await waitUntil(() => this.probeReady(slot.port), {
        what: `${name} on 127.0.0.1:${slot.port}${this.spec.readyPath}`,
        timeoutMs: this.spec.readyTimeoutMs,
        intervalMs: 25,
        signal: signal ? AbortSignal.any([signal, exitedEarly.signal]) : exitedEarly.signal,
      });
    } catch (error) {
      const tail = await proc.logTail();
      throw new Error(`${(error as Error).message}${tail ? `\n--- ${name} log (last lines) ---\n${tail}` : ''}`, { cause: error });
    }
    // The pod may have been replaced meanwhile (same name after a container restart): compare PIDs.
    if (slot.pod?.pid === proc.pid) slot.pod.ready = true;
  }

  private onExit(slot: Slot, proc: ManagedProcess): void {
    if (slot.process !== proc) return;
    this.forget(slot);
    if (this.stopped) return;
    slot.restarts += 1;
    const uptime = Date.now() - (slot.pod?.startedAt ?? 0);
    slot.pod = undefined;
    // A replica that dies within 2 s of its start is crash-looping: back off 1 s, 2 s … 10 s.
    const crashLoop = uptime < 2_000;
    const delay = crashLoop ? Math.min(10_000, 1_000 * 2 ** Math.min(slot.restarts - 1, 4)) : 0;
    const restart = (async () => {
      if (delay > 0) {
        this.spec.log(`${this.spec.app} slot ${slot.index} exited ${uptime} ms after start (${describeExit(proc)}); restarting in ${delay} ms`);
        await this.sleepUnlessStopped(delay);
      }
      if (this.stopped) return;
      await this.launch(slot).catch((error: unknown) => {
        if (!this.stopped) this.spec.log(`${this.spec.app} slot ${slot.index}: restart failed: ${(error as Error).message.split('\n')[0]}`);
        // If the new process is still running but not ready, leave it: readiness may come later.
      });
    })();
    this.track(restart);
  }

  private forget(slot: Slot): void {
    if (slot.ledgerId) this.spec.ledger.remove(slot.ledgerId);
    slot.ledgerId = undefined;
    slot.process = undefined;
  }

  private async sleepUnlessStopped(ms: number): Promise<void> {
    await Promise.race([sleep(ms), new Promise<void>((resolve) => this.readyWaiters.add(resolve))]);
  }

  private track(promise: Promise<void>): void {
    const settled = promise.catch((error: unknown) => this.spec.log(`${this.spec.app}: ${(error as Error).message}`));
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
  }

  private async probeReady(port: number): Promise<boolean> {
    const response = await fetch(`http://127.0.0.1:${port}${this.spec.readyPath}`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.status === 200;
  }
}


function describeExit(proc: ManagedProcess): string {
  const status = proc.exitStatus;
  if (!status) return 'running';
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}
