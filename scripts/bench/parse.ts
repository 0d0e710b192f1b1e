/**
 * Readers of what the load generators print, and the statistics the benchmark reports. Each reader
 * throws an Error that names the tool and quotes the output when the figure it needs is missing, so
 * a changed output format fails the benchmark loudly instead of recording a zero.
 */

/** What `/usr/bin/time -f '%e %U %S %M'` writes: wall seconds, user and system CPU seconds, peak RSS in KiB. */
export interface ProcessUsage {
  wallSeconds: number;
  cpuSeconds: number;
  /** The child's peak resident set (getrusage ru_maxrss, the same figure as VmHWM), in MiB. */
  peakRssMiB: number;
}

/** The format string `parseTimeOutput` expects; pass it to `/usr/bin/time -f`. */
export const TIME_FORMAT = 'usage %e %U %S %M';

export function parseTimeOutput(text: string): ProcessUsage {
  // GNU time prefixes "Command exited with non-zero status N" when the child fails; the usage line is last.
  const match = /^usage (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+)$/m.exec(text);
  if (match === null) throw new Error(`/usr/bin/time output has no "${TIME_FORMAT}" line: ${JSON.stringify(text.slice(0, 300))}`);
  const [, wall = '', user = '', system = '', rssKiB = ''] = match;
  return { wallSeconds: Number(wall), cpuSeconds: Number(user) + Number(system), peakRssMiB: Number(rssKiB) / 1024 };
}

/** Requests per second from wrk's summary (`Requests/sec:  12345.67`). */
export function parseWrk(stdout: string): { ratePerSec: number; requests: number; errors: number } {
  const rate = /^Requests\/sec:\s+(\d+(?:\.\d+)?)/m.exec(stdout);
  const total = /^\s*(\d+) requests in /m.exec(stdout);
  if (rate === null || total === null) throw new Error(`wrk output has no "Requests/sec:" or "N requests in" line: ${JSON.stringify(stdout.slice(0, 500))}`);
  // wrk lists socket errors and non-2xx/3xx responses only when there were any.
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return { ratePerSec: Number(rate[1]), requests: Number(total[1]), errors: socketErrors + (non2xx === null ? 0 : Number(non2xx[1])) };
}

/** Requests per second and status counts from hey's default report. */
export function parseHey(stdout: string): { ratePerSec: number; requests: number; errors: number } {
  const rate = /^\s*Requests\/sec:\s+(\d+(?:\.\d+)?)/m.exec(stdout);
  if (rate === null) throw new Error(`hey output has no "Requests/sec:" line: ${JSON.stringify(stdout.slice(0, 500))}`);
  let ok = 0;
  let other = 0;
  for (const [, status, count] of stdout.matchAll(/^\s*\[(\d{3})\]\s+(\d+) responses/gm)) {
    if (status === '200') ok += Number(count);
    else other += Number(count);
  }
  const errorSection = /Error distribution:\n((?:\s+\[\d+\].*\n?)*)/.exec(stdout);
  const errors = errorSection === null ? 0 : [...(errorSection[1] ?? '').matchAll(/\[(\d+)\]/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  return { ratePerSec: Number(rate[1]), requests: ok + other, errors: other + errors };
}

/** Requests per second from `autocannon --json` (total requests over the measured duration). */
export function parseAutocannonJson(stdout: string): { ratePerSec: number; requests: number; errors: number } {
  let parsed: unknown;
  try {
    // autocannon may print a warning line before the JSON; the JSON is the last line.
    const lastLine = stdout.trim().split('\n').pop() ?? '';
    parsed = JSON.parse(lastLine);
  } catch {
    throw new Error(`autocannon --json output is not JSON: ${JSON.stringify(stdout.slice(0, 500))}`);
  }
  const result = parsed as { requests?: { total?: unknown }; duration?: unknown; errors?: unknown; non2xx?: unknown };
  const total = result.requests?.total;
  const duration = result.duration;
  if (typeof total !== 'number' || typeof duration !== 'number' || duration <= 0) {
    throw new Error(`autocannon JSON lacks requests.total or a positive duration: ${JSON.stringify(stdout.slice(0, 500))}`);
  }
  const errors = (typeof result.errors === 'number' ? result.errors : 0) + (typeof result.non2xx === 'number' ? result.non2xx : 0);
  return { ratePerSec: total / duration, requests: total, errors };
}

/** The median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list: every measurement failed or --runs was 0');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
