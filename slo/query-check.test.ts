import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSloQueries, parseSelector, queryResultType, type QueryProblem } from './query-check.ts';
import { apiSlos } from './api.ts';
import { apiAlertSlos } from './api-alerts.ts';
import { webSlos } from './web.ts';
import { workerSlos } from './workers.ts';
import { PrometheusClient, PrometheusQueryError } from './prometheus-client.ts';
import { renderSloQueries, substituteWindow } from './promql.ts';
import type { AlertSlo, LatencySlo, QuerySlo, RatioSlo, SloDefinition } from './types.ts';
import { INVALID_QUERIES, VALID_QUERIES } from './testing/query-fixtures.ts';
import { renderPrometheusConfig, startPrometheus, type RunningPrometheus } from '../cluster/targets/local/prometheus.ts';

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
function alert(alertSeverity: string, alertnames?: string[]): AlertSlo {
  return { ...base, side: 'server', name: 'an-alert', kind: 'alert', alertSeverity, ...(alertnames === undefined ? {} : { alertnames }) };
}

/** The single problem found, or a failure saying what was found instead. */
function onlyProblem(slo: SloDefinition): QueryProblem {
  const problems = checkSloQueries([slo]);
  expect(problems, `expected exactly one problem, got ${JSON.stringify(problems)}`).toHaveLength(1);
  return problems[0]!;
}

/**
 * Mistakes beyond the shared fixtures, each with what the check says and whether Prometheus 2.42
 * (the version the harness runs) rejects the query too. `false` marks valid PromQL that is wrong
 * for an SLO (it never uses the phase's window).
 */
