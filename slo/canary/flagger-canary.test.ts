import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseFlaggerCanary, renderFlaggerQuery } from './flagger-canary.ts';
import { checksToPromote, firstTick, tick, type FlaggerState } from './flagger-scheduler.ts';
import { ManifestError } from './manifest.ts';
import type { FlaggerStrategy } from './flagger-canary.ts';

const CANARY_YAML = new URL('../../cluster/manifests/base/hastecrm-api/canary.yaml', import.meta.url);

/** A minimal valid Canary; `analysis` replaces fields of the analysis, `spec` of the spec. */
function canary(analysis: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'api', namespace: 'prod' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' },
      service: { port: 4000 },
      analysis: {
        interval: '30s',
        threshold: 5,
        maxWeight: 50,
        stepWeight: 10,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '30s' }],
        ...analysis,
      },
      ...spec,
    },
  };
}

function parseError(input: Parameters<typeof parseFlaggerCanary>[0]): ManifestError {
  try {
    parseFlaggerCanary(input);
  } catch (error) {
    if (error instanceof ManifestError) return error;
    throw error;
  }
  throw new Error('expected a ManifestError');
}

describe('parseFlaggerCanary', () => {
  it("parses the seed-derived canary.yaml with the seed's analysis", async () => {
    const spec = parseFlaggerCanary(await readFile(CANARY_YAML, 'utf8'));
    expect(spec.name).toBe('hastecrm-api');
    expect(spec.namespace).toBe('hastecrm-production');
    expect(spec.target).toBe('hastecrm-api');
    expect(spec.analysis.intervalSeconds).toBe(30);
    expect(spec.analysis.threshold).toBe(5);
    expect(spec.analysis.strategy).toEqual({ kind: 'canary', stepWeight: 10, stepWeights: [], maxWeight: 50 });
    expect(spec.analysis.metrics).toEqual([
      { name: 'request-success-rate', interval: '30s', intervalSeconds: 30, thresholdRange: { min: 99 }, source: { kind: 'builtin', metric: 'request-success-rate' } },
      { name: 'request-duration', interval: '30s', intervalSeconds: 30, thresholdRange: { max: 500 }, source: { kind: 'builtin', metric: 'request-duration' } },
    ]);
    expect(spec.analysis.rolloutWebhooks).toEqual(['load-test']);
    expect(checksToPromote(spec.analysis.strategy)).toBe(5);
  });

  it('picks the Canary out of a multi-document file, and a named one among several', () => {
    const text = `apiVersion: v1\nkind: Service\nmetadata: {name: x}\n---\n${JSON.stringify(canary())}\n---\n`;
    expect(parseFlaggerCanary(text).name).toBe('api');
    const two = `${JSON.stringify(canary())}\n---\n${JSON.stringify({ ...canary(), metadata: { name: 'web' } })}`;
    expect(parseFlaggerCanary(two, { name: 'web' }).name).toBe('web');
    expect(parseError(two).message).toBe('metadata.name: 2 Canary documents (api, web); name the one to use');
  });

  it('reads inline queries and templateRefs, and the deprecated threshold as Flagger does', () => {
    const spec = parseFlaggerCanary(
      canary({
        metrics: [
          { name: 'request-success-rate', threshold: 99 },
          { name: 'request-duration', threshold: 500 },
          { name: 'errors', query: 'sum(rate(x{ns="{{ namespace }}"}[{{ interval }}]))', thresholdRange: { max: 1 }, interval: '1m' },
          { name: 'custom', templateRef: { name: 'error-rate' }, thresholdRange: { min: 0, max: 5 } },
        ],
      }),
    );
    const [success, duration, errors, custom] = spec.analysis.metrics;
    expect(success?.thresholdRange).toEqual({ min: 99 });
    expect(duration?.thresholdRange).toEqual({ max: 500 });
    expect(success?.interval, "Flagger's default metric interval").toBe('1m');
    expect(custom?.source).toEqual({ kind: 'template', name: 'error-rate', namespace: 'prod' });
    expect(renderFlaggerQuery(errors?.source.kind === 'query' ? errors.source.query : '', spec, errors!)).toBe('sum(rate(x{ns="prod"}[1m]))');
  });

  it('runs blue/green with 10 iterations for the kubernetes provider, as Flagger does', () => {
    const spec = parseFlaggerCanary(canary({ stepWeight: undefined, maxWeight: undefined }, { provider: 'kubernetes' }));
    expect(spec.analysis.strategy).toEqual({ kind: 'blue-green', iterations: 10 });
    expect(parseFlaggerCanary(canary({ iterations: 3, match: [{ headers: {} }] }, { provider: 'kubernetes' })).analysis.strategy).toEqual({ kind: 'blue-green', iterations: 3 });
    expect(parseFlaggerCanary(canary({ iterations: 3, match: [{ headers: {} }] })).analysis.strategy).toEqual({ kind: 'ab-testing', iterations: 3 });
  });

  it.each([
    ['a wrong apiVersion', { ...canary(), apiVersion: 'flagger.app/v1alpha3' }, 'apiVersion: expected flagger.app/v1beta1, got "flagger.app/v1alpha3"'],
    ['no Canary in the file', { apiVersion: 'v1', kind: 'Service' }, 'kind: expected Canary, found Service'],
    ['no analysis', canary({}, { analysis: undefined }), 'spec.analysis: is required'],
    ['an interval without a unit', canary({ interval: '30' }), 'spec.analysis.interval: must be a duration like "30s" or "1m", got "30"'],
    ['a zero threshold', canary({ threshold: 0 }), 'spec.analysis.threshold: must be at least 1, got 0'],
    ['a threshold that is not a number', canary({ threshold: 'five' }), 'spec.analysis.threshold: must be an integer, got the string "five"'],
    ['a maxWeight over 100', canary({ maxWeight: 150 }), 'spec.analysis.maxWeight: must be between 1 and 100, got 150'],
    ['no step at all', canary({ stepWeight: undefined }), 'spec.analysis.stepWeight: is required (or stepWeights, or iterations)'],
    ['stepWeights that go down', canary({ stepWeight: undefined, stepWeights: [10, 5] }), 'spec.analysis.stepWeights[1]: must be greater than the previous step (10), got 5'],
    ['a metric Flagger would never check', canary({ metrics: [{ name: 'error-rate', thresholdRange: { max: 1 } }] }), 'spec.analysis.metrics[0].name: "error-rate" is not a built-in metric'],
    ['a metric without a range', canary({ metrics: [{ name: 'request-duration' }] }), 'spec.analysis.metrics[0].thresholdRange: is required'],
    ['an empty range', canary({ metrics: [{ name: 'request-duration', thresholdRange: {} }] }), 'spec.analysis.metrics[0].thresholdRange: needs min, max or both'],
    ['min above max', canary({ metrics: [{ name: 'request-duration', thresholdRange: { min: 9, max: 1 } }] }), 'spec.analysis.metrics[0].thresholdRange: min (9) is greater than max (1)'],
    ['a range bound that is text', canary({ metrics: [{ name: 'request-duration', thresholdRange: { max: '500ms' } }] }), 'spec.analysis.metrics[0].thresholdRange.max: must be a number, got the string "500ms"'],
    ['a bad metric interval', canary({ metrics: [{ name: 'request-duration', thresholdRange: { max: 1 }, interval: 'soon' }] }), 'spec.analysis.metrics[0].interval: must be a duration'],
    ['a built-in with a query', canary({ metrics: [{ name: 'request-duration', query: 'x', thresholdRange: { max: 1 } }] }), 'spec.analysis.metrics[0].query: request-duration is a built-in metric'],
    ['an unknown template variable', canary({ metrics: [{ name: 'q', query: 'x{a="{{ app }}"}', thresholdRange: { max: 1 } }] }), 'spec.analysis.metrics[0].query: unknown template variable {{ app }}'],
    ['a metric listed twice', canary({ metrics: [{ name: 'request-duration', thresholdRange: { max: 1 } }, { name: 'request-duration', thresholdRange: { max: 2 } }] }), 'spec.analysis.metrics[1].name: "request-duration" is listed twice'],
    ['no targetRef name', canary({}, { targetRef: { kind: 'Deployment' } }), 'spec.targetRef.name: is required'],
    ['metrics that are not a list', canary({ metrics: { name: 'x' } }), 'spec.analysis.metrics: must be a list, got an object'],
  ])('names the field for %s', (_what, input, message) => {
    expect(parseError(input).message).toContain(message);
  });

  it('reports YAML syntax errors', () => {
    expect(parseError('kind: Canary\n  spec: [').message).toMatch(/^invalid YAML: /);
  });
});

