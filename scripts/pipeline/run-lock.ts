import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processStartTime } from '../../cluster/targets/local/managed-process.ts';

export class RunLockedError extends Error {
  constructor(
    readonly pid: number,
    readonly lockFile: string,
  ) {
    super(`another run (pid ${pid}) is using this state directory (${lockFile}); wait for it to finish, or give this run its own --state-dir`);
    this.name = 'RunLockedError';
  }
}

/**
 * One run per state directory at a time: the ledger assumes it. A lock left by a harness that no
 * longer runs (SIGKILL) is taken over; its ledger entries are leftovers to revert.
 */
export function acquireRunLock(stateDir: string): () => void {
  const lockFile = path.join(stateDir, 'run.lock');
  try {
    const held = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number; startTime?: number };
    const current = processStartTime(held.pid);
    if (current !== undefined && (held.startTime === undefined || held.startTime === current) && held.pid !== process.pid) throw new RunLockedError(held.pid, lockFile);
  } catch (error) {
    if (error instanceof RunLockedError) throw error;
    // No lock, or an unreadable one: take it.
  }
  writeFileSync(lockFile, JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }));
  return () => rmSync(lockFile, { force: true });
}
