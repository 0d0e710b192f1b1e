import { describe, expect, it } from 'vitest';
import { formatDuration, parseGoDuration, promqlRange } from './duration.ts';

describe('Go durations', () => {
  it.each([
    ['30s', 30],
    ['1m', 60],
    ['1m30s', 90],
    ['1.5h', 5400],
    ['500ms', 0.5],
    ['0', 0],
    [' 2s ', 2],
  ])('reads %s as %d s', (text, seconds) => {
    expect(parseGoDuration(text)).toBe(seconds);
  });

  it.each(['30', '-1s', '1d', '', 's', '1m 30s', '1e3s'])('rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });

  it('formats seconds for people and for PromQL', () => {
    expect([150, 2, 0.5, 3600, 3661, 0, 61].map(formatDuration)).toEqual(['2m30s', '2s', '500ms', '1h', '1h1m1s', '0s', '1m1s']);
    expect([30, 1.5].map(promqlRange)).toEqual(['30s', '1500ms']);
  });
});
