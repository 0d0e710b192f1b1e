/**
 * Durations as people write them in k6 and Kubernetes: "500ms", "20s", "1m30s", "2h".
 * A bare number is rejected on purpose: "20" could mean seconds or milliseconds.
 */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const DURATION = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

export class DurationError extends Error {
  constructor(readonly input: unknown) {
    super(`${JSON.stringify(input)} is not a duration; write it like "500ms", "20s", "1m30s" or "2h"`);
    this.name = 'DurationError';
  }
}

/** Parses a duration string to milliseconds; throws DurationError on anything else. */
export function parseDuration(input: string): number {
  const text = input.trim();
  if (!DURATION.test(text)) throw new DurationError(input);
  let total = 0;
  for (const match of text.matchAll(PART)) total += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return Math.round(total);
}

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