const MORE_INVALID: readonly { what: string; expr: string; message: RegExp; rejectedByPrometheus: boolean }[] = [
  { what: 'range bound to the operand, not the sum', expr: 'a + b[$window]', message: /range \[\$window\] is an operand of \+/, rejectedByPrometheus: true },
  { what: 'range over a function call', expr: 'rate(x[$window])[1m]', message: /range \[1m\] must follow a series selector/, rejectedByPrometheus: true },
  { what: 'offset after an aggregation, inside a sum', expr: 'sum(x) offset 1m + sum(rate(y[$window]))', message: /"offset" must follow a series selector/, rejectedByPrometheus: true },
  { what: 'aggregation over a number', expr: 'sum(1) + sum(rate(x[$window]))', message: /sum\(\) aggregates an instant vector, got a number/, rejectedByPrometheus: true },
  { what: 'topk without its parameter', expr: 'topk(rate(x[$window]))', message: /topk\(\) takes a number and an instant vector, got 1 argument/, rejectedByPrometheus: true },
  { what: 'a vector as topk’s parameter', expr: 'topk(x, rate(y[$window]))', message: /topk\(\) takes a number as its parameter/, rejectedByPrometheus: true },
  { what: 'too many arguments', expr: 'rate(x[$window], 5)', message: /rate\(\) takes 1 argument, got 2/, rejectedByPrometheus: true },
  { what: 'a range to histogram_quantile', expr: 'histogram_quantile(0.9, x_bucket[$window])', message: /range \[\$window\] is inside histogram_quantile\(\)/, rejectedByPrometheus: true },
  { what: 'a function of Prometheus 3', expr: 'histogram_avg(rate(x[$window]))', message: /unknown function histogram_avg\(\), which Prometheus 2\.42/, rejectedByPrometheus: true },
  { what: 'limitk of Prometheus 3', expr: 'limitk(1, rate(x[$window]))', message: /limitk\(\) is newer PromQL/, rejectedByPrometheus: true },
  { what: 'quoted label names of Prometheus 3', expr: 'rate({"x", job="a"}[$window])', message: /quoted label names are newer PromQL/, rejectedByPrometheus: true },
  { what: 'duration arithmetic of Prometheus 3', expr: 'rate(x[$window+1m])', message: /duration arithmetic is newer PromQL/, rejectedByPrometheus: true },
  { what: 'a range without a unit', expr: 'rate(x[300]) + rate(y[$window])', message: /range 300 needs a unit/, rejectedByPrometheus: true },
  { what: 'a comparison of two numbers without bool', expr: 'sum(rate(x[$window])) + (1 > 2)', message: /needs "bool"/, rejectedByPrometheus: true },
  { what: 'a set operator with a number', expr: 'sum(rate(x[$window])) and 1', message: /"and" needs instant vectors on both sides/, rejectedByPrometheus: true },
  { what: 'bool on arithmetic', expr: 'sum(rate(x[$window])) + bool 1', message: /"bool" only applies to comparisons/, rejectedByPrometheus: true },
  { what: 'vector matching with a number', expr: 'sum(rate(x[$window])) * on (a) 2', message: /on\(\)\/ignoring\(\) match two instant vectors/, rejectedByPrometheus: true },
  { what: 'group_left with a set operator', expr: 'rate(x[$window]) and on (a) group_left rate(y[$window])', message: /group_left does not apply to "and"/, rejectedByPrometheus: true },
  { what: 'a selector matching everything', expr: 'rate({job=~".*"}[$window])', message: /does not match the empty string/, rejectedByPrometheus: true },
  { what: 'the metric name twice', expr: 'rate(x{__name__="y"}[$window])', message: /metric name is given twice/, rejectedByPrometheus: true },
  { what: 'a subquery of a range', expr: 'max_over_time(x[1m][$window:1s])', message: /subquery \[\.\.:\.\.\] needs an instant vector, got a range vector/, rejectedByPrometheus: true },
  { what: 'a string result', expr: '"text"', message: /returns a string/, rejectedByPrometheus: true },
  { what: 'a sign on a range', expr: '-x[$window]', message: /range \[\$window\] cannot take a sign/, rejectedByPrometheus: true },
  { what: 'a missing comma between matchers', expr: 'rate(x{a="b" c="d"}[$window])', message: /separated by "," and closed by "}"/, rejectedByPrometheus: true },
  { what: 'a label list without parentheses', expr: 'sum(rate(x[$window])) by le', message: /label names must be separated by ","/, rejectedByPrometheus: true },
  { what: 'a dangling operator', expr: 'sum(rate(x[$window])) +', message: /ends too early/, rejectedByPrometheus: true },
  { what: 'an unknown call at the end', expr: 'rate(x[$window]) / foo(y)', message: /unknown function foo\(\)/, rejectedByPrometheus: true },
  { what: 'only an offset window', expr: 'sum(x offset $window)', message: /never uses \[\$window\]/, rejectedByPrometheus: false },
];

/** Valid PromQL 2.42 beyond the shared fixtures, including what the grammar treats differently. */
const MORE_VALID: readonly string[] = [
  'holt_winters(sum(rate(x[1m]))[$window:10s], 0.5, 0.5)',
  'sum(rate(x[$window])) > bool on () group_left sum(rate(y[$window]))',
  'a + b offset 1m + sum(rate(c[$window]))',
  '-sum(rate(x[$window])) ^ 2',
  'scalar(sum(rate(x[$window]))) * 100',
  'count_values("code", rate(x[$window]))',
  'label_join(rate(x[$window]), "dst", ",", "a", "b")',
  'hour() + 0 * sum(rate(x[$window]))',
  'round(sum(rate(x[$window])), 0.01)',
  'sum(rate(x[$window])) # a comment\n  / sum(rate(y[$window]))',
  'clamp_min(sum(rate(x[$window])), 0) or vector(0)',
  'absent_over_time(up{job="k6"}[$window])',
];

