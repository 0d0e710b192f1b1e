import { describe, expect, it } from 'vitest';
import { planPhases } from './plan.ts';

describe('planPhases', () => {
  it('cuts the load into baseline, one window per experiment, recovery and overall', () => {
    expect(planPhases(24_000, [{ name: 'pod-delete', startAfterMs: 6_000, durationMs: 10_000 }])).toEqual([
      { name: 'baseline', kind: 'baseline', startMs: 0, endMs: 6_000 },
      { name: 'pod-delete', kind: 'experiment', startMs: 6_000, endMs: 16_000 },
      { name: 'recovery', kind: 'recovery', startMs: 16_000, endMs: 24_000 },
      { name: 'overall', kind: 'overall', startMs: 0, endMs: 24_000 },
    ]);
  });

  it('gives overlapping experiments their own windows; recovery starts after the last one ends', () => {
    const phases = planPhases(60_000, [
      { name: 'a', startAfterMs: 10_000, durationMs: 30_000 },
      { name: 'b', startAfterMs: 20_000, durationMs: 30_000 },
    ]);
    expect(phases.map((p) => `${p.name}:${p.startMs}-${p.endMs}`)).toEqual(['baseline:0-10000', 'a:10000-40000', 'b:20000-50000', 'recovery:50000-60000', 'overall:0-60000']);
  });

  it('without chaos judges baseline and overall; a fault at the very start has no baseline', () => {
    expect(planPhases(10_000, []).map((p) => p.name)).toEqual(['baseline', 'overall']);
    expect(planPhases(10_000, [{ name: 'x', startAfterMs: 0, durationMs: 5_000 }]).map((p) => p.name)).toEqual(['x', 'recovery', 'overall']);
  });
});
