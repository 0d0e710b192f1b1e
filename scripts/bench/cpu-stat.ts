/**
 * Busy time of one CPU core from /proc/stat, to measure how much of the generator's core other
 * processes used during a run (a busy machine skews a benchmark; the results file says by how much).
 */
import { readFileSync } from 'node:fs';

/** Linux reports /proc/stat in USER_HZ ticks, 100 per second on every mainstream architecture. */
const TICKS_PER_SECOND = 100;

/**
 * Busy seconds (user, nice, system, irq, softirq, steal) of `core` since boot, read from
 * `statText` (the contents of /proc/stat). Throws naming the core when its line is missing.
 */
export function coreBusySeconds(core: number, statText: string = readFileSync('/proc/stat', 'utf8')): number {
  const line = statText.split('\n').find((l) => l.startsWith(`cpu${core} `));
  if (line === undefined) throw new Error(`/proc/stat has no line for cpu${core}: the benchmark needs cores 0 and 1`);
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}
