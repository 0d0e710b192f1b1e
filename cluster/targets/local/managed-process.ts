import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { sleep } from '../../../scripts/util/wait.ts';

export interface ProcessSpec {
  /** Short name used in logs and error messages ("postgres", "api-1"). */
  name: string;
  command: string;
  args: readonly string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** stdout and stderr are appended here; the tail is shown when the process fails to start. */
  logFile: string;
  /** Run as this user (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A child process the harness owns. It runs in its own process group (detached), so a Ctrl-C in
 * the terminal reaches only the harness, which then stops its children in order.
 *
 * `stop()` is idempotent and safe to call concurrently; it resolves once the process has exited.
 */
export class ManagedProcess {
  readonly pid: number;
  /** Kernel start time of the process (clock ticks since boot), to tell it apart from a reused PID. */
  readonly startTime: number | undefined;
  readonly exited: Promise<ProcessExit>;
  private exitInfo: ProcessExit | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly spec: ProcessSpec,
    private readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`${spec.name}: no pid`);
    this.pid = child.pid;
    this.startTime = processStartTime(this.pid);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  /**
   * Starts the process. Rejects when the binary cannot be executed (ENOENT, EACCES), so a missing
   * binary is reported at once rather than as a readiness timeout.
   */
  static async start(spec: ProcessSpec): Promise<ManagedProcess> {
    const fd = openSync(spec.logFile, 'a');
    try {
      const child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env ? cleanEnv(spec.env) : process.env,
        stdio: ['ignore', fd, fd],
        detached: true,
        ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
        ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (error) => reject(new Error(`${spec.name}: cannot start ${spec.command}: ${error.message}`, { cause: error })));
      });
      return new ManagedProcess(spec, child);
    } finally {
      closeSync(fd);
    }
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exitStatus(): ProcessExit | undefined {
    return this.exitInfo;
  }

  /** Sends a signal to the process (not its group); a no-op once it has exited. */
  kill(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /** SIGTERM (or `signal`), then SIGKILL to the whole group after `graceMs`. Resolves on exit. */
  stop(options: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.running) return;
      this.kill(options.signal ?? 'SIGTERM');
      const graceMs = options.graceMs ?? 5_000;
      const exitedInTime = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!exitedInTime) {
        killGroup(this.pid, 'SIGKILL');
        await this.exited;
      }
    })();
    return this.stopping;
  }

  /** The last `lines` lines of the process's log, for error messages. */
  async logTail(lines = 15): Promise<string> {
    try {
      const text = await readFile(this.spec.logFile, 'utf8');
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

function cleanEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot. Together with
 * the PID it identifies a process across PID reuse. Undefined when the process is gone.
 */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const value = Number(fields[19]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