describe("Flagger's scheduler", () => {
  const canaryStrategy: FlaggerStrategy = { kind: 'canary', stepWeight: 10, stepWeights: [], maxWeight: 50 };

  function run(strategy: FlaggerStrategy, threshold: number, outcomes: boolean[]): { weights: number[]; failed: number[]; decision?: string; at?: number } {
    let state: FlaggerState = firstTick(strategy);
    const weights: number[] = [];
    const failed: number[] = [];
    for (const [index, passed] of outcomes.entries()) {
      weights.push(state.weight);
      const step = tick(strategy, threshold, state, passed);
      state = step.state;
      failed.push(state.failedChecks);
      if (step.decision) return { weights, failed, decision: step.decision, at: index + 1 };
    }
    return { weights, failed };
  }

  it('promotes a 10 % / 50 % canary at the 5th passing check, the check at maxWeight counted', () => {
    expect(run(canaryStrategy, 5, [true, true, true, true, true])).toEqual({ weights: [10, 20, 30, 40, 50], failed: [0, 0, 0, 0, 0], decision: 'promote', at: 5 });
    expect(run(canaryStrategy, 5, [true, true, true, true]).decision, 'four checks are not enough').toBeUndefined();
  });

  it('keeps the weight on a failed check and counts failures that are not consecutive', () => {
    expect(run(canaryStrategy, 3, [true, false, true, false, false])).toEqual({ weights: [10, 20, 20, 30, 30], failed: [0, 1, 1, 2, 3], decision: 'rollback', at: 5 });
  });

  it('promotes late when a failure below the threshold holds the weight back', () => {
    expect(run(canaryStrategy, 2, [true, false, true, true, true, true])).toMatchObject({ decision: 'promote', at: 6 });
  });

  it('overshoots maxWeight when it is not a multiple of the step, as Flagger does', () => {
    const strategy: FlaggerStrategy = { kind: 'canary', stepWeight: 20, stepWeights: [], maxWeight: 50 };
    expect(run(strategy, 1, [true, true, true])).toEqual({ weights: [20, 40, 60], failed: [0, 0, 0], decision: 'promote', at: 3 });
    expect(checksToPromote(strategy)).toBe(3);
  });

  it('follows stepWeights', () => {
    const strategy: FlaggerStrategy = { kind: 'canary', stepWeight: 0, stepWeights: [1, 5, 25, 50], maxWeight: 50 };
    expect(run(strategy, 1, [true, true, true, true])).toEqual({ weights: [1, 5, 25, 50], failed: [0, 0, 0, 0], decision: 'promote', at: 4 });
  });

  it('needs iterations + 1 passing checks for blue/green and iterations for A/B testing', () => {
    expect(checksToPromote({ kind: 'blue-green', iterations: 10 })).toBe(11);
    expect(run({ kind: 'blue-green', iterations: 2 }, 1, [true, true, true])).toEqual({ weights: [0, 0, 100], failed: [0, 0, 0], decision: 'promote', at: 3 });
    expect(checksToPromote({ kind: 'ab-testing', iterations: 10 })).toBe(10);
  });
});
