import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { EXPORT_FORMATS, SloExportError, exportSlos } from './export.ts';
import { apiSlos } from './api.ts';
import { apiAlertSlos } from './api-alerts.ts';
import { webSlos } from './web.ts';
import { workerSlos } from './workers.ts';
import type { LatencySlo, QuerySlo, RatioSlo, SloDefinition } from './types.ts';

// Golden-ish checks of each format's content, and promtool (Prometheus 2.42's own parser and rule
// engine, no server) as the authority that the exported PromQL is valid and computes the SLO's
// numbers: `promtool check rules` for the rule file, `promtool test rules` to replay series through
// the rules and through the Flagger and Litmus queries.

const hastecrmSlos: SloDefinition[] = [...apiSlos, ...apiAlertSlos, ...webSlos, ...workerSlos];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'slo-export-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function promtool(args: string[]): Promise<{ exitCode: number | undefined; output: string }> {
  const result = await execa('promtool', args, { cwd: dir, reject: false, all: true, timeout: 30_000 });
  if (result.failed && result.exitCode === undefined) throw new Error(`promtool could not run: ${result.message}`);
  return { exitCode: result.exitCode, output: result.all ?? '' };
}

/** Runs `promtool test rules` on `tests` (promtool's test-file `tests:` entries) with `rules` loaded. */
async function promtoolTest(name: string, rules: string | undefined, tests: unknown[]): Promise<void> {
  const ruleFiles: string[] = [];
  if (rules !== undefined) {
    await writeFile(path.join(dir, `${name}.rules.yml`), rules);
    ruleFiles.push(`${name}.rules.yml`);
  }
  await writeFile(path.join(dir, `${name}.test.yml`), stringify({ rule_files: ruleFiles, evaluation_interval: '1m', tests }));
  const { exitCode, output } = await promtool(['test', 'rules', `${name}.test.yml`]);
  expect(exitCode, `promtool test rules ${name}:\n${output}`).toBe(0);
}

/** `{{ interval }}` etc. as Flagger fills them in for a Canary `hastecrm-api` in `hastecrm-production`. */
function flaggerQuery(template: string, interval = '5m'): string {
  return template.replaceAll('{{ interval }}', interval).replaceAll('{{ namespace }}', 'hastecrm-production').replaceAll('{{ target }}', 'hastecrm-api').trim();
}

const apiSeries = (labels: string): string => `http_requests_total{job="hastecrm-api",route="/api/contacts",${labels}}`;

describe('exportSlos: k6-thresholds', () => {
  it("maps hasteCRM's client-side SLOs to http_req_failed and http_req_duration, each with a request-count guard", () => {
    const exported = JSON.parse(exportSlos(hastecrmSlos, 'k6-thresholds')) as { thresholds: unknown; skipped: { slo: string; reason: string }[] };
    expect(exported.thresholds).toEqual({
      http_req_failed: ['rate<=0.01'],
      http_reqs: ['count>=20'],
      http_req_duration: ['p(95)<500'],
      'http_req_failed{scenario:web}': ['rate<=0.01'],
      'http_reqs{scenario:web}': ['count>=20'],
      'http_req_duration{scenario:web}': ['p(95)<500'],
    });
    const client = hastecrmSlos.filter((slo) => slo.side === 'client').map((slo) => slo.name);
    expect(exported.skipped.map((s) => s.slo)).toEqual(hastecrmSlos.filter((slo) => !client.includes(slo.name)).map((slo) => slo.name));
    expect(exported.skipped[0]?.reason).toMatch(/server-side/);
  });

  it('aborts on critical SLOs, drops scrape labels, and lists what it cannot express', () => {
    const base = { description: '', side: 'client' as const, phases: ['overall' as const], minSamples: 50 };
    const critical: RatioSlo = {
      ...base,
      name: 'checkout-success',
      kind: 'ratio',
      severity: 'critical',
      good: 'k6_http_reqs_total{job="k6",scenario="checkout",expected_response="true"}',
      total: 'k6_http_reqs_total{job="k6",scenario="checkout"}',
      objective: 0.999,
    };
    const regex: LatencySlo = { ...base, name: 'regex-latency', kind: 'latency', severity: 'error', histogram: 'k6_http_req_duration_seconds', matchers: 'name=~"GET .*"', quantile: 0.99, thresholdMs: 800 };
    const byStatus: RatioSlo = { ...base, name: 'by-status', kind: 'ratio', severity: 'error', good: 'k6_http_reqs_total{status!~"5.."}', total: 'k6_http_reqs_total', objective: 0.99 };
    const warning: LatencySlo = { ...regex, name: 'warning-latency', severity: 'warning', matchers: 'scenario="api"' };
    const query: QuerySlo = { ...base, name: 'throughput', kind: 'query', severity: 'error', expr: 'sum(rate(k6_http_reqs_total[$window]))', op: '>=', bound: 40, samples: 'sum(increase(k6_http_reqs_total[$window]))' };
    const exported = JSON.parse(exportSlos([critical, regex, byStatus, warning, query], 'k6-thresholds', { k6: { delayAbortEval: '30s' } })) as unknown;
    expect(exported).toEqual({
      thresholds: {
        'http_req_failed{scenario:checkout}': [{ threshold: 'rate<=0.001', abortOnFail: true, delayAbortEval: '30s' }],
        'http_reqs{scenario:checkout}': ['count>=50'],
      },
      skipped: [
        { slo: 'regex-latency', reason: 'only equality matchers with plain values map to k6 sub-metric tags' },
        { slo: 'by-status', reason: 'only good = total{expected_response="true"} maps to k6 (http_req_failed)' },
        { slo: 'warning-latency', reason: expect.stringMatching(/severity warning/) as unknown },
        { slo: 'throughput', reason: 'a PromQL query has no k6 equivalent' },
      ],
    });
  });
});

