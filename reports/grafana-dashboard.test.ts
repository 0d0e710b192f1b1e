import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DASHBOARD_SCRAPE_JOBS, faultWindows, grafanaDashboard, grafanaDashboardReporter, GRAFANA_SCHEMA_VERSION } from './grafana-dashboard.ts';
import { HOSTILE, hostileResult, passResult } from './testdata/fixtures.ts';
import { API_SCRAPE_JOB, INGRESS_SCRAPE_JOB } from '../cluster/targets/local/local-target.ts';
import { LOAD_SCRAPE_JOB } from '../scripts/pipeline/load-and-chaos.ts';
import { queryResultType } from '../slo/query-check.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'grafana-dashboard-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Target {
  refId: string;
  expr: string;
  legendFormat: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  options: { content?: string };
}
interface AnnotationQuery {
  name: string;
  builtIn?: number;
  datasource: { type: string; uid: string };
  target?: { expr: string; interval: string };
  expr?: string;
  textFormat?: string;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  time: { from: string; to: string };
  templating: { list: { name: string; type: string; query: string }[] };
  annotations: { list: AnnotationQuery[] };
  panels: Panel[];
}

const dashboardOf = (r = passResult()): Dashboard => grafanaDashboard(r) as unknown as Dashboard;

describe('grafanaDashboardReporter', () => {
  it('writes grafana-dashboard.json: schema 39, a Prometheus data source variable, the run’s time range', async () => {
    const result = passResult();
    const file = await grafanaDashboardReporter.write(result, tmp);
    expect(file).toBe(path.join(tmp, 'grafana-dashboard.json'));
    const d = JSON.parse(await readFile(file, 'utf8')) as Dashboard;
    expect(d.schemaVersion).toBe(GRAFANA_SCHEMA_VERSION);
    expect(d.schemaVersion).toBe(39);
    expect(d.uid).toBe('api-20261126-115210-bbcb');
    expect(d.title).toBe('hasteCRM resilience: api api-20261126-115210-bbcb (PASS)');
    expect(d.time).toEqual({ from: result.startedAt, to: result.finishedAt });
    expect(d.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(d.templating.list.find((v) => v.name === 'window')).toMatchObject({ type: 'custom' });
  });

  it('has the run’s metrics as panels that all query the chosen data source', () => {
    const d = dashboardOf();
    const graphs = d.panels.filter((p) => p.type === 'timeseries');
    expect(graphs.map((p) => p.title)).toEqual(['Request rate', 'Error ratio', 'Latency p95 / p99', 'Replicas up', 'Ingress retries and ejections', 'Load generator']);
    const exprs = graphs.flatMap((p) => p.targets ?? []).map((t) => t.expr).join('\n');
    for (const metric of ['k6_http_reqs_total', 'http_requests_total', 'k6_http_req_duration_seconds_bucket', 'http_request_duration_seconds_bucket', 'up{', 'ingress_retries_total', 'k6_dropped_iterations_total']) expect(exprs).toContain(metric);
    expect(exprs).toMatch(/histogram_quantile\(0\.95,[\s\S]*histogram_quantile\(0\.99,/);
    for (const p of graphs) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets ?? []) expect(t.datasource, `${p.title} ${t.refId}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
  });

  it("writes only PromQL that Prometheus's grammar parses and type-checks as a vector", () => {
    const d = dashboardOf();
    const exprs = [...d.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr), ...d.annotations.list.flatMap((a) => (a.target ? [a.target.expr] : []))];
    expect(exprs.length).toBeGreaterThan(10);
    // `$window` is the dashboard's variable and the offline checker's placeholder alike.
    for (const expr of exprs) expect(queryResultType(expr), expr).toBe('vector');
  });

  it('lays the panels out on the 24-column grid without overlaps', () => {
    const d = dashboardOf();
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of d.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });

  it('uses the scrape jobs the local target and the load driver register', () => {
    expect(DASHBOARD_SCRAPE_JOBS).toEqual({ api: API_SCRAPE_JOB, ingress: INGRESS_SCRAPE_JOB, load: LOAD_SCRAPE_JOB });
  });
});

describe('fault windows', () => {
  it('are the experiments’ windows as annotation events (time, timeEnd, text)', () => {
    const result = passResult();
    const experiment = result.experiments[0];
    expect(faultWindows(result)).toEqual([{ time: experiment?.start, timeEnd: experiment?.end, text: 'pod-delete (pod-delete): 3 action(s), 3 proven; took effect', tags: ['resilience', 'fault', 'pod-delete'] }]);
    const queries = dashboardOf(result).annotations.list.filter((a) => !a.builtIn);
    expect(queries).toHaveLength(1);
    expect(queries[0]).toMatchObject({ name: 'Fault 1: pod-delete (pod-delete): 3 action(s), 3 proven; took effect', datasource: { uid: '${datasource}' } });
  });

  it('give a region exactly from time to timeEnd when Prometheus evaluates them (promtool, no data needed)', async () => {
    const result = passResult();
    result.experiments = [{ ...result.experiments[0]!, start: 5_500, end: 15_250 }];
    const expr = dashboardOf(result).annotations.list.find((a) => !a.builtIn)?.target?.expr ?? '';
    const at = (seconds: number, present: boolean): Record<string, unknown> => ({ expr, eval_time: `${seconds}s`, exp_samples: present ? [{ labels: '{}', value: seconds }] : [] });
    const file = path.join(tmp, 'fault-window.test.yaml');
    await writeFile(file, stringify({ evaluation_interval: '1s', tests: [{ interval: '1s', input_series: [], promql_expr_test: [at(5, false), at(6, true), at(10, true), at(15, true), at(16, false)] }] }));
    const run = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
    expect(run.status, `promtool test rules:\n${run.stdout}${run.stderr}`).toBe(0);
  });

  it('keep every string from the run out of the PromQL and escape it in the text panel', () => {
    const d = dashboardOf(hostileResult());
    for (const a of d.annotations.list.filter((x) => !x.builtIn)) {
      expect(a.target?.expr).toMatch(/^vector\(time\(\)\) >= [\d.]+ <= [\d.]+$/);
      expect(a.textFormat).not.toContain('{{');
    }
    const text = d.panels.find((p) => p.type === 'text')?.options.content ?? '';
    expect(text).not.toContain('<script>');
    expect(text).not.toContain('$');
    expect(text).toContain('&lt;script&gt;alert("x")&lt;/script&gt;');
    expect(d.title).toContain(HOSTILE);
    expect(d.uid).toBe('api-20261126-115210-bbcb');
  });

  it('give long or unusual run ids a valid Grafana uid (40 characters of letters, digits, - and _ at most)', () => {
    const result = passResult();
    result.runId = `nightly-with-a-very-long-suite-name-20261126-115210-bbcb/../x`;
    expect(dashboardOf(result).uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
  });
});
