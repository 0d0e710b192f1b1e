import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { RESULT_SCHEMA_VERSION, type LoadResult, type RunResult } from '../result.ts';
import { hostileResult, passResult } from '../testdata/fixtures.ts';
import type { ChaosAction, ExperimentRecord } from '../../chaos/types.ts';
import type { AlertInterval } from '../../slo/alerts.ts';
import type { AnalysisReplay, ArgoMeasurement, ArgoMetricReplay } from '../../slo/canary/argo.ts';
import type { CanaryReplay, FlaggerCheck, FlaggerMetricCheck, ThresholdRange } from '../../slo/canary/flagger.ts';
import type { Divergence, SideValue } from '../../slo/divergence.ts';
import type { RecoveryResult, StepCounts } from '../../slo/recovery.ts';
import type { FailedTimeSeries, LoadedTimeSeries, RunTimeSeries } from '../../slo/timeseries.ts';
import type { Phase, SloPhaseResult } from '../../slo/types.ts';
import type { GateResult, GateRow } from '../gate.ts';

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; required?: string[]; $ref?: string; $defs?: Record<string, Schema> };

const schema = JSON.parse(readFileSync(new URL('./result.schema.json', import.meta.url), 'utf8')) as Schema;
const compile = (s: Schema) => new Ajv2020({ strict: true, allowUnionTypes: true }).compile(s);
const validate = compile(schema);

function errorsOf(data: unknown): string {
  return validate(data) ? '' : JSON.stringify(validate.errors, null, 1);
}

describe('result.schema.json', () => {
  it('is a valid draft 2020-12 schema whose $id and schemaVersion carry the version of reports/result.ts', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe(`urn:hastecrm:resilience:result:v${RESULT_SCHEMA_VERSION}`);
    expect(schema.properties?.schemaVersion).toMatchObject({ const: RESULT_SCHEMA_VERSION });
  });

  it('accepts the result.json of a real run and a result using every part of the model', () => {
    expect(errorsOf(passResult())).toBe('');
    expect(errorsOf(hostileResult())).toBe('');
  });

  it('rejects a result without a verdict, with an unknown verdict, or of another schema version', () => {
    const { verdict: _verdict, ...noVerdict } = passResult();
    expect(validate(noVerdict)).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ keyword: 'required', params: { missingProperty: 'verdict' } });

    expect(validate({ ...passResult(), verdict: 'maybe' })).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ instancePath: '/verdict', keyword: 'enum' });

    const slos = passResult().slos.map((s, i) => (i === 2 ? { ...s, verdict: 'skipped' } : s));
    expect(validate({ ...passResult(), slos })).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ instancePath: '/slos/2/verdict' });

    expect(validate({ ...passResult(), schemaVersion: RESULT_SCHEMA_VERSION + 1 })).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ instancePath: '/schemaVersion', keyword: 'const' });
  });

  it('tells a Flagger replay from an Argo one by `tool`, and names the real problem in either', () => {
    const r = hostileResult();
    const argo = r.canary[1];
    if (argo?.tool !== 'argo-rollouts') throw new Error('the hostile fixture has an Argo replay second');
    (argo.metrics[0] as unknown as Record<string, unknown>).phase = 'Exploded';
    expect(validate(r)).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ instancePath: '/canary/1/metrics/0/phase', keyword: 'enum' });
  });
});

// ---------------------------------------------------------------------------------------------
// The schema and the TypeScript model must not drift apart. For each type, a key spec the
// compiler checks against the type (a field added to or removed from a type, or one that changed
// between optional and required, breaks `tsc`), compared here with the schema's properties and
// required list.
// ---------------------------------------------------------------------------------------------

type KeySpec<T> = { [K in keyof T]-?: Partial<Pick<T, K>> extends Pick<T, K> ? 'optional' : 'required' };

function spec<T>(keys: KeySpec<T>): Record<string, 'optional' | 'required'> {
  return keys;
}

/**
 * Fields the schema declares that the types do not (yet): written into result.json by the
 * pipeline (errorSamples comes from the load summary) or read by the views (canaryGate).
 */
const DECLARED_AHEAD: Record<string, string[]> = {};

