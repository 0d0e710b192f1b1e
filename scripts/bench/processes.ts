/**
 * Child processes of the benchmark: each one runs in its own process group pinned to one core, and
 * is killed as a group, so nothing survives a timeout, an error or Ctrl-C (GNU time and taskset do
 * not forward signals to the program they run; killing the group reaches it).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { coreBusySeconds } from './cpu-stat.ts';
import { TIME_FORMAT, parseTimeOutput } from './parse.ts';
import type { ProcessUsage } from './parse.ts';

/** Process groups started and not yet reaped; `killAllGroups` ends them (signal handlers, finally blocks). */
const liveGroups = new Set<number>();

/** Sends SIGKILL to every process group still running. Synchronous, so it also works in an 'exit' handler. */
export function killAllGroups(): void {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

export interface PinnedCommand {
  /** The CPU core (taskset -c) the command and every thread it starts run on. */
  core: number;
  command: string;
  args: readonly string[];
  /** Killed (as a group) after this long; the result then rejects naming the command and the limit. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface MeasuredRun extends ProcessUsage {
  stdout: string;
  stderr: string;
  /**
   * CPU seconds other processes used on the generator's core during the run (core busy time minus
   * the generator's own CPU; ±0.02 s of tick rounding). Near 0 on a quiet machine.
   */
  interferenceSeconds: number;
}

/**
 * Runs `command` pinned to `core` under `/usr/bin/time` and resolves with its output and its CPU
 * seconds, wall time and peak RSS (the generator's own, not taskset's or time's). Rejects when it
 * exits non-zero, times out, or `signal` aborts; the process group is dead in every case.
 */
export async function runPinned(options: PinnedCommand): Promise<MeasuredRun> {
  options.signal?.throwIfAborted();
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-time-'));
  const usageFile = path.join(dir, 'usage');
  try {
    const busyBefore = coreBusySeconds(options.core);
    const child = spawn('taskset', ['-c', String(options.core), '/usr/bin/time', '-f', TIME_FORMAT, '-o', usageFile, options.command, ...options.args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pgid = child.pid;
    if (pgid === undefined) throw new Error(`could not start ${options.command}: is taskset (util-linux) installed?`);
    liveGroups.add(pgid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    let why: string | undefined;
    const stop = (reason: string): void => {
      why ??= reason;
      killGroup(pgid, 'SIGKILL');
    };
    const timer = setTimeout(() => stop(`timed out after ${options.timeoutMs} ms`), options.timeoutMs);
    const onAbort = (): void => stop('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code));
    }).finally(() => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      // The generator may have left children in its group (it should not); end them too.
      killGroup(pgid, 'SIGKILL');
      liveGroups.delete(pgid);
    });
    const commandLine = [options.command, ...options.args].join(' ');
    if (why !== undefined) throw new Error(`${commandLine} ${why}; stderr: ${stderr.slice(-500)}`);
    if (exitCode !== 0) throw new Error(`${commandLine} exited with ${String(exitCode)}; stderr: ${stderr.slice(-500)}`);
    const busy = coreBusySeconds(options.core) - busyBefore;
    const usage = parseTimeOutput(await readFile(usageFile, 'utf8'));
    return { ...usage, stdout, stderr, interferenceSeconds: Math.max(0, busy - usage.cpuSeconds) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A long-running pinned process (nginx): started in its own group, stopped as a group. */
export interface PinnedDaemon {
  pid: number;
  /** Output so far, for error messages. */
  output(): string;
  /** True once it exited. */
  exited(): boolean;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when it exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export function startPinnedDaemon(core: number, command: string, args: readonly string[]): PinnedDaemon {
  const child = spawn('taskset', ['-c', String(core), command, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pgid = child.pid;
  if (pgid === undefined) throw new Error(`could not start ${command}: is taskset (util-linux) installed?`);
  liveGroups.add(pgid);
  let output = '';
  let hasExited = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      output += String(error);
      resolve();
    });
    child.once('close', () => resolve());
  }).then(() => {
    hasExited = true;
  });
  let stopping: Promise<void> | undefined;
  return {
    pid: pgid,
    output: () => output,
    exited: () => hasExited,
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        killGroup(pgid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(pgid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
        // Workers of a master killed hard would be orphaned in the group: make sure.
        killGroup(pgid, 'SIGKILL');
        liveGroups.delete(pgid);
      })();
      return stopping;
    },
  };
}
