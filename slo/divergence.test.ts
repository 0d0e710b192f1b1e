import { describe, expect, it } from 'vitest';
import { DEFAULT_SLO_PAIRS, compareClientServer } from './divergence.ts';
import type { SloPhaseResult } from './types.ts';

function result(slo: string, phase: string, value: number | null, extra: Partial<SloPhaseResult> = {}): SloPhaseResult {
  return {
    slo,
    side: slo.includes('client') ? 'client' : 'server',
    severity: 'error',
    phase,
    phaseKind: phase === 'baseline' ? 'baseline' : 'experiment',
    verdict: 'pass',
    value,
    threshold: '',
    samples: 400,
    queries: { value: '', samples: '' },
    evaluatedAt: 0,
    windowSeconds: 8,
    ...extra,
  };
}

describe('compareClientServer', () => {
  it("pairs hasteCRM's client and server SLOs by default", () => {
    expect(DEFAULT_SLO_PAIRS).toEqual([
      { kind: 'ratio', client: 'api-client-success-ratio', server: 'api-server-success-ratio' },
      { kind: 'latency', client: 'api-client-latency-p95', server: 'api-server-latency-p95' },
    ]);
  });

  it('reports errors the API never saw as a divergence, with both figures and the likely cause', () => {
    const [ratio] = compareClientServer([result('api-client-success-ratio', 'pod-delete#1', 0.979), result('api-server-success-ratio', 'pod-delete#1', 0.999)]);
    expect(ratio).toMatchObject({ phase: 'pod-delete#1', kind: 'ratio', diverged: true, tolerance: '1 percentage point' });
    expect(ratio?.delta).toBeCloseTo(-0.02, 9);
    expect(ratio?.client).toEqual({ slo: 'api-client-success-ratio', value: 0.979, samples: 400, verdict: 'pass' });
    expect(ratio?.note).toBe(
      'The client saw 2.1 % errors, the server 0.1 %: requests failed before reaching the API (refused connections during pod deletion, ingress timeouts, retries exhausted).',
    );
  });

  it('explains the opposite direction: server errors hidden from users by ingress retries', () => {
    const [ratio] = compareClientServer([result('api-client-success-ratio', 'p', 1), result('api-server-success-ratio', 'p', 0.95)]);
    expect(ratio?.diverged).toBe(true);
    expect(ratio?.note).toMatch(/^The client saw 0 % errors, the server 5 %: the API answered errors that users did not see \(the ingress retried them/);
  });

  it('does not report a ratio gap within 1 percentage point (the boundary included)', () => {
    const list = compareClientServer([
      result('api-client-success-ratio', 'a', 0.985),
      result('api-server-success-ratio', 'a', 0.995),
      result('api-client-success-ratio', 'b', 0.9849),
      result('api-server-success-ratio', 'b', 0.995),
    ]);
    expect(list.map((d) => [d.phase, d.diverged])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    expect(list[0]?.note).toMatch(/within 1 percentage point\.$/);
  });

  it('needs latency to differ by more than 100 ms AND more than 50 % to call it a divergence', () => {
    const cases: [number, number, boolean][] = [
      [12, 5, false], // +140 %, but only 7 ms
      [2_150, 2_000, false], // 150 ms, but only 7.5 %
      [260, 150, true], // 110 ms and 73 %
      [150, 260, true], // the other way round
      [240, 160, false], // exactly 50 % of the smaller: not beyond
    ];
    const results = cases.flatMap(([client, server], i) => [result('api-client-latency-p95', `p${i}`, client), result('api-server-latency-p95', `p${i}`, server)]);
    const list = compareClientServer(results);
    expect(list.map((d) => d.diverged)).toEqual(cases.map(([, , diverged]) => diverged));
    expect(list[0]?.tolerance).toBe('100 ms and 50 %');
    expect(list[2]?.delta).toBe(110);
    expect(list[2]?.note).toMatch(/^The client's value was 260 ms, the server's 150 ms: time was spent outside the API/);
    expect(list[3]?.note).toMatch(/the API recorded slower requests than users saw/);
  });

  it('says null, not false, when a side has no value, no result, or could not be judged', () => {
    const list = compareClientServer([
      result('api-client-success-ratio', 'no-value', 0.99),
      result('api-server-success-ratio', 'no-value', null, { verdict: 'inconclusive', reason: 'No data: the value query returned no series.' }),
      result('api-client-success-ratio', 'server-missing', 0.99),
      result('api-client-latency-p95', 'few-samples', 80, { verdict: 'inconclusive', samples: 3, reason: 'Only 3 samples in phase few-samples.' }),
      result('api-server-latency-p95', 'few-samples', 60),
      result('api-client-latency-p95', 'nan', NaN),
      result('api-server-latency-p95', 'nan', 60),
    ]);
    expect(list.map((d) => [d.phase, d.kind, d.diverged, d.delta])).toEqual([
      ['no-value', 'ratio', null, null],
      ['server-missing', 'ratio', null, null],
      ['few-samples', 'latency', null, null],
      ['nan', 'latency', null, null],
    ]);
    expect(list[0]?.note).toBe('Cannot compare: the server side (api-server-success-ratio) has no value in phase no-value (No data: the value query returned no series.)');
    expect(list[1]?.note).toBe('Cannot compare: the server side (api-server-success-ratio) has no result in phase server-missing.');
    expect(list[1]?.server).toEqual({ slo: 'api-server-success-ratio', value: null, samples: 0, verdict: 'missing' });
    expect(list[2]?.note).toMatch(/^Cannot compare: the client side \(api-client-latency-p95\) was inconclusive in phase few-samples \(Only 3 samples/);
    expect(list[3]?.note).toMatch(/client side \(api-client-latency-p95\) has no value in phase nan/);
  });

  it('compares a failing pair too: agreement on a failure is not a divergence', () => {
    const [ratio] = compareClientServer([
      result('api-client-success-ratio', 'p', 0.9, { verdict: 'fail' }),
      result('api-server-success-ratio', 'p', 0.905, { verdict: 'fail' }),
    ]);
    expect(ratio?.diverged).toBe(false);
  });

  it('takes explicit pairs and tolerances, and keeps phase order then pair order', () => {
    const pairs = [{ kind: 'ratio' as const, client: 'web-client-ok', server: 'web-server-ok' }];
    const list = compareClientServer(
      [
        result('web-client-ok', 'baseline', 0.97),
        result('web-server-ok', 'baseline', 0.99),
        result('web-client-ok', 'recovery', 0.99),
        result('web-server-ok', 'recovery', 0.99),
        result('api-client-success-ratio', 'baseline', 0.5),
      ],
      { pairs, tolerance: { ratio: 0.05 } },
    );
    expect(list.map((d) => [d.phase, d.client.slo, d.diverged, d.tolerance])).toEqual([
      ['baseline', 'web-client-ok', false, '5 percentage points'],
      ['recovery', 'web-client-ok', false, '5 percentage points'],
    ]);
  });

  it('returns nothing when no paired SLO has a result', () => {
    expect(compareClientServer([result('other', 'baseline', 1)])).toEqual([]);
    expect(compareClientServer([])).toEqual([]);
  });
});