const SPECS: [pointer: string, keys: Record<string, 'optional' | 'required'>][] = [
  ['#', spec<RunResult>({ schemaVersion: 'required', runId: 'required', suite: 'required', description: 'required', target: 'required', startedAt: 'required', finishedAt: 'required', durationMs: 'required', verdict: 'required', reason: 'required', exitCode: 'required', status: 'required', phases: 'required', slos: 'required', load: 'optional', experiments: 'required', breach: 'optional', recovery: 'required', divergence: 'required', alerts: 'optional', canary: 'required', canaryGate: 'optional', timeseries: 'optional', comparison: 'optional', restarts: 'required', prometheus: 'optional', environment: 'required', errors: 'required' })],
  ['#/properties/target', spec<RunResult['target']>({ type: 'required', replicas: 'required', ingress: 'required' })],
  ['#/properties/target/properties/ingress', spec<RunResult['target']['ingress']>({ timeoutMs: 'required', attempts: 'required', perTryTimeoutMs: 'required' })],
  ['#/properties/prometheus', spec<NonNullable<RunResult['prometheus']>>({ url: 'required', scrapeIntervalMs: 'required' })],
  ['#/properties/environment', spec<RunResult['environment']>({ node: 'required', platform: 'required', hostname: 'required', gitCommit: 'optional', harnessVersion: 'required' })],
  ['#/$defs/phase', spec<Phase>({ name: 'required', kind: 'required', start: 'required', end: 'required' })],
  ['#/$defs/sloPhaseResult', spec<SloPhaseResult>({ slo: 'required', side: 'required', severity: 'required', phase: 'required', phaseKind: 'required', verdict: 'required', value: 'required', threshold: 'required', samples: 'required', queries: 'required', evaluatedAt: 'required', windowSeconds: 'required', reason: 'optional' })],
  ['#/$defs/sloPhaseResult/properties/queries', spec<SloPhaseResult['queries']>({ value: 'required', samples: 'required' })],
  ['#/$defs/load', spec<LoadResult>({ driver: 'required', scenario: 'required', targetRate: 'required', durationMs: 'required', scheduled: 'required', requests: 'required', errors: 'required', errorsByKind: 'required', statusCounts: 'required', droppedIterations: 'required', interruptedIterations: 'required', achievedRatePerSec: 'required', latencyMs: 'required', selfHealth: 'required', errorSamples: 'optional', executor: 'optional', checks: 'optional' })],
  ['#/$defs/load/properties/checks/items', spec<NonNullable<LoadResult['checks']>[number]>({ scenario: 'required', request: 'required', check: 'required', passes: 'required', fails: 'required' })],
  ['#/$defs/load/properties/latencyMs', spec<LoadResult['latencyMs']>({ p50: 'required', p90: 'required', p95: 'required', p99: 'required', max: 'required' })],
  ['#/$defs/load/properties/selfHealth', spec<LoadResult['selfHealth']>({ maxEventLoopLagMs: 'required', meanCpuUtilization: 'required', overloaded: 'required', reason: 'optional' })],
  ['#/$defs/experiment', spec<ExperimentRecord>({ name: 'required', experiment: 'required', start: 'required', end: 'required', actions: 'required', tookEffect: 'required', reason: 'optional' })],
  ['#/$defs/chaosAction', spec<ChaosAction>({ at: 'required', action: 'required', target: 'required', evidence: 'optional', tookEffect: 'required' })],
  ['#/$defs/recovery', spec<RecoveryResult>({ slo: 'required', experiment: 'required', status: 'required', degraded: 'required', firstViolationAt: 'optional', recoveredAt: 'optional', ttrMs: 'required', reason: 'required', query: 'required', rollingWindowSeconds: 'required', stepSeconds: 'required', from: 'required', to: 'required', steps: 'required' })],
  ['#/$defs/recovery/properties/steps', spec<StepCounts>({ met: 'required', violated: 'required', noData: 'required', unresolved: 'required' })],
  ['#/$defs/divergence', spec<Divergence>({ phase: 'required', kind: 'required', client: 'required', server: 'required', delta: 'required', tolerance: 'required', diverged: 'required', note: 'required' })],
  ['#/$defs/sideValue', spec<SideValue>({ slo: 'required', value: 'required', samples: 'required', verdict: 'required' })],
  ['#/$defs/alertInterval', spec<AlertInterval>({ alertname: 'required', severity: 'required', state: 'required', from: 'required', to: 'required', labels: 'required' })],
  ['#/$defs/flaggerReplay', spec<CanaryReplay>({ tool: 'required', name: 'required', namespace: 'required', intervalSeconds: 'required', threshold: 'required', stepsToPromote: 'required', verdict: 'required', reason: 'required', missingData: 'required', flaggerDecision: 'required', checksAvailable: 'required', checks: 'required', start: 'required', end: 'required', notes: 'required' })],
  ['#/$defs/flaggerReplay/properties/flaggerDecision', spec<NonNullable<CanaryReplay['flaggerDecision']>>({ decision: 'required', iteration: 'required', at: 'required' })],
  ['#/$defs/flaggerCheck', spec<FlaggerCheck>({ iteration: 'required', at: 'required', weight: 'required', metrics: 'required', passed: 'required', failedChecks: 'required' })],
  ['#/$defs/flaggerMetricCheck', spec<FlaggerMetricCheck>({ name: 'required', value: 'required', thresholdRange: 'required', outcome: 'required', query: 'required', reason: 'optional' })],
  ['#/$defs/thresholdRange', spec<ThresholdRange>({ min: 'optional', max: 'optional' })],
  ['#/$defs/argoReplay', spec<AnalysisReplay>({ tool: 'required', name: 'required', verdict: 'required', phase: 'required', reason: 'required', missingData: 'required', metrics: 'required', start: 'required', end: 'required', notes: 'required' })],
  ['#/$defs/argoMetric', spec<ArgoMetricReplay>({ name: 'required', phase: 'required', query: 'required', intervalSeconds: 'required', count: 'required', failureLimit: 'required', inconclusiveLimit: 'required', consecutiveErrorLimit: 'required', dryRun: 'required', successful: 'required', failed: 'required', inconclusive: 'required', error: 'required', measurements: 'required' })],
  ['#/$defs/runTimeSeries', spec<RunTimeSeries>({ start: 'required', end: 'required', stepSeconds: 'required', windowSeconds: 'required', series: 'required' })],
  ['#/$defs/loadedTimeSeries', spec<LoadedTimeSeries>({ name: 'required', metric: 'required', unit: 'required', side: 'required', query: 'required', points: 'required', nonFinite: 'required' })],
  ['#/$defs/failedTimeSeries', spec<FailedTimeSeries>({ name: 'required', metric: 'required', unit: 'required', side: 'required', query: 'required', error: 'required' })],
  ['#/$defs/gateResult', spec<GateResult>({ verdict: 'required', exitCode: 'required', reason: 'required', run: 'required', baselineRuns: 'required', fallback: 'required', settings: 'required', notes: 'required', rows: 'required' })],
  ['#/$defs/gateResult/properties/run', spec<GateResult['run']>({ runId: 'required', suite: 'required', startedAt: 'required', verdict: 'required', reason: 'required', profile: 'required', gitCommit: 'optional' })],
  ['#/$defs/gateResult/properties/baselineRuns/items', spec<GateResult['baselineRuns'][number]>({ runId: 'required', startedAt: 'required', gitCommit: 'optional' })],
  ['#/$defs/gateResult/properties/settings', spec<GateResult['settings']>({ last: 'required', k: 'required', minBaselines: 'required', tolerance: 'required' })],
  ['#/$defs/gateResult/properties/settings/properties/tolerance', spec<GateResult['settings']['tolerance']>({ ratio: 'required', latencyRelative: 'required', latencyAbsoluteMs: 'required', valueRelative: 'required' })],
  ['#/$defs/gateRow', spec<GateRow>({ phase: 'required', slo: 'required', severity: 'required', better: 'required', unit: 'required', value: 'required', baselineMedian: 'required', spread: 'required', limit: 'required', baselineValues: 'required', outcome: 'required', regression: 'required', gating: 'required', note: 'required' })],
  ['#/$defs/argoMeasurement', spec<ArgoMeasurement>({ index: 'required', at: 'required', result: 'required', phase: 'required', message: 'optional', noData: 'required' })],
];