describe('exportSlos: prometheus-rules', () => {
  let rules: string;
  beforeAll(async () => {
    rules = exportSlos(hastecrmSlos, 'prometheus-rules');
    await writeFile(path.join(dir, 'slo-rules.yml'), rules);
  });

  it('records each server-side SLO’s value and sample count over 5m and alerts on violations, with the SLO’s severity', () => {
    const file = parse(rules) as { groups: { name: string; rules: Record<string, unknown>[] }[] };
    expect(file.groups.map((g) => g.name)).toEqual(['hastecrm-slos']);
    const byName = new Map(file.groups[0]!.rules.map((rule) => [String(rule.record ?? rule.alert), rule]));
    const serverSlos = hastecrmSlos.filter((slo) => slo.side === 'server' && slo.kind !== 'alert');
    expect(byName.size).toBe(serverSlos.length * 3);
    expect(byName.get('slo:api_server_success_ratio:samples_5m')).toEqual({
      record: 'slo:api_server_success_ratio:samples_5m',
      expr: 'sum ((increase(http_requests_total{job="hastecrm-api"}[5m]) and last_over_time(http_requests_total{job="hastecrm-api"}[5m] offset 5m)) or (((increase(http_requests_total{job="hastecrm-api"}[5m]) >= max_over_time(http_requests_total{job="hastecrm-api"}[5m])) or max_over_time(http_requests_total{job="hastecrm-api"}[5m])) unless last_over_time(http_requests_total{job="hastecrm-api"}[5m] offset 5m)))',
      labels: { slo: 'api-server-success-ratio' },
    });
    expect(byName.get('ApiServerLatencyP95SLOViolated')).toMatchObject({
      expr: 'slo:api_server_latency_p95:p95_ms_5m >= 500 and on () slo:api_server_latency_p95:samples_5m >= 20',
      for: '5m',
      labels: { severity: 'error', slo: 'api-server-latency-p95' },
    });
    expect(byName.get('ApiErrorRateBelowAlertSLOViolated')).toMatchObject({ expr: expect.stringMatching(/^slo:api_error_rate_below_alert:value_5m > 0\.05 and on \(\)/) as unknown, labels: { severity: 'critical' } });
    expect(byName.get('WorkersJobSuccessRatioSLOViolated')).toMatchObject({ expr: expect.stringMatching(/ratio_5m < 0\.99 and on \(\) .*samples_5m >= 10$/) as unknown });
    expect(rules).toMatch(/^# skipped api-client-success-ratio: client-side/m);
    expect(rules).toMatch(/^# skipped api-no-critical-alert: production alerting pages on those alerts themselves/m);
    expect(rules).not.toMatch(/[&*]a\d/); // no YAML aliases
  });

  it('passes promtool check rules', async () => {
    const { exitCode, output } = await promtool(['check', 'rules', 'slo-rules.yml']);
    expect(exitCode, output).toBe(0);
    expect(output).toContain('SUCCESS: 21 rules found');
  });

  it('fires at 6 % errors once `for` has passed, not at 0.5 %, not on too few requests (promtool test rules)', async () => {
    const successAnnotations = (value: string): Record<string, string> => ({
      summary: 'SLO api-server-success-ratio violated: ≥ 99% not met over 5m',
      description: `Requests the API replicas answered without a 5xx, from their own metrics. Value ${value} over the last 5m; objective ≥ 99%.`,
    });
    await promtoolTest('slo-rules', rules, [
      {
        name: '6 % errors',
        interval: '1m',
        input_series: [
          { series: apiSeries('status="200"'), values: '0+940x20' },
          { series: apiSeries('status="503"'), values: '0+60x20' },
        ],
        alert_rule_test: [
          { eval_time: '4m', alertname: 'ApiServerSuccessRatioSLOViolated', exp_alerts: [] },
          {
            eval_time: '10m',
            alertname: 'ApiServerSuccessRatioSLOViolated',
            exp_alerts: [{ exp_labels: { severity: 'error', slo: 'api-server-success-ratio' }, exp_annotations: successAnnotations('0.94') }],
          },
          {
            eval_time: '10m',
            alertname: 'ApiErrorRateBelowAlertSLOViolated',
            exp_alerts: [
              {
                exp_labels: { severity: 'critical', slo: 'api-error-rate-below-alert' },
                exp_annotations: {
                  summary: 'SLO api-error-rate-below-alert violated: ≤ 0.05 not met over 5m',
                  description: "The API's 5xx ratio stays at or under APIHighErrorRate's 5 % threshold (the seed's critical alert). Value 0.06 over the last 5m; objective ≤ 0.05.",
                },
              },
            ],
          },
        ],
        promql_expr_test: [{ expr: 'slo:api_server_success_ratio:ratio_5m', eval_time: '10m', exp_samples: [{ labels: 'slo:api_server_success_ratio:ratio_5m{slo="api-server-success-ratio"}', value: 0.94 }] }],
      },
      {
        name: '0.5 % errors',
        interval: '1m',
        input_series: [
          { series: apiSeries('status="200"'), values: '0+995x20' },
          { series: apiSeries('status="500"'), values: '0+5x20' },
        ],
        alert_rule_test: [
          { eval_time: '10m', alertname: 'ApiServerSuccessRatioSLOViolated', exp_alerts: [] },
          { eval_time: '20m', alertname: 'ApiErrorRateBelowAlertSLOViolated', exp_alerts: [] },
        ],
      },
      {
        name: 'too few requests to judge',
        interval: '1m',
        input_series: [
          { series: apiSeries('status="200"'), values: '0+1x20' },
          { series: apiSeries('status="500"'), values: '0+1x20' },
        ],
        alert_rule_test: [{ eval_time: '15m', alertname: 'ApiServerSuccessRatioSLOViolated', exp_alerts: [] }],
      },
    ]);
  });
});

describe('exportSlos: flagger-metric-template', () => {
  let documents: { contents: unknown; comment: string }[];
  beforeAll(() => {
    const text = exportSlos(hastecrmSlos, 'flagger-metric-template', { prometheusUrl: 'http://prometheus.istio-system:9090', flagger: { interval: '30s' } });
    // Each document's leading comment, from the text (the parser attaches comments after `---` to the contents).
    const comments = text.split(/^---$/m).map((part) => /^(?:#.*\n)+/m.exec(part.trimStart())?.[0] ?? '');
    documents = parseAllDocuments(text).map((doc, i) => ({ contents: doc.toJS() as unknown, comment: comments[i] ?? '' }));
  });

  const templates = (): { metadata: { name: string }; spec: { provider: unknown; query: string } }[] =>
    documents.slice(0, -1).map((doc) => doc.contents as { metadata: { name: string }; spec: { provider: unknown; query: string } });

  it('renders a MetricTemplate per server-side SLO, querying the canary’s pods over {{ interval }}', () => {
    const list = templates();
    expect(list.map((t) => t.metadata.name)).toEqual(hastecrmSlos.filter((slo) => slo.side === 'server' && slo.severity !== 'warning').map((slo) => slo.name));
    for (const template of list) {
      expect(template).toMatchObject({ apiVersion: 'flagger.app/v1beta1', kind: 'MetricTemplate', spec: { provider: { type: 'prometheus', address: 'http://prometheus.istio-system:9090' } } });
      expect(template.spec.query).toContain('[{{ interval }}]');
    }
    const ratio = list.find((t) => t.metadata.name === 'api-server-success-ratio')!;
    expect(ratio.spec.query).toMatch(/^100 \* \(/);
    expect(ratio.spec.query).toContain('http_requests_total{job="hastecrm-api",status!~"5..",namespace="{{ namespace }}",pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}');
    expect(documents[0]!.comment).toContain('api-server-success-ratio: ≥ 99% (in percent here');
  });

  it('lists the Canary analysis metrics with thresholdRange from the SLOs (the seed’s min 99, max 500)', () => {
    const analysis = documents.at(-1)!;
    expect(analysis.comment).toMatch(/^# Not a Kubernetes object: merge into the Canary as spec\.analysis\.metrics\./);
    expect(analysis.comment).toContain('skipped api-client-success-ratio: client-side');
    const metrics = (analysis.contents as { analysis: { metrics: unknown[] } }).analysis.metrics;
    expect(metrics.slice(0, 4)).toEqual([
      { name: 'api-server-success-ratio', templateRef: { name: 'api-server-success-ratio' }, thresholdRange: { min: 99 }, interval: '30s' },
      { name: 'api-server-latency-p95', templateRef: { name: 'api-server-latency-p95' }, thresholdRange: { max: 500 }, interval: '30s' },
      { name: 'api-error-rate-below-alert', templateRef: { name: 'api-error-rate-below-alert' }, thresholdRange: { max: 0.05 }, interval: '30s' },
      { name: 'api-no-critical-alert', templateRef: { name: 'api-no-critical-alert' }, thresholdRange: { max: 0 }, interval: '30s' },
    ]);
    const namespaced = parseAllDocuments(exportSlos(apiSlos, 'flagger-metric-template', { flagger: { namespace: 'flagger' } })).map((doc) => doc.toJS() as Record<string, unknown>);
    expect(namespaced[0]).toMatchObject({ metadata: { name: 'api-server-success-ratio', namespace: 'flagger' } });
    expect(namespaced.at(-1)).toMatchObject({ analysis: { metrics: [{ templateRef: { name: 'api-server-success-ratio', namespace: 'flagger' } }, {}] } });
  });

  it('computes the canary pods’ success percentage (not the primary’s), and nothing on too few requests (promtool)', async () => {
    const query = (name: string): string => flaggerQuery(templates().find((t) => t.metadata.name === name)!.spec.query);
    const canary = 'namespace="hastecrm-production",pod="hastecrm-api-7c9d8b6f5-x2k4p"';
    const primary = 'namespace="hastecrm-production",pod="hastecrm-api-primary-6b5f4c7d8-q9w8e"';
    await promtoolTest('flagger', undefined, [
      {
        name: 'canary at 95 %, primary healthy',
        interval: '1m',
        input_series: [
          { series: apiSeries(`${canary},status="200"`), values: '0+95x10' },
          { series: apiSeries(`${canary},status="500"`), values: '0+5x10' },
          { series: apiSeries(`${primary},status="200"`), values: '0+1000x10' },
          { series: apiSeries(`namespace="staging",pod="hastecrm-api-7c9d8b6f5-aaaaa",status="200"`), values: '0+1000x10' },
          { series: 'ALERTS{alertname="APIHighErrorRate",alertstate="firing",severity="critical"}', values: '_x5 1x5' },
          { series: 'prometheus_rule_evaluations_total{job="prometheus",rule_group="hastecrm-critical"}', values: '0+8x10' },
        ],
        promql_expr_test: [
          { expr: query('api-server-success-ratio'), eval_time: '10m', exp_samples: [{ labels: '{}', value: 95 }] },
          { expr: query('api-no-critical-alert'), eval_time: '10m', exp_samples: [{ labels: '{}', value: 1 }] },
          { expr: flaggerQuery(templates().find((t) => t.metadata.name === 'api-no-critical-alert')!.spec.query, '2m'), eval_time: '3m', exp_samples: [{ labels: '{}', value: 0 }] },
        ],
      },
      {
        name: 'too few requests, no rule evaluations: no value (Flagger halts)',
        interval: '1m',
        input_series: [
          { series: apiSeries(`${canary},status="200"`), values: '0+2x10' },
          { series: 'prometheus_rule_evaluations_total{job="prometheus",rule_group="hastecrm-critical"}', values: '8x10' },
        ],
        promql_expr_test: [
          { expr: query('api-server-success-ratio'), eval_time: '10m', exp_samples: [] },
          { expr: query('api-no-critical-alert'), eval_time: '10m', exp_samples: [] },
        ],
      },
    ]);
  });

  it('renders valid PromQL for every template (promtool check rules)', async () => {
    const rules = { groups: [{ name: 'flagger', rules: templates().map((t, i) => ({ record: `flagger_query_${i}`, expr: flaggerQuery(t.spec.query) })) }] };
    await writeFile(path.join(dir, 'flagger-queries.yml'), stringify(rules));
    const { exitCode, output } = await promtool(['check', 'rules', 'flagger-queries.yml']);
    expect(exitCode, output).toBe(0);
  });
});

describe('exportSlos: litmus-promprobe', () => {
  type Probe = { name: string; type: string; mode: string; 'promProbe/inputs': { endpoint: string; query: string; comparator: Record<string, string> }; runProperties: Record<string, unknown> };
  let probes: Probe[];
  beforeAll(() => {
    probes = parse(exportSlos(hastecrmSlos, 'litmus-promprobe', { prometheusUrl: 'http://prometheus.monitoring:9090' })) as Probe[];
  });

  it('renders a promProbe per error/critical SLO with Litmus’s comparator and run properties', () => {
    expect(probes.map((p) => p.name)).toEqual(hastecrmSlos.filter((slo) => slo.severity !== 'warning').map((slo) => slo.name));
    const byName = new Map(probes.map((p) => [p.name, p]));
    expect(byName.get('api-client-success-ratio')).toMatchObject({
      type: 'promProbe',
      mode: 'Continuous',
      'promProbe/inputs': { endpoint: 'http://prometheus.monitoring:9090', comparator: { type: 'float', criteria: '>=', value: '0.99' } },
      runProperties: { probeTimeout: '10s', interval: '5s', retry: 1, probePollingInterval: '5s' },
    });
    expect(byName.get('api-server-latency-p95')?.['promProbe/inputs'].comparator).toEqual({ type: 'float', criteria: '<', value: '500' });
    expect(byName.get('api-error-rate-below-alert')).toMatchObject({ 'promProbe/inputs': { comparator: { criteria: '<=', value: '0.05' } }, runProperties: { stopOnFailure: true } });
    expect(byName.get('api-no-critical-alert')?.['promProbe/inputs'].comparator).toEqual({ type: 'float', criteria: '==', value: '0' });
    expect(byName.get('api-client-success-ratio')?.runProperties).not.toHaveProperty('stopOnFailure');
  });

  it('derives the probe mode from the SLO’s phases, unless one is given', () => {
    const slo = apiSlos[0]!;
    const modeOf = (phases: SloDefinition['phases'], mode?: 'EOT'): unknown => (parse(exportSlos([{ ...slo, phases }], 'litmus-promprobe', mode ? { litmus: { mode } } : {})) as Probe[])[0];
    expect(modeOf(['baseline'])).toMatchObject({ mode: 'SOT' });
    expect(modeOf(['recovery'])).toMatchObject({ mode: 'EOT' });
    expect(modeOf(['baseline', 'recovery'])).toMatchObject({ mode: 'Edge' });
    expect(modeOf(['experiment'])).toMatchObject({ mode: 'OnChaos' });
    expect(modeOf(['baseline', 'experiment'])).toMatchObject({ mode: 'Continuous' });
    expect(modeOf(['overall'], 'EOT')).toMatchObject({ mode: 'EOT' });
    expect((modeOf(['recovery']) as Probe).runProperties).not.toHaveProperty('probePollingInterval');
  });

  it('computes the SLO’s value over the probe window, and nothing below minSamples (promtool)', async () => {
    const query = (name: string): string => probes.find((p) => p.name === name)!['promProbe/inputs'].query;
    await promtoolTest('litmus', undefined, [
      {
        name: '5 % errors at 100 requests a minute',
        interval: '1m',
        input_series: [
          { series: apiSeries('status="200"'), values: '0+95x10' },
          { series: apiSeries('status="500"'), values: '0+5x10' },
        ],
        promql_expr_test: [
          { expr: query('api-server-success-ratio'), eval_time: '10m', exp_samples: [{ labels: '{}', value: 0.95 }] },
          { expr: query('api-error-rate-below-alert'), eval_time: '10m', exp_samples: [{ labels: '{}', value: 0.05 }] },
        ],
      },
      {
        name: '10 requests a minute, fewer than minSamples (20) in the 1m window',
        interval: '1m',
        input_series: [{ series: apiSeries('status="200"'), values: '0+10x10' }],
        promql_expr_test: [{ expr: query('api-server-success-ratio'), eval_time: '10m', exp_samples: [] }],
      },
    ]);
  });
});

describe('exportSlos: query SLOs and options', () => {
  it('makes a query that returns a number a vector, so it can be gated on its samples (promtool check rules)', async () => {
    const throughput: QuerySlo = {
      description: '',
      side: 'server',
      phases: ['overall'],
      minSamples: 5,
      severity: 'error',
      name: 'throughput',
      kind: 'query',
      expr: 'scalar(sum(rate(http_requests_total[$window])))',
      op: '>=',
      bound: 40,
      samples: 'scalar(sum(increase(http_requests_total[$window])))',
    };
    const [probe] = parse(exportSlos([throughput], 'litmus-promprobe')) as { 'promProbe/inputs': { query: string } }[];
    expect(probe?.['promProbe/inputs'].query).toBe(
      '(vector(scalar(sum(rate(http_requests_total[1m]))))) and on () (vector(scalar(sum(increase(http_requests_total[1m])))) >= 5)',
    );
    await writeFile(path.join(dir, 'throughput-rules.yml'), exportSlos([throughput], 'prometheus-rules'));
    const { exitCode, output } = await promtool(['check', 'rules', 'throughput-rules.yml']);
    expect(exitCode, output).toBe(0);
  });

  it('adds no workload matchers to Flagger queries when told so', () => {
    const [template] = parseAllDocuments(exportSlos([apiSlos[2]!], 'flagger-metric-template', { flagger: { workloadMatchers: '' } })).map((doc) => doc.toJS() as { spec: { query: string } });
    expect(template?.spec.query).not.toContain('{{ target }}');
    expect(template?.spec.query).toContain('http_requests_total{job="hastecrm-api",status!~"5.."}[{{ interval }}]');
  });
});

describe('exportSlos: errors', () => {
  it('refuses SLOs that fail the offline query check', () => {
    const bad: QuerySlo = { ...(apiAlertSlos[0] as QuerySlo), expr: 'sum(rate(x))' };
    for (const format of EXPORT_FORMATS) {
      expect(() => exportSlos([bad], format)).toThrow(SloExportError);
    }
    expect(() => exportSlos([bad], 'prometheus-rules')).toThrow(/cannot export invalid SLOs:\n {2}✖ SLO "api-error-rate-below-alert", expr, column 10: rate\(\) needs a range vector/);
  });

  it('refuses malformed options and unknown formats', () => {
    expect(() => exportSlos(apiSlos, 'prometheus-rules', { rules: { window: '5 minutes' } })).toThrow(/rules\.window must be a Prometheus duration/);
    expect(() => exportSlos(apiSlos, 'litmus-promprobe', { litmus: { probeTimeout: '10' } })).toThrow(/litmus\.probeTimeout/);
    expect(() => exportSlos(apiSlos, 'grafana' as never)).toThrow(/unknown export format "grafana"/);
  });
});
