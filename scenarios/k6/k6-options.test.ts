import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import api from '../api.ts';
import { exportSlos } from '../../slo/export.ts';
import { apiSlos } from '../../slo/api.ts';
import type { ScenarioDefinition } from '../types.ts';
import { K6OptionsError, buildK6Options, execFunctionName, thresholdsFromExport } from './k6-options.ts';
import { multiExecutorScenarios } from './testdata/multi-executor.ts';

const TESTDATA = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata');

/** Compares with the golden file; UPDATE_GOLDEN=1 rewrites it (review the diff). */
async function expectGolden(name: string, value: unknown): Promise<void> {
  const file = path.join(TESTDATA, name);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1') await writeFile(file, text);
  expect(text).toBe(await readFile(file, 'utf8'));
}

const one = (overrides: Partial<ScenarioDefinition<unknown>> & Record<string, unknown>): ScenarioDefinition<unknown> =>
  ({ name: 's', executor: 'constant-vus', vus: 1, duration: '1s', requests: [{ name: 'x', weight: 1, method: 'GET', path: '/' }], ...overrides }) as ScenarioDefinition<unknown>;

describe('buildK6Options', () => {
  it('maps api.ts with the thresholds `resilience export slo --format k6-thresholds` produces (golden)', async () => {
    const thresholds = thresholdsFromExport(exportSlos(apiSlos, 'k6-thresholds'));
    const options = buildK6Options([api as ScenarioDefinition<unknown>], { thresholds });
    expect(options.scenarios.api).toMatchObject({ executor: 'constant-arrival-rate', exec: 'exec_api', rate: 50, duration: '20s', maxVUs: 200 });
    expect(options.summaryTrendStats).toContain('p(99)');
    await expectGolden('api.options.json', options);
  });

  it('maps every executor, startTime, gracefulStop, tags and defaults (golden)', async () => {
    const options = buildK6Options(multiExecutorScenarios, { setupTimeout: '2m', summaryTrendStats: ['med', 'p(95)', 'p(99)', 'p(99.9)'] });
    expect(Object.keys(options.scenarios)).toEqual(multiExecutorScenarios.map((s) => s.name));
    await expectGolden('multi-executor.options.json', options);
  });

  it('makes exec names ES identifiers', () => {
    expect(execFunctionName('spike-web')).toBe('exec_spike_web');
  });

  it('rejects what k6 would refuse, naming the field and the fix', () => {
    const cases: [ScenarioDefinition<unknown>[], RegExp][] = [
      [[], /no scenarios/],
      [[one({ name: 'has space' })], /scenarios\[0\]\.name: got "has space"/],
      [[one({}), one({})], /scenarios\[1\]\.name: "s" is used twice/],
      [[one({ name: 'a-b' }), one({ name: 'a_b' })], /"a_b" and "a-b" both become the function exec_a_b/],
      [[one({ requests: [] })], /scenarios\[0\]\.requests: empty/],
      [[one({ duration: '10' })], /scenarios\[0\]\.duration: invalid duration "10"/],
      [[one({ startTime: 'soon' })], /scenarios\[0\]\.startTime: invalid duration/],
      [[one({ vus: 1.5 })], /scenarios\[0\]\.vus: got 1\.5; expected an integer > 0/],
      [[one({ executor: 'constant-arrival-rate', rate: 0, duration: '1s', preAllocatedVUs: 1 })], /scenarios\[0\]\.rate: got 0/],
      [[one({ executor: 'constant-arrival-rate', rate: 1, duration: '1s', preAllocatedVUs: 5, maxVUs: 2 })], /maxVUs: 2 is below preAllocatedVUs 5/],
      [[one({ executor: 'ramping-vus', stages: [] })], /scenarios\[0\]\.stages: empty/],
      [[one({ executor: 'ramping-arrival-rate', preAllocatedVUs: 1, stages: [{ duration: '1s', target: -1 }] })], /stages\[0\]\.target: got -1/],
      [[{ ...one({}), executor: 'externally-controlled' } as unknown as ScenarioDefinition<unknown>], /scenarios\[0\]\.executor: got "externally-controlled"; one of constant-arrival-rate/],
    ];
    for (const [definitions, message] of cases) expect(() => buildK6Options(definitions), String(message)).toThrow(message);
    expect(() => buildK6Options([one({})], { setupTimeout: '1 minute' })).toThrow(/setupTimeout: invalid duration/);
    expect(() => buildK6Options([one({})], { summaryTrendStats: ['p95'] })).toThrow(/summaryTrendStats: got "p95"/);
    expect(() => buildK6Options([one({})], { thresholds: { 'http_req_duration{': ['p(95)<1'] } })).toThrow(/thresholds\["http_req_duration\{"\]: not a k6 metric/);
    expect(() => buildK6Options([one({})], { thresholds: { http_reqs: [] } })).toThrow(/thresholds\["http_reqs"\]: expected a non-empty list/);
    expect(() => buildK6Options([one({})], { thresholds: { http_reqs: [{ threshold: '' }] } })).toThrow(/thresholds\["http_reqs"\]\[0\]/);
    expect(() => buildK6Options([one({})], { thresholds: { http_reqs: [{ threshold: 'count>1', abortOnFail: true, delayAbortEval: 'x' }] } })).toThrow(/delayAbortEval: invalid duration/);
  });
});

describe('thresholdsFromExport', () => {
  it('accepts the export as text or parsed, and rejects other shapes naming the command', () => {
    const text = exportSlos(apiSlos, 'k6-thresholds');
    expect(thresholdsFromExport(text)).toEqual(thresholdsFromExport(JSON.parse(text)));
    expect(() => thresholdsFromExport('{oops')).toThrow(K6OptionsError);
    expect(() => thresholdsFromExport('{oops')).toThrow(/not JSON .*export slo --format k6-thresholds/);
    expect(() => thresholdsFromExport({ skipped: [] })).toThrow(/no "thresholds" object/);
    expect(() => thresholdsFromExport(null)).toThrow(/no "thresholds" object/);
  });
});
