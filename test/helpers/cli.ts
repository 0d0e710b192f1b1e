import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'scripts/bin/resilience.js');

export interface CliRun {
  child: ChildProcess;
  /** Everything printed so far on stdout and stderr. */
  output: () => string;
  /** Resolves when `text` has been printed, or rejects after `timeoutMs`. */
  waitForOutput: (text: string | RegExp, timeoutMs: number) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

/** Runs the real CLI (`node scripts/bin/resilience.js …`) as a child process. */
export function startCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, CI: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    text += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, output: text }));
  });
  return {
    child,
    output: () => text,
    exited,
    waitForOutput: (pattern, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const matches = (): boolean => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));
        if (matches()) return resolve();
        const check = (): void => {
          if (!matches()) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`expected the CLI to print ${String(pattern)} within ${timeoutMs} ms; it printed:\n${text}`));
        }, timeoutMs);
        const onExit = (): void => {
          cleanup();
          if (matches()) resolve();
          else reject(new Error(`the CLI exited before printing ${String(pattern)}; it printed:\n${text}`));
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('close', onExit);
        };
        listeners.add(check);
        child.once('close', onExit);
      }),
  };
}

/** Runs the CLI to completion. */
export async function runCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; output: string }> {
  const run = startCli(args, options);
  const { code, output } = await run.exited;
  return { code, output };
}

interface LedgerFile {
  entries: { kind: string; description: string; revert: { type: string; pid?: number; path?: string } }[];
}

/** The ledger's entries, or [] when it does not exist yet. */
export function readLedger(stateDir: string): LedgerFile['entries'] {
  const file = path.join(stateDir, 'ledger.json');
  if (!existsSync(file)) return [];
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as LedgerFile).entries;
  } catch {
    return [];
  }
}

/** True if a process with this PID exists (zombies included, which a parent would reap). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Watches the ledger while a run goes on and remembers every process and temp dir it recorded,
 * so a test can check afterwards that all of them are gone.
 */
export function watchResources(stateDir: string): { stop: () => { pids: Map<number, string>; dirs: Set<string> } } {
  const pids = new Map<number, string>();
  const dirs = new Set<string>();
  const timer = setInterval(() => {
    for (const e of readLedger(stateDir)) {
      if (e.revert.type === 'kill-process' && e.revert.pid) pids.set(e.revert.pid, e.description);
      if (e.revert.type === 'remove-dir' && e.revert.path) dirs.add(e.revert.path);
    }
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return { pids, dirs };
    },
  };
}

/** PIDs (other than this process) whose command line contains `needle`. */
export function processesMatching(needle: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && cmdline.includes(needle)) found.push({ pid, cmdline });
    } catch {
      // gone while we looked
    }
  }
  return found;
}
