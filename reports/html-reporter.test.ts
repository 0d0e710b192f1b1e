import { describe, expect, it } from 'vitest';
import { renderHtml } from './html-reporter.ts';
import { RESULT_SCHEMA_VERSION, type RunResult } from './result.ts';

const hostile = '<script>alert("x")</script>';

const result: RunResult = {
  schemaVersion: RESULT_SCHEMA_VERSION,
  runId: 'api-1',
  suite: hostile,
  description: '',
  target: { type: 'local', replicas: 3, ingress: { timeoutMs: 30_000, attempts: 3, perTryTimeoutMs: 10_000 } },
  startedAt: '2026-11-26T10:00:00.000Z',
  finishedAt: '2026-11-26T10:00:30.000Z',
  durationMs: 30_000,
  verdict: 'fail',
  reason: `api-client-latency-p95 failed ${hostile}`,
  exitCode: 1,
  status: 'completed',
  phases: [
    { name: 'baseline', kind: 'baseline', start: 0, end: 6_000 },
    { name: 'overall', kind: 'overall', start: 0, end: 24_000 },
  ],
  slos: [
    {
      slo: 'api-client-latency-p95',
      side: 'client',
      severity: 'error',
      phase: 'baseline',
      phaseKind: 'baseline',
      verdict: 'fail',
      value: 612.3,
      threshold: '< 500 ms',
      samples: 120,
      queries: { value: 'histogram_quantile(0.95, sum by (le) (x{name="<b>"}))', samples: 'sum(y)' },
      evaluatedAt: 6_000,
      windowSeconds: 6,
      reason: hostile,
    },
  ],
  experiments: [{ name: hostile, experiment: 'pod-delete', start: 0, end: 10, actions: [{ at: 0, action: 'pod-delete', target: hostile, tookEffect: true, evidence: hostile }], tookEffect: true }],
  recovery: [],
  divergence: [],
  canary: [],
  restarts: 1,
  environment: { node: 'v20', platform: 'linux', hostname: 'h', harnessVersion: '0.1.0' },
  errors: [hostile],
};

describe('renderHtml', () => {
  it('escapes every string from config, metrics and the system under test', () => {
    const html = renderHtml(result);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('x{name=&quot;&lt;b&gt;&quot;}');
  });

  it('puts the verdict first, then the per-phase SLO table with value, objective, samples and PromQL', () => {
    const html = renderHtml(result);
    expect(html.indexOf('data-testid="verdict"')).toBeLessThan(html.indexOf('data-testid="slo-table"'));
    expect(html).toMatch(/<header class="verdict fail"/);
    expect(html).toContain('612.3 ms');
    expect(html).toContain('&lt; 500 ms');
    expect(html).toContain('<td class="num">120</td>');
    expect(html).toContain('histogram_quantile(0.95');
  });

  it('is self-contained: no external resource, no script', () => {
    expect(renderHtml(result)).not.toMatch(/<script|<link|src=|https?:\/\//);
  });
});