describe('checkSloQueries', () => {
  it("accepts hasteCRM's SLOs: API, API alerts, web and workers", () => {
    expect(checkSloQueries([...apiSlos, ...apiAlertSlos, ...webSlos, ...workerSlos])).toEqual([]);
  });

  it.each([...VALID_QUERIES, ...MORE_VALID].map((expr) => [expr]))('accepts valid PromQL: %s', (expr) => {
    expect(checkSloQueries([query(expr)])).toEqual([]);
  });

  it.each([...INVALID_QUERIES, ...MORE_INVALID].map((q) => [q.what, q.expr, q.message] as const))('rejects %s', (_what, expr, message) => {
    expect(onlyProblem(query(expr)).message).toMatch(message);
  });

  it('names the SLO, the field and the column of a bad query', () => {
    const problem = onlyProblem(query('sum(rate(x[$window])', 'sum(increase(y[$window]))'));
    expect(problem).toEqual({ slo: 'a-query', field: 'expr', position: 4, message: 'SLO "a-query", expr, column 4: "(" is never closed' });
  });

  it('reports the samples field separately', () => {
    expect(onlyProblem(query('sum(rate(x[$window]))', 'sum(incrase(y[$window]))'))).toMatchObject({
      field: 'samples',
      position: 5,
      message: 'SLO "a-query", samples, column 5: unknown function incrase()',
    });
  });

  it('gives columns in the text as written, before $window is replaced by a shorter duration', () => {
    // The rendered query is `sum(rate(x[60s])) + summ(y)`; the mistake is at column 25 as written.
    expect(onlyProblem(query('sum(rate(x[$window])) + summ(y)'))).toMatchObject({ position: 25, message: expect.stringMatching(/column 25: unknown function summ\(\)/) as unknown });
    expect(onlyProblem(query('rate(x[$window]) + rate(y[$window]) + sum(z[$window])'))).toMatchObject({ position: 43, message: expect.stringMatching(/column 43: range \[\$window\] is inside sum\(\)/) as unknown });
  });

  it('gives the line and column of a mistake in a multi-line query', () => {
    const problem = onlyProblem(query('sum(rate(x[$window]))\n  /\nsum(rate(y))'));
    expect(problem.message).toBe('SLO "a-query", expr, line 3, column 10: rate() needs a range vector: write rate(metric[$window])');
    expect(problem.position).toBe(36);
  });

  it('reports problems of a whole field without a position', () => {
    const problem = onlyProblem(query('sum(rate(x[5m]))'));
    expect(problem.message).toMatch(/^SLO "a-query", expr: the query never uses \[\$window\]/);
    expect(problem.position).toBeUndefined();
  });

  it('requires ratio fields to be plain series selectors', () => {
    expect(onlyProblem(ratio('rate(http_requests_total[5m])'))).toMatchObject({ field: 'good', position: 1, message: expect.stringMatching(/series selector/) as unknown });
    expect(onlyProblem(ratio('http_requests_total{status!~"5.."}', 'http_requests_total{job="api"'))).toMatchObject({ field: 'total', position: 20 });
    expect(onlyProblem(ratio('http-requests_total'))).toMatchObject({ field: 'good', message: expect.stringMatching(/series selector/) as unknown });
    expect(onlyProblem(ratio('{job=~".*"}', 'x'))).toMatchObject({ field: 'good', message: expect.stringMatching(/does not match the empty string/) as unknown });
    expect(onlyProblem(ratio('x[$window]'))).toMatchObject({ field: 'good', position: 3, message: expect.stringMatching(/placeholder \$window has no place here/) as unknown });
    expect(checkSloQueries([ratio('{__name__="a",job="b"}', 'http_requests_total')])).toEqual([]);
  });

  it('checks the histogram name, matchers and quantile of latency SLOs', () => {
    expect(onlyProblem(latency('http_request_duration_seconds_bucket'))).toMatchObject({ slo: 'a-latency', field: 'histogram', message: expect.stringMatching(/without the _bucket/) as unknown });
    expect(onlyProblem(latency('http_request_duration_seconds', '{job="a"}'))).toMatchObject({ field: 'matchers', position: 1, message: expect.stringMatching(/without braces/) as unknown });
    expect(onlyProblem(latency('http_request_duration_seconds', 'job="a" route="b"'))).toMatchObject({ field: 'matchers', position: 9, message: expect.stringMatching(/separated by ","/) as unknown });
    expect(onlyProblem(latency('http_request_duration_seconds', 'job="a", 1route="b"'))).toMatchObject({ field: 'matchers', position: 10, message: expect.stringMatching(/"1route" is not a valid label name/) as unknown });
    expect(onlyProblem(latency('http_request_duration_seconds', undefined, 95))).toMatchObject({ field: 'quantile', message: 'SLO "a-latency", quantile: quantile must be between 0 and 1 (exclusive), got 95' });
    expect(checkSloQueries([latency('http_request_duration_seconds', 'job="a", route=~"/api.*"')])).toEqual([]);
  });

  it('checks the fields of alert SLOs, and the queries rendered from them', () => {
    expect(checkSloQueries([alert('critical'), alert('critical', ['APIHighErrorRate']), alert('warning', ['A', 'B.c', 'quote"d'])])).toEqual([]);
    expect(onlyProblem(alert(' '))).toMatchObject({ field: 'alertSeverity' });
    expect(onlyProblem(alert('critical', ['A', '']))).toMatchObject({ field: 'alertnames' });
  });
});

