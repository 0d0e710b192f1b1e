import { describe, expect, it } from 'vitest';
import { renderHtml } from './html-reporter.ts';
import { gateRun } from './gate.ts';
import { RESULT_SCHEMA_VERSION, type RunResult } from './result.ts';
import { TIME_SERIES_NAMES, type RunTimeSeries, type TimeSeries } from '../slo/timeseries.ts';

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

// A run's time series as collectTimeSeries records them: 24 s at 1 s steps, a fault from 6 to 16 s.
const START = 1_800_000_000_000;
const seconds = Array.from({ length: 25 }, (_, i) => i);
const UNITS: Record<string, TimeSeries['unit']> = { 'request-rate': 'req/s', 'error-ratio': 'ratio', 'replicas-up': 'replicas', 'replicas-scraped': 'replicas' };

function series(name: string, value: (s: number) => number | undefined): TimeSeries {
  const side = name.startsWith('client') ? 'client' : 'server';
  const metric = name.slice(side.length + 1) as TimeSeries['metric'];
  const points = seconds.flatMap((s): [number, number][] => {
    const v = value(s);
    return v === undefined ? [] : [[START + s * 1000, v]];
  });
  return { name, side, metric, unit: UNITS[metric] ?? 'ms', query: `query_of_${name.replaceAll('-', '_')}`, points, nonFinite: 0 };
}

function timeseries(overrides: Record<string, Partial<TimeSeries> & Record<string, unknown>> = {}): RunTimeSeries {
  const values: Record<string, (s: number) => number | undefined> = {
    'client-error-ratio': (s) => (s >= 6 && s < 16 ? 0.1 : 0),
    'server-replicas-up': (s) => (s >= 8 && s < 10 ? 2 : 3),
    'server-replicas-scraped': () => 3,
    // The server was not scraped at 12–13 s: a gap.
    'server-request-rate': (s) => (s === 12 || s === 13 ? undefined : 52),
  };
  return {
    start: START,
    end: START + 24_000,
    stepSeconds: 1,
    windowSeconds: 5,
    series: TIME_SERIES_NAMES.map((name) => {
      const loaded = series(name, values[name] ?? (() => (name.includes('latency') ? 30 : 50)));
      const override = overrides[name];
      if (!override) return loaded;
      const { points: _points, nonFinite: _nonFinite, ...rest } = loaded as TimeSeries & { points: unknown; nonFinite: unknown };
      return ('error' in override ? { ...rest, ...override } : { ...loaded, ...override }) as TimeSeries;
    }),
  };
}

const withCharts: RunResult = {
  ...result,
  phases: [
    { name: 'baseline', kind: 'baseline', start: START, end: START + 6_000 },
    { name: `pod-delete ${hostile}`, kind: 'experiment', start: START + 6_000, end: START + 16_000 },
    { name: 'recovery', kind: 'recovery', start: START + 16_000, end: START + 24_000 },
    { name: 'overall', kind: 'overall', start: START, end: START + 24_000 },
  ],
  timeseries: timeseries(),
};

