import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mdCode, mdText } from './markdown.ts';
import { VERDICT_TEXT } from './plain-text.ts';
import type { Reporter } from './reporter.ts';
import type { RunResult } from './result.ts';

/**
 * `grafana-dashboard.json`: a Grafana dashboard (JSON model, schemaVersion 39, Grafana 10.4+) for
 * looking at a run's metrics in Grafana, in the Prometheus that scraped them (or one they were
 * copied to): client and server request rate, error ratio, p95/p99 latency, replicas up, ingress
 * retries and ejections, the load generator's dropped iterations. It opens on the run's time range,
 * and every fault window is an annotation region.
 *
 * Import it (Dashboards → New → Import, or file provisioning) and pick the Prometheus data source.
 *
 * Why the fault windows are annotation *queries*: a dashboard's JSON cannot hold annotation
 * events (Grafana keeps those in its database, created through POST /api/annotations), only
 * queries that produce them. Each window is a query that needs no data, `vector(time())` kept
 * between the window's start and end, which Grafana's Prometheus annotation support turns into one
 * region (consecutive points at most one step apart form a region). `faultWindows()` gives the
 * same windows as annotation events (`time`, `timeEnd`, `text`, `tags`: the body of
 * POST /api/annotations) for whoever wants them stored in Grafana.
 */
export const grafanaDashboardReporter: Reporter = {
  name: 'grafana',
  async write(result, runDir) {
    const file = path.join(runDir, 'grafana-dashboard.json');
    await writeFile(file, `${JSON.stringify(grafanaDashboard(result), null, 2)}\n`);
    return file;
  },
};

/**
 * Scrape jobs of the local target (cluster/targets/local: API_SCRAPE_JOB, INGRESS_SCRAPE_JOB;
 * scripts/pipeline/load-and-chaos.ts: LOAD_SCRAPE_JOB), written out here because reports/ reads
 * results and imports nothing that runs; a test checks they are the same.
 */
export const DASHBOARD_SCRAPE_JOBS = { api: 'hastecrm-api', ingress: 'ingress', load: 'k6' } as const;

/** Grafana's schema version of the JSON model written (Grafana 10.4). */
export const GRAFANA_SCHEMA_VERSION = 39;

/** One fault window as a Grafana annotation event (POST /api/annotations). Times are epoch ms. */
export interface GrafanaAnnotationEvent {
  time: number;
  timeEnd: number;
  text: string;
  tags: string[];
}

/** The experiments' windows, in run order; an experiment that never started (no action, no duration) has none. */
export function faultWindows(result: RunResult): GrafanaAnnotationEvent[] {
  return result.experiments
    .filter((x) => x.end > x.start || x.actions.length > 0)
    .map((x) => {
      const proven = x.actions.filter((a) => a.tookEffect).length;
      const effect = x.tookEffect ? 'took effect' : `not proven${x.reason ? `: ${x.reason}` : ''}`;
      return {
        time: x.start,
        timeEnd: Math.max(x.end, x.start),
        text: `${x.name} (${x.experiment}): ${x.actions.length} action(s), ${proven} proven; ${effect}`,
        tags: ['resilience', 'fault', x.experiment],
      };
    });
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;
/** Every panel's rate window; `$window` is a dashboard variable (5 s fits the harness's 1 s scrapes). */
const W = '$window';

interface Target {
  expr: string;
  legend: string;
}

interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  targets: Target[];
  max?: number;
}

