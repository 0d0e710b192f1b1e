import { describe, expect, it } from 'vitest';
import { resolveScenario } from './engine/resolve.ts';
import soak from './soak.ts';
import spike from './spike.ts';
import web from './web.ts';

describe('web, spike and soak scenarios', () => {
  it('web resolves with routes the reference API serves', () => {
    const resolved = resolveScenario(web);
    expect(resolved).toMatchObject({ executor: 'constant-arrival-rate', ratePerSec: 20, durationMs: 20_000 });
    expect(resolved.requests.map((r) => r.name)).toEqual(['GET /api/contacts', 'GET /api/search', 'GET /health']);
  });

  it('spike resolves to a ramp whose peak is 8 × the baseline', () => {
    const resolved = resolveScenario(spike);
    expect(resolved).toMatchObject({ executor: 'ramping-arrival-rate', ratePerSec: 80, durationMs: 34_000 });
    // 10·10 + 2·45 + 10·80 + 2·45 + 10·10 = 1180.
    expect(resolved.plannedIterations).toBe(1_180);
  });

  it('soak resolves to a long, low constant rate', () => {
    expect(resolveScenario(soak)).toMatchObject({ executor: 'constant-arrival-rate', ratePerSec: 5, durationMs: 3_600_000, plannedIterations: 18_000 });
  });
});
