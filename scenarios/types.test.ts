import { describe, expect, it } from 'vitest';
import { defineScenario, parseDuration } from './types.ts';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['20s', 20_000],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1_500],
    [' 2s ', 2_000],
    ['0', 0],
    ['0s', 0],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '20', 's', '-1s', '1d', '1 s', '10sec', '1m30', 'abc', '1e3ms'])('rejects %j, naming it and the expected form', (text) => {
    expect(() => parseDuration(text)).toThrow(`invalid duration ${JSON.stringify(text)}`);
    expect(() => parseDuration(text)).toThrow('e.g. "500ms", "20s", "1m30s"');
  });
});

describe('defineScenario', () => {
  it('returns the definition unchanged', () => {
    const def = { name: 'x', executor: 'constant-arrival-rate', rate: 1, duration: '1s', preAllocatedVUs: 1, requests: [] } as const;
    expect(defineScenario(def)).toBe(def);
  });
});
