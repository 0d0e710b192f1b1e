import { describe, expect, it } from 'vitest';
import type { ScenarioDefinition } from '../types.ts';
import { EngineMetrics } from './metrics.ts';
import { resolveScenario } from './resolve.ts';
import { parseExposition, sumSamples } from './test-support.ts';

const scenario = resolveScenario({
  name: 'm',
  executor: 'constant-arrival-rate',
  rate: 1,
  duration: '1s',
  preAllocatedVUs: 1,
  requests: [
    { name: 'GET /a', weight: 1, method: 'GET', path: '/a' },
    { name: 'POST /b', weight: 1, method: 'POST', path: '/b', expectedStatuses: [201] },
  ],
} satisfies ScenarioDefinition);

describe('EngineMetrics', () => {
  it('puts a latency of exactly 0.5 s into the le="0.5" bucket (buckets are ≤ bounds)', () => {
    const metrics = new EngineMetrics(scenario);
    metrics.recordRequest(0, 200, 0, 0.5);
    metrics.recordRequest(0, 200, 0, 0.5000001);
    const samples = parseExposition(metrics.render());
    const bucket = (le: string): number => sumSamples(samples, 'k6_http_req_duration_seconds_bucket', { name: 'GET /a', le });
    expect(bucket('0.25')).toBe(0);
    expect(bucket('0.5')).toBe(1);
    expect(bucket('1')).toBe(2);
    expect(bucket('+Inf')).toBe(2);
    expect(sumSamples(samples, 'k6_http_req_duration_seconds_sum')).toBeCloseTo(1.0000001, 6);
  });

  it('keeps error_code on the counter only, merging network errors of one status into one histogram series', () => {
    const metrics = new EngineMetrics(scenario);
    metrics.recordRequest(1, 0, 1212, 0.001);
    metrics.recordRequest(1, 0, 1220, 0.002);
    metrics.recordRequest(1, 201, 0, 0.003);
    metrics.recordRequest(1, 200, 0, 0.004);
    metrics.recordDropped();
    const samples = parseExposition(metrics.render());

    expect(samples.filter((s) => s.name === 'k6_http_reqs_total').map((s) => s.labels)).toEqual([
      { scenario: 'm', name: 'POST /b', method: 'POST', status: '0', expected_response: 'false', error_code: '1212' },
      { scenario: 'm', name: 'POST /b', method: 'POST', status: '0', expected_response: 'false', error_code: '1220' },
      { scenario: 'm', name: 'POST /b', method: 'POST', status: '201', expected_response: 'true' },
      { scenario: 'm', name: 'POST /b', method: 'POST', status: '200', expected_response: 'false' },
    ]);
    const counts = samples.filter((s) => s.name === 'k6_http_req_duration_seconds_count');
    expect(counts.map((s) => [s.labels.status, s.labels.error_code, s.value])).toEqual([
      ['0', undefined, 2],
      ['201', undefined, 1],
      ['200', undefined, 1],
    ]);
    expect(sumSamples(samples, 'k6_iterations_total')).toBe(4);
    expect(sumSamples(samples, 'k6_dropped_iterations_total')).toBe(1);
  });
});
