import { describe, expect, it } from 'vitest';
import { apiSlos } from './api.ts';
import { renderSloQueries } from './promql.ts';
import type { LatencySlo } from './types.ts';

/**
 * The client latency SLO under real k6 (native histogram) versus the embedded engine (classic
 * buckets). That Prometheus 2.42 evaluates the native form is shown against a real Prometheus in
 * scripts/pipeline/k6-driver.test.ts.
 */
const clientLatency: LatencySlo = { name: 'p95', description: '', kind: 'latency', side: 'client', severity: 'error', phases: ['overall'], minSamples: 10, histogram: 'k6_http_req_duration_seconds', quantile: 0.95, thresholdMs: 500 };

describe('renderSloQueries for native histograms', () => {
  it('renders the client latency over one native histogram series, without a buckets query', () => {
    expect(renderSloQueries(clientLatency, 30, { clientHistograms: 'native' })).toEqual({
      value: 'histogram_quantile(0.95, sum(increase(k6_http_req_duration_seconds[30s]))) * 1000',
      samples: 'histogram_count(sum(increase(k6_http_req_duration_seconds[30s])))',
    });
    const withMatchers = renderSloQueries({ ...clientLatency, matchers: 'scenario="api"' }, 5, { clientHistograms: 'native' });
    expect(withMatchers.value).toBe('histogram_quantile(0.95, sum(increase(k6_http_req_duration_seconds{scenario="api"}[5s]))) * 1000');
  });

  it('leaves server-side SLOs, other kinds and the default (classic) rendering unchanged', () => {
    for (const slo of apiSlos) {
      const classic = renderSloQueries(slo, 30);
      expect(renderSloQueries(slo, 30, { clientHistograms: 'classic' })).toEqual(classic);
      if (!(slo.kind === 'latency' && slo.side === 'client')) expect(renderSloQueries(slo, 30, { clientHistograms: 'native' })).toEqual(classic);
    }
    expect(renderSloQueries(clientLatency, 30).buckets).toMatch(/^sum by \(le\) \(\(increase\(k6_http_req_duration_seconds_bucket\[30s\]\)/);
  });
});
