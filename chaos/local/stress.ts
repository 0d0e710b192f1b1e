import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { ChaosAction, ExperimentRecord } from '../types.ts';
import type { InjectorContext } from './pod-delete.ts';
import { cgroupPids, HarnessCgroup } from './cgroups.ts';
import { processStartTime } from '../../cluster/targets/local/managed-process.ts';
import { sleep } from '../../scripts/util/wait.ts';

/** The process an injector acts on: a replica of the local target (a `Pod` fits). */
export interface ChaosTarget {
  name: string;
  pid: number;
}

/** Litmus pod-cpu-hog: CPU_CORES workers (0: every core, as stress-ng reads it) each loaded at CPU_LOAD %. */
export interface CpuHogSpec {
  name: string;
  cpuCores: number;
  cpuLoad: number;
  durationMs: number;
}

/** Litmus pod-memory-hog: MEMORY_CONSUMPTION megabytes held for TOTAL_CHAOS_DURATION. */
export interface MemoryHogSpec {
  name: string;
  memoryConsumptionMb: number;
  durationMs: number;
}

/** How long the cgroup's own CPU use is measured before the hog starts, for the baseline. */
const BASELINE_MS = 500;
/** stress-ng needs a moment to fork its workers; the rate is measured after it. */
const WARMUP_MS = 700;

/**
 * pod-cpu-hog on a local replica: stress-ng runs inside a harness cgroup around the replica (as
 * Litmus's helper runs inside the pod's cgroup), so the replica competes with it for CPU.
 * Proof of effect: the cgroup's `cpuacct.usage` rate rose by at least half the requested load.
 */
export async function runCpuHog(spec: CpuHogSpec, target: ChaosTarget, ctx: InjectorContext): Promise<ExperimentRecord> {
  const cores = spec.cpuCores === 0 ? os.availableParallelism() : spec.cpuCores;
  const requestedCores = (cores * spec.cpuLoad) / 100;
  return runHog('pod-cpu-hog', spec.name, spec.durationMs, target, ctx, {
    controllers: ['cpu', 'cpuacct'],
    stressArgs: ['--cpu', String(spec.cpuCores), '--cpu-load', String(spec.cpuLoad)],
    describe: `${spec.cpuCores} core(s) at ${spec.cpuLoad} %`,
    async measure(cgroup, stress, signal) {
      const baseline = await cpuRate(cgroup, BASELINE_MS, signal);
      await stress.start();
      await sleep(WARMUP_MS, signal);
      const loaded = await cpuRate(cgroup, Math.max(200, spec.durationMs - BASELINE_MS - WARMUP_MS), signal);
      const rise = loaded - baseline;
      return {
        tookEffect: rise >= requestedCores / 2,
        evidence: `cgroup CPU ${baseline.toFixed(2)} → ${loaded.toFixed(2)} cores (+${rise.toFixed(2)}; requested ${requestedCores.toFixed(2)}, proof needs +${(requestedCores / 2).toFixed(2)})`,
      };
    },
  });
}

/**
 * pod-memory-hog on a local replica: `stress-ng --vm 1 --vm-bytes <MB>M --vm-keep` inside a memory
 * cgroup around the replica. Proof of effect: the cgroup's `memory.usage_in_bytes` rose by at least
 * half of MEMORY_CONSUMPTION (peak over the duration).
 */
export async function runMemoryHog(spec: MemoryHogSpec, target: ChaosTarget, ctx: InjectorContext): Promise<ExperimentRecord> {
  const requested = spec.memoryConsumptionMb * 1024 * 1024;
  return runHog('pod-memory-hog', spec.name, spec.durationMs, target, ctx, {
    controllers: ['memory'],
    stressArgs: ['--vm', '1', '--vm-bytes', `${spec.memoryConsumptionMb}M`, '--vm-keep'],
    describe: `${spec.memoryConsumptionMb} MB`,
    async measure(cgroup, stress, signal) {
      const baseline = cgroup.memoryUsageBytes();
      const end = Date.now() + spec.durationMs;
      await stress.start();
      let peak = baseline;
      // Poll for the peak rather than sampling once: stress-ng's worker maps its memory gradually.
      while (Date.now() < end && !signal.aborted) {
        peak = Math.max(peak, cgroup.memoryUsageBytes());
        await sleep(Math.min(100, Math.max(0, end - Date.now())), signal);
      }
      const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);
      return {
        tookEffect: peak - baseline >= requested / 2,
        evidence: `cgroup memory ${mb(baseline)} → ${mb(peak)} MB peak (+${mb(peak - baseline)}; requested ${spec.memoryConsumptionMb}, proof needs +${mb(requested / 2)})`,
      };
    },
  });
}

interface HogPlan {
  controllers: ('cpu' | 'cpuacct' | 'memory')[];
  stressArgs: string[];
  describe: string;
  /** Starts the stress (via `stress.start()`) and measures its effect until the duration is over. */
  measure: (cgroup: HarnessCgroup, stress: StressProcess, signal: AbortSignal) => Promise<{ tookEffect: boolean; evidence: string }>;
}

