/**
 * Durations as Flagger and Argo Rollouts write them: Go's `time.ParseDuration` syntax ("30s",
 * "1m", "1m30s", "500ms", "1.5h"), which both controllers use to read their intervals.
 */

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  μs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

const DURATION = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))*$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/**
 * Seconds in a Go duration string, or undefined when the text is not one. Like Go, a unit is
 * required ("30" is not a duration) except for "0"; signs are rejected (an interval cannot be negative).
 */
export function parseGoDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  if (!DURATION.test(trimmed)) return undefined;
  let seconds = 0;
  for (const match of trimmed.matchAll(PART)) {
    seconds += Number(match[1]) * (UNIT_SECONDS[match[2] ?? ''] ?? NaN);
  }
  return Number.isFinite(seconds) ? seconds : undefined;
}

/** 150 → "2m30s", 2 → "2s", 0.5 → "500ms", 3600 → "1h": for reasons people read. */
export function formatDuration(seconds: number): string {
  if (seconds < 1 && seconds > 0) return `${Math.round(seconds * 1000)}ms`;
  let rest = Math.round(seconds);
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  rest -= minutes * 60;
  const parts = [hours ? `${hours}h` : '', minutes ? `${minutes}m` : '', rest || (!hours && !minutes) ? `${rest}s` : ''];
  return parts.join('');
}

/** A PromQL range: whole seconds as "30s", anything finer in milliseconds. */
export function promqlRange(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}