describe('parseSelector and queryResultType', () => {
  it('takes a series selector apart', () => {
    expect(parseSelector('k6_http_reqs_total{scenario="web",status!~"5..", name=\'a "b"\'}')).toEqual({
      metric: 'k6_http_reqs_total',
      matchers: [
        { label: 'scenario', op: '=', value: 'web', text: 'scenario="web"' },
        { label: 'status', op: '!~', value: '5..', text: 'status!~"5.."' },
        { label: 'name', op: '=', value: 'a "b"', text: 'name=\'a "b"\'' },
      ],
    });
    expect(parseSelector('{__name__="x"}')).toEqual({ metric: undefined, matchers: [{ label: '__name__', op: '=', value: 'x', text: '__name__="x"' }] });
    expect(parseSelector('rate(x[5m])')).toBeUndefined();
  });

  it('tells a number from an instant vector', () => {
    expect(queryResultType('scalar(sum(rate(x[$window])))')).toBe('scalar');
    expect(queryResultType('sum(rate(x[$window]))')).toBe('vector');
    expect(queryResultType('x[$window]')).toBeUndefined();
  });
});

// The check claims to agree with Prometheus: every query it accepts, Prometheus 2.42 accepts, and
// every query it rejects as invalid PromQL, Prometheus rejects (or returns a range vector or a
// string, which the client rejects).
describe('the offline check agrees with a real Prometheus', () => {
  let prometheus: RunningPrometheus | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'query-check-test-'));
    prometheus = await startPrometheus({ dir, config: renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [], ruleFiles: [] }) });
  }, 30_000);

  afterAll(async () => {
    await prometheus?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(MORE_VALID.map((q) => [q]))('Prometheus accepts %s', async (expr) => {
    const client = new PrometheusClient({ url: prometheus!.url });
    await expect(client.instantQuery(substituteWindow(expr, 60), Date.now())).resolves.toBeInstanceOf(Array);
  });

  it.each(MORE_INVALID.filter((q) => q.rejectedByPrometheus).map((q) => [q.what, q.expr]))('Prometheus rejects %s', async (_what, expr) => {
    const client = new PrometheusClient({ url: prometheus!.url });
    await expect(client.instantQuery(substituteWindow(expr, 60), Date.now())).rejects.toBeInstanceOf(PrometheusQueryError);
  });

  it("accepts every query rendered from hasteCRM's SLOs", async () => {
    const client = new PrometheusClient({ url: prometheus!.url });
    for (const slo of [...apiSlos, ...apiAlertSlos, ...webSlos, ...workerSlos]) {
      for (const rendered of Object.values(renderSloQueries(slo, 60))) {
        if (typeof rendered === 'string') await expect(client.instantQuery(rendered, Date.now()), rendered).resolves.toBeInstanceOf(Array);
      }
    }
  });
});
