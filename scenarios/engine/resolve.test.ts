import { describe, expect, it } from 'vitest';
import type { ScenarioDefinition } from '../types.ts';
import { ScenarioValidationError, resolveScenario } from './resolve.ts';

const valid: ScenarioDefinition = {
  name: 'api',
  executor: 'constant-arrival-rate',
  rate: 50,
  duration: '20s',
  preAllocatedVUs: 20,
  requests: [{ name: 'GET /', weight: 1, method: 'GET', path: '/' }],
};

function problemsOf(def: unknown): readonly string[] {
  try {
    resolveScenario(def as ScenarioDefinition);
  } catch (error) {
    if (error instanceof ScenarioValidationError) return error.problems;
    throw error;
  }
  throw new Error('expected resolveScenario to throw a ScenarioValidationError');
}

describe('resolveScenario', () => {
  it('fills in k6’s defaults', () => {
    const resolved = resolveScenario(valid);
    expect(resolved).toMatchObject({ ratePerSec: 50, intervalMs: 20, durationMs: 20_000, plannedIterations: 1_000, maxVUs: 20, gracefulStopMs: 30_000 });
    const [request] = resolved.requests;
    expect(request?.timeoutMs).toBe(60_000);
    expect([199, 200, 302, 399, 400, 500].map((s) => request?.isExpected[s])).toEqual([0, 1, 1, 1, 0, 0]);
    expect(request?.isExpected[0], 'a network error (status 0) is never expected').toBe(0);
  });

  it('converts rate per timeUnit to per second, and applies overrides in per-second and milliseconds', () => {
    expect(resolveScenario({ ...valid, rate: 120, timeUnit: '1m' }).ratePerSec).toBe(2);
    const overridden = resolveScenario({ ...valid, rate: 120, timeUnit: '1m' }, { rate: 200, durationMs: 3_000 });
    expect(overridden).toMatchObject({ ratePerSec: 200, durationMs: 3_000, plannedIterations: 600 });
  });

  it('schedules iterations at 0, interval, … strictly before the end', () => {
    expect(resolveScenario({ ...valid, rate: 3, duration: '1s' }).plannedIterations).toBe(3);
    expect(resolveScenario({ ...valid, rate: 3, duration: '1100ms' }).plannedIterations).toBe(4);
    expect(resolveScenario({ ...valid, rate: 1, duration: '500ms' }).plannedIterations).toBe(1);
  });

  it('serialises a static body once and sets content-type, keeping a body function as is', () => {
    const bodyFn = (): { n: number } => ({ n: 1 });
    const resolved = resolveScenario({
      ...valid,
      requests: [
        { name: 'a', weight: 1, method: 'POST', path: '/a', body: { x: 1 }, headers: { 'X-Trace': 't' } },
        { name: 'b', weight: 3, method: 'POST', path: '/b', body: bodyFn, headers: { 'Content-Type': 'application/merge-patch+json' } },
      ],
    });
    expect(resolved.requests[0]).toMatchObject({ body: '{"x":1}', headers: { 'x-trace': 't', 'content-type': 'application/json' } });
    expect(resolved.requests[1]).toMatchObject({ body: bodyFn, headers: { 'content-type': 'application/merge-patch+json' } });
    expect([...resolved.cumulativeWeights]).toEqual([1, 4]);
    expect(resolved.totalWeight).toBe(4);
  });

  it('reports every problem at once, each naming its field', () => {
    const problems = problemsOf({
      name: '',
      executor: 'constant-arrival-rate',
      rate: 0,
      duration: '20',
      preAllocatedVUs: 5,
      maxVUs: 2,
      gracefulStop: 'soon',
      tags: { name: 'x', 'bad-label': 'y' },
      requests: [
        { name: 'GET /', weight: 0, method: 'FETCH', path: 'no-slash', timeoutMs: -1, expectedStatuses: [{ min: 300, max: 200 }] },
        { name: 'GET /', weight: 1, method: 'FETCH', path: '/' },
      ],
    });
    const expected = [
      /^name: must be a non-empty string$/,
      /^rate: must be a positive number/,
      /^duration: invalid duration "20"/,
      /^gracefulStop: invalid duration "soon"/,
      /^maxVUs \(2\) must be ≥ preAllocatedVUs \(5\)$/,
      /^tags\.name: reserved/,
      /^tags\.bad-label: not a valid Prometheus label name$/,
      /^requests\[0\] \("GET \/"\)\.method: "FETCH" is not one of/,
      /^requests\[0\] \("GET \/"\)\.weight: must be a positive number, got 0$/,
      /^requests\[0\] \("GET \/"\)\.path: must start with "\/"/,
      /^requests\[0\] \("GET \/"\)\.timeoutMs: must be a positive number, got -1$/,
      /^requests\[0\] \("GET \/"\)\.expectedStatuses: .* is not a status or a \{min, max\} range/,
      /^requests\[1\] \("GET \/"\): a request with this name and method is already listed$/,
    ];
    for (const pattern of expected) expect(problems.some((p) => pattern.test(p)), `expected a problem matching ${pattern}, got:\n${problems.join('\n')}`).toBe(true);
  });

  it('rejects an empty request mix and bad overrides', () => {
    expect(problemsOf({ ...valid, requests: [] })).toEqual(['requests: must list at least one request']);
    expect(() => resolveScenario(valid, { rate: -5 })).toThrow(/rate override: must be a positive number of iterations per second, got -5/);
    expect(() => resolveScenario(valid, { durationMs: 0 })).toThrow(/duration override: must be a positive number of milliseconds, got 0/);
  });

  it('names an unknown executor and lists the known ones', () => {
    expect(problemsOf({ ...valid, executor: 'externally-controlled' })).toEqual([
      'executor: "externally-controlled" is not one of "constant-arrival-rate", "ramping-arrival-rate", "constant-vus", "ramping-vus", "per-vu-iterations", "shared-iterations"',
    ]);
  });

  const requests = valid.requests;
  it('resolves every executor with k6’s defaults', () => {
    const perVu = resolveScenario({ name: 'p', executor: 'per-vu-iterations', requests });
    expect(perVu).toMatchObject({ schedule: { model: 'closed', vus: 1, iterations: 1 }, durationMs: 600_000, plannedIterations: 1, maxVUs: 1, gracefulStopMs: 30_000, startTimeMs: 0 });
    expect(resolveScenario({ name: 's', executor: 'shared-iterations', vus: 4, iterations: 10, startTime: '5s', requests })).toMatchObject({ plannedIterations: 10, maxVUs: 4, startTimeMs: 5_000 });
    expect(resolveScenario({ name: 'v', executor: 'per-vu-iterations', vus: 3, iterations: 4, requests }).plannedIterations).toBe(12);
    expect(resolveScenario({ name: 'c', executor: 'constant-vus', vus: 5, duration: '1m', requests })).toMatchObject({ schedule: { vus: 5 }, durationMs: 60_000, maxVUs: 5, ratePerSec: 0 });
    const ramping = resolveScenario({ name: 'r', executor: 'ramping-vus', stages: [{ duration: '10s', target: 8 }, { duration: '5s', target: 2 }], requests });
    expect(ramping).toMatchObject({ schedule: { startVUs: 1, gracefulRampDownMs: 30_000 }, durationMs: 15_000, maxVUs: 8 });
    const arrival = resolveScenario({ name: 'a', executor: 'ramping-arrival-rate', timeUnit: '1m', preAllocatedVUs: 2, stages: [{ duration: '10s', target: 600 }, { duration: '10s', target: 600 }], requests });
    // 0 → 10/s over 10 s (50 iterations), then 10/s for 10 s (100).
    expect(arrival).toMatchObject({ schedule: { startRatePerSec: 0 }, ratePerSec: 10, durationMs: 20_000, plannedIterations: 150, maxVUs: 2 });
  });

  it('scales ramping-arrival-rate stages for overrides, and rejects overrides for the VU executors', () => {
    const def: ScenarioDefinition = { name: 'a', executor: 'ramping-arrival-rate', startRate: 10, preAllocatedVUs: 2, stages: [{ duration: '10s', target: 50 }, { duration: '30s', target: 10 }], requests };
    const resolved = resolveScenario(def, { rate: 100, durationMs: 4_000 });
    expect(resolved.schedule).toEqual({ model: 'open', executor: 'ramping-arrival-rate', startRatePerSec: 20, stages: [{ durationMs: 1_000, target: 100 }, { durationMs: 3_000, target: 20 }] });
    expect(resolved.ratePerSec).toBe(100);
    expect(() => resolveScenario({ name: 'c', executor: 'constant-vus', vus: 1, duration: '1s', requests }, { rate: 5 })).toThrow(/overrides \(--rate\/--duration\): only the arrival-rate executors can be overridden, scenario "c" uses constant-vus/);
  });

  it('reports every executor option problem with its field', () => {
    expect(problemsOf({ name: 'r', executor: 'ramping-vus', startVUs: -1, gracefulRampDown: 'x', stages: [{ duration: 'later', target: 1.5 }], requests })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^startVUs: must be an integer ≥ 0, got -1$/),
        expect.stringMatching(/^stages\[0\]\.duration: invalid duration "later"/),
        expect.stringMatching(/^stages\[0\]\.target: must be a whole number of VUs, got 1\.5$/),
        expect.stringMatching(/^gracefulRampDown: invalid duration "x"/),
      ]),
    );
    expect(problemsOf({ name: 'r', executor: 'ramping-arrival-rate', preAllocatedVUs: 1, stages: [], requests })).toEqual([expect.stringMatching(/^stages: must list at least one stage/)]);
    expect(problemsOf({ name: 'r', executor: 'ramping-arrival-rate', preAllocatedVUs: 1, stages: [{ duration: '1s', target: 0 }], requests })).toEqual([expect.stringMatching(/^stages: every target and startRate are 0/)]);
    expect(problemsOf({ name: 's', executor: 'shared-iterations', vus: 5, iterations: 2, requests })).toEqual([expect.stringMatching(/^iterations \(2\) must be ≥ vus \(5\)/)]);
    expect(problemsOf({ name: 'p', executor: 'per-vu-iterations', vus: 0, iterations: 1.5, maxDuration: '0', requests })).toEqual([
      'vus: must be an integer ≥ 1, got 0',
      'iterations: must be an integer ≥ 1, got 1.5',
      'maxDuration: must be longer than 0',
    ]);
    expect(problemsOf({ name: 'c', executor: 'constant-vus', vus: 2, duration: '1s', startTime: 'soon', requests })).toEqual([expect.stringMatching(/^startTime: invalid duration "soon"/)]);
    expect(problemsOf({ ...valid, requests: [{ ...requests[0], checks: { ok: 'yes' } }] })).toEqual([expect.stringMatching(/checks\["ok"\]: must be a function/)]);
  });
});