/** The figures of the charts section, by their data-chart id. */
function figures(html: string): Map<string, string> {
  return new Map([...html.matchAll(/<figure class="chart" data-chart="([^"]+)">([\s\S]*?)<\/figure>/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

describe('renderHtml: charts over time', () => {
  it('comes after the verdict and run metadata, before the SLO table: rate, errors, latency per side, replicas', () => {
    const html = renderHtml(withCharts);
    const section = html.indexOf('data-testid="charts"');
    expect(section).toBeGreaterThan(html.indexOf('<h2>Run</h2>'));
    expect(section).toBeLessThan(html.indexOf('data-testid="slo-table"'));
    const charts = figures(html);
    expect([...charts.keys()]).toEqual(['request-rate', 'error-ratio', 'latency-client', 'latency-server', 'replicas']);
    for (const [id, figure] of charts) expect(figure.match(/<svg /g), id).toHaveLength(1);
    expect(html).not.toContain('data-testid="charts-missing"');
    expect(html, 'still self-contained').not.toMatch(/<script|<link|src=|https?:\/\//);
  });

  it('draws client and server in one chart, ratios as percentages, each fault window shaded and labelled', () => {
    const charts = figures(renderHtml(withCharts));
    const rate = charts.get('request-rate') ?? '';
    expect(rate).toMatch(/<g class="series" data-label="client \(load driver\)"/);
    expect(rate).toMatch(/<g class="series" data-label="server \(API replicas\)" data-runs="2">/);
    expect(charts.get('error-ratio')).toContain('client: not the expected response: 0 to 10 %');
    expect(charts.get('latency-server')).toMatch(/data-label="p50"[\s\S]*data-label="p95"[\s\S]*data-label="p99"/);
    for (const [id, figure] of charts) {
      expect(figure, id).toContain('<g class="window fault" data-kind="fault" data-start-s="6" data-end-s="16">');
      expect(figure, id).toContain(`>pod-delete &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</text>`);
      expect(figure, id).toContain('data-kind="baseline"');
    }
    expect(charts.get('replicas')).toContain('up: 2 to 3 replicas');
  });

  it('shows the PromQL behind each chart', () => {
    const rate = figures(renderHtml(withCharts)).get('request-rate') ?? '';
    expect(rate).toContain('<pre class="promql">query_of_client_request_rate</pre>');
    expect(rate).toContain('<pre class="promql">query_of_server_request_rate</pre>');
  });

  it('says that there are no charts when the result has no time series, rather than drawing empty ones', () => {
    const html = renderHtml({ ...withCharts, timeseries: undefined });
    expect(html).toContain('data-testid="charts-missing"');
    expect(html).toContain('this result holds no time series');
    expect(html).not.toContain('<svg');
  });

  it('replaces a chart whose series all failed or hold no data with the reason, and names a failed side under a chart it still draws', () => {
    const html = renderHtml({
      ...withCharts,
      timeseries: timeseries({
        'server-request-rate': { error: `Prometheus rejected the query (HTTP 400): ${hostile}` },
        'client-error-ratio': { error: 'Prometheus at http://127.0.0.1:9 did not answer after 3 tries' },
        'server-error-ratio': { points: [], nonFinite: 0 },
        'server-replicas-up': { points: [], nonFinite: 25 },
        'server-replicas-scraped': { points: [], nonFinite: 25 },
      }),
    });
    const charts = figures(html);
    const rate = charts.get('request-rate') ?? '';
    expect(rate, 'the client side is still drawn').toMatch(/<svg [\s\S]*data-label="client \(load driver\)"/);
    expect(rate).not.toContain('data-label="server (API replicas)"');
    expect(rate).toContain('data-testid="chart-partial"');
    expect(rate).toContain('server (API replicas): could not be loaded: Prometheus rejected the query (HTTP 400): &lt;script&gt;');

    const errors = charts.get('error-ratio') ?? '';
    expect(errors).not.toContain('<svg');
    expect(errors).toContain('data-testid="chart-unavailable"');
    expect(errors).toContain('client: not the expected response: could not be loaded: Prometheus at http://127.0.0.1:9 did not answer after 3 tries');
    expect(errors).toContain('server: 5xx: no data: Prometheus returned no series for this query during the run');

    const replicas = charts.get('replicas') ?? '';
    expect(replicas).not.toContain('<svg');
    expect(replicas).toContain('up: no value at any step (Prometheus returned NaN or ±Inf at 25 steps');
    expect(html).not.toContain('<script');
  });
});

describe('renderHtml: comparison with earlier runs', () => {
  it('shows the gate comparison when the run has one, and nothing when it has none', () => {
    const comparison = gateRun({ run: result, history: [] });
    const html = renderHtml({ ...result, comparison });
    expect(html).toContain('data-testid="gate-comparison"');
    expect(html).toContain('data-testid="gate-verdict"');
    expect(renderHtml(result)).not.toContain('data-testid="gate-comparison"');
  });
});
