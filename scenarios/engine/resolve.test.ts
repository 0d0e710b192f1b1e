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
      executor: 'ramping-vus',
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
      /^executor: "ramping-vus" is not supported/,
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
});