function panels(): PanelSpec[] {
  const { api, ingress, load } = DASHBOARD_SCRAPE_JOBS;
  const clientLatency = (q: number): string => `histogram_quantile(${q}, sum by (le) (rate(k6_http_req_duration_seconds_bucket{job="${load}"}[${W}])))`;
  const serverLatency = (q: number): string => `histogram_quantile(${q}, sum by (le) (rate(http_request_duration_seconds_bucket{job="${api}"}[${W}])))`;
  return [
    {
      title: 'Request rate',
      description: 'Requests per second: sent by the load generator (client), answered by the ingress, and handled by the API replicas (server; retries count again).',
      unit: 'reqps',
      targets: [
        { expr: `sum(rate(k6_http_reqs_total{job="${load}"}[${W}]))`, legend: 'client' },
        { expr: `sum(rate(ingress_requests_total{job="${ingress}"}[${W}]))`, legend: 'ingress' },
        { expr: `sum(rate(http_requests_total{job="${api}"}[${W}]))`, legend: 'server' },
      ],
    },
    {
      title: 'Error ratio',
      description: 'Client: requests without the expected response. Server: 5xx answers of the API replicas.',
      unit: 'percentunit',
      max: 1,
      targets: [
        { expr: `1 - sum(rate(k6_http_reqs_total{job="${load}",expected_response="true"}[${W}])) / sum(rate(k6_http_reqs_total{job="${load}"}[${W}]))`, legend: 'client' },
        { expr: `sum(rate(http_requests_total{job="${api}",status=~"5.."}[${W}])) / sum(rate(http_requests_total{job="${api}"}[${W}]))`, legend: 'server' },
      ],
    },
    {
      title: 'Latency p95 / p99',
      description: 'Client latency counts from each request’s scheduled start (no coordinated omission); server latency is the replicas’ own.',
      unit: 's',
      targets: [
        { expr: clientLatency(0.95), legend: 'client p95' },
        { expr: clientLatency(0.99), legend: 'client p99' },
        { expr: serverLatency(0.95), legend: 'server p95' },
        { expr: serverLatency(0.99), legend: 'server p99' },
      ],
    },
    {
      title: 'Replicas up',
      description: 'API replicas Prometheus scraped successfully, of the replica targets it knows.',
      unit: 'short',
      targets: [
        { expr: `sum(up{job="${api}"})`, legend: 'up' },
        { expr: `count(up{job="${api}"})`, legend: 'targets' },
      ],
    },
    {
      title: 'Ingress retries and ejections',
      description: 'Tries beyond the first per second (the VirtualService retry policy at work), upstreams ejected by passive health checking.',
      unit: 'short',
      targets: [
        { expr: `sum(rate(ingress_retries_total{job="${ingress}"}[${W}]))`, legend: 'retries/s' },
        { expr: `sum(ingress_upstream_ejected{job="${ingress}"})`, legend: 'upstreams ejected' },
      ],
    },
    {
      title: 'Load generator',
      description: 'Dropped iterations mean the generator could not start requests on time: the run is then inconclusive.',
      unit: 'short',
      targets: [
        { expr: `sum(rate(k6_dropped_iterations_total{job="${load}"}[${W}]))`, legend: 'dropped iterations/s' },
        { expr: `sum(k6_vus{job="${load}"})`, legend: 'busy VUs' },
      ],
    },
  ];
}

