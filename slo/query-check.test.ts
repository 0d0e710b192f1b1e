import { describe, expect, it } from 'vitest';
import { checkSloQueries } from './query-check.ts';
import { apiSlos } from './api.ts';
import type { LatencySlo, QuerySlo, RatioSlo } from './types.ts';
import { INVALID_QUERIES, VALID_QUERIES } from './testing/query-fixtures.ts';

const base = { description: 'test', phases: ['baseline'] as const, minSamples: 1, severity: 'error' as const, side: 'client' as const };

function ratio(good: string, total = 'http_requests_total'): RatioSlo {
  return { ...base, name: 'a-ratio', kind: 'ratio', good, total, objective: 0.99 };
}
function query(expr: string, samples = 'sum(increase(http_requests_total[$window]))'): QuerySlo {
  return { ...base, name: 'a-query', kind: 'query', expr, samples, op: '<', bound: 1 };
}
function latency(histogram: string, matchers?: string, quantile = 0.95): LatencySlo {
  return { ...base, name: 'a-latency', kind: 'latency', histogram, ...(matchers === undefined ? {} : { matchers }), quantile, thresholdMs: 500 };
}

/** The single problem found, or a failure saying what was found instead. */
function onlyProblem(slo: RatioSlo | QuerySlo | LatencySlo): { slo: string; field: string; message: string } {
  const problems = checkSloQueries([slo]);
  expect(problems, `expected exactly one problem, got ${JSON.stringify(problems)}`).toHaveLength(1);
  return problems[0]!;
}

describe('checkSloQueries', () => {
  it("accepts hasteCRM's API SLOs", () => {
    expect(checkSloQueries(apiSlos)).toEqual([]);
  });

  it.each(VALID_QUERIES.map((expr) => [expr]))('accepts valid PromQL: %s', (expr) => {
    expect(checkSloQueries([query(expr)])).toEqual([]);
  });

  it('names the SLO and the field of a bad query', () => {
    const problem = onlyProblem(query('sum(rate(x[$window])', 'sum(increase(y[$window]))'));
    expect(problem.slo).toBe('a-query');
    expect(problem.field).toBe('expr');
    expect(problem.message).toMatch(/never closed/);
  });

  it('reports the samples field separately', () => {
    expect(onlyProblem(query('sum(rate(x[$window]))', 'sum(incrase(y[$window]))'))).toMatchObject({ field: 'samples', message: expect.stringMatching(/unknown function incrase\(\)/) as unknown });
  });

  it.each(INVALID_QUERIES.map((q) => [q.what, q.expr, q.message] as const))('rejects %s', (_what, expr, message) => {
    expect(onlyProblem(query(expr)).message).toMatch(message);
  });

  it('requires ratio fields to be plain series selectors', () => {
    expect(onlyProblem(ratio('rate(http_requests_total[5m])'))).toMatchObject({ field: 'good', message: expect.stringMatching(/series selector/) as unknown });
    expect(onlyProblem(ratio('http_requests_total{status!~"5.."}', 'http_requests_total{job="api"'))).toMatchObject({ field: 'total' });
    expect(onlyProblem(ratio('http-requests_total'))).toMatchObject({ field: 'good', message: expect.stringMatching(/series selector/) as unknown });
    expect(checkSloQueries([ratio('{__name__="a",job="b"}', 'http_requests_total')])).toEqual([]);
  });

  it('checks the histogram name, matchers and quantile of latency SLOs', () => {
    expect(onlyProblem(latency('http_request_duration_seconds_bucket'))).toMatchObject({ slo: 'a-latency', field: 'histogram', message: expect.stringMatching(/without the _bucket/) as unknown });
    expect(onlyProblem(latency('http_request_duration_seconds', '{job="a"}'))).toMatchObject({ field: 'matchers' });
    expect(onlyProblem(latency('http_request_duration_seconds', 'job="a" route="b"'))).toMatchObject({ field: 'matchers', message: expect.stringMatching(/separated by ","/) as unknown });
    expect(onlyProblem(latency('http_request_duration_seconds', undefined, 95))).toMatchObject({ field: 'quantile' });
    expect(checkSloQueries([latency('http_request_duration_seconds', 'job="a", route=~"/api.*"')])).toEqual([]);
  });
});
