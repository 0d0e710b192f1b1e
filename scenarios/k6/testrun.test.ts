import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { validateManifests } from '../../cluster/validate/index.ts';
import { CONFIGMAP_MAX_BYTES, TestRunError, renderTestRun } from './testrun.ts';
import type { TestRunInput } from './testrun.ts';

const TESTDATA = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata');
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const input: TestRunInput = {
  name: 'hastecrm-api-load',
  namespace: 'hastecrm',
  script: 'import http from "k6/http";\nexport const options = {};\nexport function exec_api() { http.get(`${__ENV.BASE_URL}/healthz`); }\n',
  parallelism: 4,
  baseUrl: 'http://hastecrm-api.hastecrm:8080/',
  prometheusUrl: 'http://prometheus.monitoring:9090',
  runId: 'api-20261126-110309-2e2b',
};

describe('renderTestRun', () => {
  it('renders the ConfigMap and the TestRun (golden), which the harness validator accepts', async () => {
    const rendered = renderTestRun(input);
    const golden = path.join(TESTDATA, 'testrun.golden.yaml');
    if (process.env.UPDATE_GOLDEN === '1') await writeFile(golden, rendered.yaml);
    expect(rendered.yaml).toBe(await readFile(golden, 'utf8'));

    const [configMap, testRun] = parseAllDocuments(rendered.yaml).map((d) => d.toJS() as Record<string, never>);
    expect(testRun).toMatchObject({
      apiVersion: 'k6.io/v1alpha1',
      kind: 'TestRun',
      spec: {
        parallelism: 4,
        script: { configMap: { name: 'hastecrm-api-load', file: 'script.k6.js' } },
        arguments: '--out experimental-prometheus-rw --tag testid=api-20261126-110309-2e2b -e BASE_URL=http://hastecrm-api.hastecrm:8080',
        runner: { env: expect.arrayContaining([{ name: 'K6_PROMETHEUS_RW_SERVER_URL', value: 'http://prometheus.monitoring:9090/api/v1/write' }]) as unknown },
      },
    });
    expect(configMap).toMatchObject({ kind: 'ConfigMap', data: { 'script.k6.js': input.script } });

    // `resilience validate` knows TestRun (k6.io/v1alpha1) and schema-checks the ConfigMap.
    const dir = await mkdtemp(path.join(tmpdir(), 'k6-testrun-'));
    dirs.push(dir);
    await writeFile(path.join(dir, 'testrun.yaml'), rendered.yaml);
    const findings = await validateManifests([path.join(dir, 'testrun.yaml')]);
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('uses per-stat gauges when native histograms are off', () => {
    const env = (renderTestRun({ ...input, nativeHistograms: false }).testRun as { spec: { runner: { env: { name: string; value: string }[] } } }).spec.runner.env;
    expect(env).toContainEqual({ name: 'K6_PROMETHEUS_RW_TREND_STATS', value: 'p(95),p(99),min,max,avg,med' });
    expect(env.map((e) => e.name)).not.toContain('K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM');
  });

  it('names the bad field and the fix', () => {
    const cases: [Partial<TestRunInput>, RegExp][] = [
      [{ name: 'Hastecrm' }, /name: got "Hastecrm"; a lower-case DNS label of at most 52/],
      [{ name: 'a'.repeat(53) }, /name: got "a{53}"/],
      [{ namespace: 'bad_ns' }, /namespace: got "bad_ns"/],
      [{ parallelism: 0 }, /parallelism: got 0; an integer ≥ 1/],
      [{ baseUrl: 'hastecrm-api:8080' }, /baseUrl: got "hastecrm-api:8080"/],
      [{ prometheusUrl: '' }, /prometheusUrl: got ""/],
      [{ runId: 'a b' }, /runId: got "a b"/],
      [{ scriptFile: 'a/b.js' }, /scriptFile: got "a\/b\.js"/],
      [{ script: '' }, /script: empty/],
      [{ script: 'x'.repeat(CONFIGMAP_MAX_BYTES + 1) }, /exceed a ConfigMap's 1048576; serve the script from a volumeClaim/],
    ];
    for (const [override, message] of cases) {
      expect(() => renderTestRun({ ...input, ...override }), String(message)).toThrow(TestRunError);
      expect(() => renderTestRun({ ...input, ...override }), String(message)).toThrow(message);
    }
  });
});
