import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { analysisRefsFromRollout, parseAnalysisTemplate, resolveArgs } from './argo-template.ts';
import { ManifestError } from './manifest.ts';

const MANIFESTS = new URL('../../cluster/manifests/base/hastecrm-api/', import.meta.url);

function template(metric: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'success-rate' },
    spec: {
      args: [{ name: 'service-name' }, { name: 'window', value: '1m' }],
      metrics: [
        {
          name: 'success-rate',
          interval: '30s',
          count: 5,
          successCondition: 'result[0] >= 0.99',
          provider: { prometheus: { address: 'http://prometheus:9090', query: 'sum(rate(x{service="{{args.service-name}}"}[{{ args.window }}]))' } },
          ...metric,
        },
      ],
      ...spec,
    },
  };
}

function parseError(input: Record<string, unknown> | string): string {
  try {
    parseAnalysisTemplate(input);
  } catch (error) {
    if (error instanceof ManifestError) return error.message;
    throw error;
  }
  throw new Error('expected a ManifestError');
}

describe('parseAnalysisTemplate', () => {
  it('parses the success-rate template the seed Rollout needs, and its Rollout passes the argument', async () => {
    const spec = parseAnalysisTemplate(await readFile(new URL('analysis-template-success-rate.yaml', MANIFESTS), 'utf8'));
    expect(spec.name).toBe('success-rate');
    expect(spec.args).toEqual([{ name: 'service-name' }]);
    const [metric] = spec.metrics;
    expect(metric).toMatchObject({ name: 'success-rate', intervalSeconds: 30, initialDelaySeconds: 30, count: 5, failureLimit: 1, inconclusiveLimit: 1, consecutiveErrorLimit: 2, dryRun: false });
    // No data is neither success nor failure: Inconclusive, never a promotion.
    expect(metric?.successCondition?.evaluate([])).toBe(false);
    expect(metric?.failureCondition?.evaluate([])).toBe(false);
    expect(metric?.successCondition?.evaluate([NaN])).toBe(false);
    expect(metric?.failureCondition?.evaluate([NaN])).toBe(false);
    expect(metric?.successCondition?.evaluate([0.995])).toBe(true);
    expect(metric?.failureCondition?.evaluate([0.98])).toBe(true);

    const refs = analysisRefsFromRollout(await readFile(new URL('rollout.yaml', MANIFESTS), 'utf8'));
    expect(refs).toEqual([{ when: 'prePromotionAnalysis', templateNames: ['success-rate'], args: { 'service-name': 'hastecrm-api-preview' } }]);
    const query = resolveArgs(spec, refs[0]?.args).get('success-rate');
    expect(query).toContain('http_requests_total{service="hastecrm-api-preview",status!~"5.."}[1m]');
    expect(query).not.toContain('{{');
  });

  it("applies Argo's defaults: one measurement without interval, indefinite with one, failureLimit 0, consecutiveErrorLimit 4", () => {
    const once = parseAnalysisTemplate(template({ interval: undefined, count: undefined })).metrics[0];
    expect(once).toMatchObject({ count: 1, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, initialDelaySeconds: 0 });
    expect(once?.intervalSeconds).toBeUndefined();
    const forever = parseAnalysisTemplate(template({ count: undefined })).metrics[0];
    expect(forever?.count).toBeUndefined();
    expect(parseAnalysisTemplate(template({ count: '3', failureLimit: '-1' })).metrics[0]).toMatchObject({ count: 3, failureLimit: -1 });
  });

  it('substitutes arguments, template defaults overridden by the caller', () => {
    const spec = parseAnalysisTemplate(template());
    expect(resolveArgs(spec, { 'service-name': 'api-preview' }).get('success-rate')).toBe('sum(rate(x{service="api-preview"}[1m]))');
    expect(resolveArgs(spec, { 'service-name': 'api', window: '5m' }).get('success-rate')).toBe('sum(rate(x{service="api"}[5m]))');
  });

  it('refuses arguments without a value and arguments the template does not declare', () => {
    const spec = parseAnalysisTemplate(template());
    expect(() => resolveArgs(spec, {})).toThrow(/^args\.service-name: has no value/);
    expect(() => resolveArgs(spec, { 'service-name': 'a', servce: 'b' })).toThrow('args: servce is not an argument of success-rate (it declares service-name, window)');
  });

  it.each([
    ['a Rollout instead of a template', { ...template(), kind: 'Rollout' }, 'kind: expected AnalysisTemplate or ClusterAnalysisTemplate, found Rollout'],
    ['another API group', { ...template(), apiVersion: 'flagger.app/v1beta1' }, 'apiVersion: expected argoproj.io/v1alpha1'],
    ['no metrics', template({}, { metrics: [] }), 'spec.metrics: must list at least one metric'],
    ['a condition that does not parse', template({ successCondition: 'result[0] >=' }), 'spec.metrics[0].successCondition: unexpected end of the condition (at column 13)'],
    ['an unknown name in a condition', template({ failureCondition: 'value < 0.9' }), 'spec.metrics[0].failureCondition: unknown name value'],
    ['another provider', template({ provider: { datadog: { query: 'x' } } }), 'spec.metrics[0].provider.datadog: only the prometheus provider can be replayed'],
    ['no query', template({ provider: { prometheus: { address: 'http://p' } } }), 'spec.metrics[0].provider.prometheus.query: is required'],
    ['an undeclared argument', template({ provider: { prometheus: { query: 'x{a="{{args.app}}"}' } } }), 'spec.metrics[0].provider.prometheus.query: uses {{args.app}}, which spec.args does not declare'],
    ['count > 1 without interval', template({ interval: undefined, count: 3 }), 'spec.metrics[0].interval: is required when count is greater than 1'],
    ['count below failureLimit', template({ count: 2, failureLimit: 3 }), 'spec.metrics[0].count: must be at least failureLimit (3), got 2'],
    ['a count that is not a number', template({ count: 'many' }), 'spec.metrics[0].count: must be an integer, got the string "many"'],
    ['a bad interval', template({ interval: '30' }), 'spec.metrics[0].interval: must be a duration like "30s" or "1m", got "30"'],
    ['a negative inconclusiveLimit', template({ inconclusiveLimit: -1 }), 'spec.metrics[0].inconclusiveLimit: must be at least 0, got -1'],
    ['a dryRun of an unknown metric', template({}, { dryRun: [{ metricName: 'latency' }] }), 'spec.dryRun: names metric "latency", which the template does not define'],
    ['consecutiveSuccessLimit', template({ consecutiveSuccessLimit: 2 }), 'spec.metrics[0].consecutiveSuccessLimit: is not supported by the replay'],
  ])('names the field for %s', (_what, input, message) => {
    expect(parseError(input)).toContain(message);
  });
});