async function runHog(experiment: string, name: string, durationMs: number, target: ChaosTarget, ctx: InjectorContext, plan: HogPlan): Promise<ExperimentRecord> {
  const start = Date.now();
  const action: ChaosAction = { at: start, action: `${experiment} ${plan.describe}`, target: `${target.name} (pid ${target.pid})`, tookEffect: false };
  let cgroup: HarnessCgroup | undefined;
  let stress: StressProcess | undefined;
  try {
    cgroup = HarnessCgroup.create({ runId: ctx.runId, name: `${target.name}-${name}`, pid: target.pid, controllers: plan.controllers, ledger: ctx.ledger });
    // stress-ng ends by itself a little after the window, should everything else fail.
    const timeoutS = Math.ceil(durationMs / 1000) + 5;
    stress = StressProcess.prepare([...plan.stressArgs, '--timeout', `${timeoutS}s`], plan.controllers.map((c) => cgroup!.dir(c)), ctx, `${name} stress-ng on ${target.name}`);
    ctx.log(`${name}: ${experiment} ${plan.describe} on ${target.name} (pid ${target.pid}) for ${durationMs} ms`);
    const result = await plan.measure(cgroup, stress, ctx.signal).catch((error: unknown) => {
      if (ctx.signal.aborted) return { tookEffect: false, evidence: 'stopped before the effect was measured' };
      throw error;
    });
    action.tookEffect = result.tookEffect && stress.runningInside(cgroup.dir(plan.controllers[0]!));
    action.evidence = result.evidence;
    // The window lasts TOTAL_CHAOS_DURATION even if measuring ended early.
    const end = start + durationMs;
    if (end > Date.now()) await sleep(end - Date.now(), ctx.signal).catch(() => undefined);
  } catch (error) {
    action.evidence = `failed: ${(error as Error).message}`;
  } finally {
    await stress?.stop();
    await cgroup?.remove();
  }
  const record: ExperimentRecord = { name, experiment, start, end: Date.now(), actions: [action], tookEffect: action.tookEffect };
  if (!action.tookEffect) record.reason = `${action.target}: ${action.evidence ?? 'not measured'}`;
  return record;
}

/** CPU used by the cgroup over `ms`, in cores (1.0 = one core busy all the time). */
async function cpuRate(cgroup: HarnessCgroup, ms: number, signal: AbortSignal): Promise<number> {
  const usage0 = cgroup.cpuUsageNs();
  const t0 = performance.now();
  await sleep(ms, signal);
  return (cgroup.cpuUsageNs() - usage0) / ((performance.now() - t0) * 1e6);
}

/**
 * A stress-ng process started in two steps so that it is in the ledger before it runs: `prepare`
 * spawns a shell that waits on stdin (its PID is known, nothing runs yet) and records it; `start`
 * releases it, it joins the cgroups and execs stress-ng (same PID, same start time), so every
 * stress-ng worker is forked inside the cgroups.
 */
export class StressProcess {
  private readonly exited: Promise<void>;
  private ledgerId: string | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    private readonly ctx: InjectorContext,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static prepare(stressArgs: readonly string[], cgroupDirs: readonly string[], ctx: InjectorContext, description: string): StressProcess {
    // If the harness dies before `start`, stdin closes, `read` fails and the shell exits.
    const script = 'read _ || exit 0; for d in $HARNESS_CGROUPS; do echo $$ > "$d/cgroup.procs" || exit 1; done; exec stress-ng "$@"';
    const child = spawn('sh', ['-c', script, 'stress', ...stressArgs, '--quiet'], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env.PATH, HARNESS_CGROUPS: cgroupDirs.join(' ') },
    });
    if (child.pid === undefined) throw new Error(`${description}: sh could not be started`);
    const stress = new StressProcess(child, child.pid, ctx);
    stress.ledgerId = ctx.ledger.record({
      runId: ctx.runId,
      kind: 'process',
      description,
      revert: { type: 'kill-process', pid: child.pid, startTime: processStartTime(child.pid), name: description },
    });
    return stress;
  }

  /** Lets the shell join the cgroups and exec stress-ng; resolves once stress-ng has its workers. */
  async start(): Promise<void> {
    this.child.stdin?.end('\n');
    for (let waited = 0; waited < 3_000; waited += 20) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`stress-ng exited at once (code ${this.child.exitCode ?? this.child.signalCode})`);
      if (this.command() === 'stress-ng') return;
      await sleep(20);
    }
    throw new Error('stress-ng did not start within 3 s');
  }

  /** True when the stress process is in `dir`'s cgroup.procs (the proof it competes with the target). */
  runningInside(dir: string): boolean {
    return cgroupPids(dir).includes(this.pid);
  }

  /** SIGTERM to its process group (stress-ng stops its workers), SIGKILL after 5 s; removes the ledger entry. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      signalGroup(this.pid, 'SIGTERM');
      const killed = await Promise.race([this.exited.then(() => true), sleep(5_000).then(() => false)]);
      if (!killed) {
        signalGroup(this.pid, 'SIGKILL');
        await this.exited;
      }
    }
    // Workers share the group; make sure none outlives the parent.
    signalGroup(this.pid, 'SIGKILL');
    if (this.ledgerId !== undefined) this.ctx.ledger.remove(this.ledgerId);
  }

  private command(): string | undefined {
    try {
      return readFileSync(`/proc/${this.pid}/comm`, 'utf8').trim();
    } catch {
      return undefined;
    }
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
