import { parseDuration } from '../../scenarios/types.ts';

/**
 * Durations as people write them in k6 and Kubernetes: "500ms", "20s", "1m30s", "2h". The parser
 * is the scenario model's (one grammar for scenarios and config); this module adds the helpers
 * config validation and printing need.
 */
export { parseDuration };

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** True when `input` parses as a duration. */
export function isDuration(input: unknown): input is string {
  if (typeof input !== 'string') return false;
  try {
    parseDuration(input);
    return true;
  } catch {
    return false;
  }
}

/** 1500 → "1.5s", 90000 → "1m30s": the shortest exact form, for plans and reports. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = ms;
  const hours = Math.floor(rest / UNIT_MS.h);
  if (hours) parts.push(`${hours}h`);
  rest -= hours * UNIT_MS.h;
  const minutes = Math.floor(rest / UNIT_MS.m);
  if (minutes) parts.push(`${minutes}m`);
  rest -= minutes * UNIT_MS.m;
  if (rest) parts.push(`${Number((rest / 1_000).toFixed(3))}s`);
  return parts.join('');
}