/** The dashboard's JSON model. Deterministic: the same result gives the same dashboard (uid included). */
export function grafanaDashboard(result: RunResult): Record<string, unknown> {
  const windows = faultWindows(result);
  const timeseries = panels().map((p, i) => ({
    id: i + 2,
    type: 'timeseries',
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    // The harness scrapes every second; without a floor Grafana would step by its default interval.
    interval: '1s',
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: 5 + Math.floor(i / 2) * 8 },
    fieldConfig: { defaults: { unit: p.unit, min: 0, ...(p.max !== undefined ? { max: p.max } : {}), custom: { lineWidth: 1, fillOpacity: 10, showPoints: 'never', spanNulls: false } }, overrides: [] },
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'none' } },
    targets: p.targets.map((t, j) => ({ refId: String.fromCharCode(65 + j), datasource: DATASOURCE, expr: t.expr, legendFormat: t.legend, range: true, instant: false, editorMode: 'code' })),
  }));
  return {
    id: null,
    uid: dashboardUid(result.runId),
    title: `hasteCRM resilience: ${result.suite} ${result.runId} (${VERDICT_TEXT[result.verdict]})`,
    description: result.reason,
    tags: ['resilience', 'hastecrm', result.suite, result.verdict],
    timezone: 'utc',
    editable: true,
    graphTooltip: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    refresh: '',
    schemaVersion: GRAFANA_SCHEMA_VERSION,
    version: 1,
    weekStart: '',
    links: [],
    time: { from: result.startedAt, to: result.finishedAt },
    timepicker: {},
    templating: {
      list: [
        { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0, includeAll: false, multi: false, options: [], refresh: 1, regex: '', skipUrlSync: false },
        {
          name: 'window',
          label: 'Rate window',
          type: 'custom',
          query: '5s,10s,30s,1m',
          current: { selected: true, text: '5s', value: '5s' },
          options: ['5s', '10s', '30s', '1m'].map((v, i) => ({ selected: i === 0, text: v, value: v })),
          hide: 0,
          includeAll: false,
          multi: false,
          skipUrlSync: false,
        },
      ],
    },
    annotations: {
      list: [
        { builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' },
        ...windows.map((w, i) => faultAnnotationQuery(w, i)),
      ],
    },
    panels: [
      { id: 1, type: 'text', title: 'Run', gridPos: { h: 5, w: 24, x: 0, y: 0 }, options: { mode: 'markdown', content: runText(result, windows) } },
      ...timeseries,
    ],
  };
}

/** A region from `time` to `timeEnd`: `vector(time())` exists only between them, so Grafana draws one region. */
function faultAnnotationQuery(w: GrafanaAnnotationEvent, index: number): Record<string, unknown> {
  // Times are epoch seconds with milliseconds; no string from the run enters the PromQL (Grafana
  // would interpolate `$…` in it), only into the annotation's name and text.
  const expr = `vector(time()) >= ${w.time / 1000} <= ${w.timeEnd / 1000}`;
  return {
    name: `Fault ${index + 1}: ${w.text}`,
    datasource: DATASOURCE,
    enable: true,
    hide: false,
    iconColor: 'rgba(245, 54, 54, 0.8)',
    // Grafana ≥ 10 reads `target`; older versions read `expr` and `step` beside it.
    target: { refId: `Fault${index + 1}`, expr, interval: '1s' },
    expr,
    step: '1s',
    titleFormat: 'Fault window',
    // renderLegendFormat expands {{label}}; the run's text must not look like one.
    textFormat: w.text.replaceAll('{{', '{ {').replaceAll('}}', '} }'),
    tagKeys: '',
    useValueForTime: false,
  };
}

/** The text panel: verdict, reason and the fault windows, escaped for Markdown and for Grafana's `$variable` interpolation. */
function runText(result: RunResult, windows: readonly GrafanaAnnotationEvent[]): string {
  const lines = [
    `**${VERDICT_TEXT[result.verdict]}**: ${mdText(result.reason)}`,
    '',
    `Run ${mdCode(result.runId)}, suite ${mdText(result.suite)}, ${mdText(result.startedAt)} → ${mdText(result.finishedAt)}, exit code ${result.exitCode}.`,
    '',
    ...windows.map((w) => `- fault ${mdText(new Date(w.time).toISOString())} → ${mdText(new Date(w.timeEnd).toISOString())}: ${mdText(w.text)}`),
  ];
  // Grafana replaces `$name` and `${…}` in a text panel's content; an entity shows the `$` without
  // that (mdText wrote it as `\$`, which would then show the entity's text).
  return lines.join('\n').replaceAll('\\$', '&#36;').replaceAll('$', '&#36;');
}

/** Grafana uids are at most 40 characters of [A-Za-z0-9_-]; long run ids keep a readable start and a hash. */
function dashboardUid(runId: string): string {
  const clean = runId.replace(/[^A-Za-z0-9_-]/g, '-');
  if (clean.length <= 40 && clean === runId) return clean;
  const hash = createHash('sha256').update(runId).digest('hex').slice(0, 8);
  return `${clean.slice(0, 31)}-${hash}`;
}