function at(pointer: string): Schema {
  let node: unknown = schema;
  for (const part of pointer.replace(/^#\/?/, '').split('/').filter(Boolean)) node = (node as Record<string, unknown>)[part];
  return node as Schema;
}

describe('result.schema.json and the RunResult types', () => {
  it.each(SPECS)('declare the same fields, equally required: %s', (pointer, keys) => {
    const node = at(pointer);
    expect(node, `${pointer} exists in the schema`).toBeDefined();
    expect(Object.keys(node.properties ?? {}).sort()).toEqual([...Object.keys(keys), ...(DECLARED_AHEAD[pointer] ?? [])].sort());
    expect([...(node.required ?? [])].sort()).toEqual(Object.entries(keys).filter(([, v]) => v === 'required').map(([k]) => k).sort());
  });

  it('leave no field of a real result undeclared (the schema, made closed, still accepts both fixtures)', () => {
    const closed = structuredClone(schema);
    const close = (node: unknown, key?: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const s = node as Schema;
      // An `if` only tests `tool`; closing it would make it test the absence of everything else.
      if (s.properties && !('additionalProperties' in s) && key !== 'if' && !('if' in s)) s.additionalProperties = false;
      for (const [k, v] of Object.entries(s)) if (typeof v === 'object' && v !== null && k !== 'const' && k !== 'enum') (Array.isArray(v) ? v : [v]).forEach((x: unknown) => close(x, k === 'properties' || k === '$defs' ? undefined : k));
    };
    close(closed);
    const strict = compile(closed);
    for (const result of [passResult(), hostileResult()]) expect(strict(result) ? '' : JSON.stringify(strict.errors)).toBe('');
    expect(strict({ ...passResult(), surprise: 1 }), 'the closed copy is really closed').toBe(false);
  });
});
