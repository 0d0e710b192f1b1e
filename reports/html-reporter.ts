import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { escapeHtml as e } from './escape.ts';
import { renderComparisonHtml } from './gate-view.ts';
import type { Reporter } from './reporter.ts';
import type { RunResult } from './result.ts';
import type { Phase, SloPhaseResult, Verdict } from '../slo/types.ts';
import { isLoaded, type RunTimeSeries, type TimeSeries } from '../slo/timeseries.ts';
import { renderLineChart, type ChartSeries, type ChartWindow, type SeriesStyle } from './charts.ts';

/**
 * `index.html`: one self-contained file (inline CSS, no script, no network) that opens offline.
 * Verdict first, then charts over time with the fault windows shaded, then the per-phase SLO table
 * with the PromQL behind each figure.
 */
export const htmlReporter: Reporter = {
  name: 'html',
  async write(result, runDir) {
    const file = path.join(runDir, 'index.html');
    await writeFile(file, renderHtml(result));
    return file;
  },
};

const VERDICT_LABEL: Record<Verdict, string> = { pass: 'PASS', fail: 'FAIL', inconclusive: 'INCONCLUSIVE' };

export function renderHtml(r: RunResult): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(VERDICT_LABEL[r.verdict])} · ${e(r.suite)} · ${e(r.runId)}</title>
<style>${CSS}</style>
</head>
<body>
<header class="verdict ${e(r.verdict)}" data-testid="verdict">
  <div class="badge">${e(VERDICT_LABEL[r.verdict])}</div>
  <div><h1>${e(r.suite)} <small>${e(r.runId)}</small></h1><p class="reason" data-testid="reason">${e(r.reason)}</p></div>
</header>
<main>
${metadata(r)}
${timeline(r)}
${breach(r)}
${charts(r)}
${sloTable(r)}
${experiments(r)}
${recovery(r)}
${divergence(r)}
${alerts(r)}
${canary(r)}
${r.comparison ? renderComparisonHtml(r.comparison) : ''}
${load(r)}
${r.errors.length ? `<section><h2>Errors</h2><ul class="errors">${r.errors.map((x) => `<li><pre>${e(x)}</pre></li>`).join('')}</ul></section>` : ''}
</main>
<footer>hasteCRM resilience harness ${e(r.environment.harnessVersion)} · result schema v${e(r.schemaVersion)} · generated ${e(r.finishedAt)}</footer>
</body>
</html>
`;
}

function metadata(r: RunResult): string {
  const rows: [string, string][] = [
    ['Suite', r.description ? `${r.suite}: ${r.description}` : r.suite],
    ['Target', `${r.target.type}, ${r.target.replicas} replicas, ingress timeout ${r.target.ingress.timeoutMs} ms, ${r.target.ingress.attempts} retries, ${r.target.ingress.perTryTimeoutMs} ms per try`],
    ['Started', r.startedAt],
    ['Duration', `${(r.durationMs / 1000).toFixed(1)} s`],
    ['Status', `${r.status}, exit code ${r.exitCode}`],
    ['Replica restarts', String(r.restarts)],
    ['Git commit', r.environment.gitCommit ?? 'unknown'],
    ['Node', `${r.environment.node} on ${r.environment.platform} (${r.environment.hostname})`],
  ];
  if (r.prometheus) rows.push(['Prometheus', `${r.prometheus.url}, scrape every ${r.prometheus.scrapeIntervalMs} ms`]);
  return `<section><h2>Run</h2><table class="meta">${rows.map(([k, v]) => `<tr><th>${e(k)}</th><td>${e(v)}</td></tr>`).join('')}</table></section>`;
}

function timeline(r: RunResult): string {
  const overall = r.phases.find((p) => p.kind === 'overall');
  if (!overall || overall.end <= overall.start) return '';
  const span = overall.end - overall.start;
  const bars = r.phases
    .filter((p) => p.kind !== 'overall')
    .map((p) => {
      const left = ((p.start - overall.start) / span) * 100;
      const width = Math.max(0.5, ((p.end - p.start) / span) * 100);
      return `<div class="bar ${e(p.kind)}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%" title="${e(phaseTitle(p, overall.start))}">${e(p.name)}</div>`;
    })
    .join('');
  return `<section><h2>Phases</h2><div class="timeline" data-testid="timeline">${bars}</div><p class="hint">Each phase is judged on its own data: instant queries at the phase's end over the phase's range.</p></section>`;
}

function phaseTitle(p: Phase, origin: number): string {
  return `${p.name}: ${((p.start - origin) / 1000).toFixed(1)} s → ${((p.end - origin) / 1000).toFixed(1)} s`;
}

interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  /** Multiplies every value (ratios are shown as percentages). */
  scale?: number;
  integerTicks?: boolean;
  series: { name: string; label: string; style: SeriesStyle }[];
}

const CLIENT: SeriesStyle = { color: '#0969da' };
const SERVER: SeriesStyle = { color: '#bc4c00', dash: 'dashed' };
const QUANTILES = (side: 'client' | 'server'): ChartSpec['series'] => [
  { name: `${side}-latency-p50`, label: 'p50', style: { color: '#1a7f37', dash: 'dotted', width: 2 } },
  { name: `${side}-latency-p95`, label: 'p95', style: { color: '#0969da' } },
  { name: `${side}-latency-p99`, label: 'p99', style: { color: '#8250df', dash: 'dashed' } },
];

/** The report's charts: which series of `RunResult.timeseries` each one draws, and how. */
const CHARTS: readonly ChartSpec[] = [
  {
    id: 'request-rate',
    title: 'Request rate',
    unit: 'req/s',
    series: [
      { name: 'client-request-rate', label: 'client (load driver)', style: CLIENT },
      { name: 'server-request-rate', label: 'server (API replicas)', style: SERVER },
    ],
  },
  {
    id: 'error-ratio',
    title: 'Error ratio',
    unit: '%',
    scale: 100,
    series: [
      { name: 'client-error-ratio', label: 'client: not the expected response', style: CLIENT },
      { name: 'server-error-ratio', label: 'server: 5xx', style: SERVER },
    ],
  },
  { id: 'latency-client', title: 'Latency, client side (from the scheduled start)', unit: 'ms', series: QUANTILES('client') },
  { id: 'latency-server', title: 'Latency, server side (/api routes)', unit: 'ms', series: QUANTILES('server') },
  {
    id: 'replicas',
    title: 'API replicas up',
    unit: 'replicas',
    integerTicks: true,
    series: [
      { name: 'server-replicas-up', label: 'up', style: { color: '#1a7f37', width: 2.25 } },
      { name: 'server-replicas-scraped', label: 'scraped targets', style: { color: '#6e7781', dash: 'dotted' } },
    ],
  },
];

function charts(r: RunResult): string {
  const head = '<section data-testid="charts"><h2>Charts over time</h2>';
  const ts = r.timeseries;
  if (!ts) {
    return `${head}<p class="chart-missing" data-testid="charts-missing">No charts: this result holds no time series. They are collected from Prometheus after the load; a run that stopped before that, or a collection that failed, has none (see Errors).</p></section>`;
  }
  const overall = r.phases.find((p) => p.kind === 'overall');
  const origin = overall?.start ?? ts.start;
  const windows: ChartWindow[] = r.phases
    .filter((p) => p.kind !== 'overall')
    .map((p) => ({ start: p.start, end: p.end, label: p.name, kind: p.kind === 'experiment' ? 'fault' : p.kind === 'baseline' ? 'baseline' : 'recovery' }));
  const hint = `<p class="hint">Seconds from the start of load. Each point is the value over the ${e(ts.windowSeconds)} s ending at it, every ${e(ts.stepSeconds)} s. Shaded: fault windows. A break in a line is missing data, never zero.</p>`;
  const figures = CHARTS.map((spec) => chartFigure(spec, ts, windows, origin)).join('\n');
  return `${head}${hint}<div class="charts">${figures}</div></section>`;
}

/** One chart, or, when none of its series has a point, a notice saying why: never an empty chart that reads as zero. */
function chartFigure(spec: ChartSpec, ts: RunTimeSeries, windows: readonly ChartWindow[], origin: number): string {
  const found = spec.series.map((wanted) => ({ wanted, series: ts.series.find((s) => s.name === wanted.name) }));
  const drawable: ChartSeries[] = [];
  const problems: string[] = [];
  for (const { wanted, series } of found) {
    const problem = seriesProblem(series);
    if (problem !== undefined || series === undefined || !isLoaded(series)) {
      problems.push(`${wanted.label}: ${problem ?? 'not in this result'}`);
      continue;
    }
    const scale = spec.scale ?? 1;
    drawable.push({ label: wanted.label, style: wanted.style, points: series.points.map(([t, v]) => [t, v * scale] as const) });
  }
  const queries = found
    .filter((f) => f.series !== undefined)
    .map((f) => `<div class="why">${e(f.wanted.label)}</div><pre class="promql">${e(f.series?.query ?? '')}</pre>`)
    .join('');
  const promql = queries ? `<details><summary>PromQL</summary>${queries}</details>` : '';
  const notes = problems.map((p) => `<li>${e(p)}</li>`).join('');
  if (drawable.length === 0) {
    return `<figure class="chart" data-chart="${e(spec.id)}"><div class="chart-missing" data-testid="chart-unavailable"><b>${e(spec.title)}</b>: no chart, no data to draw.<ul>${notes}</ul></div><figcaption>${promql}</figcaption></figure>`;
  }
  const svg = renderLineChart({
    title: spec.title,
    unit: spec.unit,
    series: drawable,
    windows,
    origin,
    end: ts.end,
    stepMs: ts.stepSeconds * 1000,
    ...(spec.integerTicks ? { integerTicks: true } : {}),
  });
  const missing = notes ? `<ul class="chart-note" data-testid="chart-partial">${notes}</ul>` : '';
  return `<figure class="chart" data-chart="${e(spec.id)}">${svg}<figcaption>${missing}${promql}</figcaption></figure>`;
}

/** Why a series cannot be drawn, or undefined when it has points. */
function seriesProblem(series: TimeSeries | undefined): string | undefined {
  if (series === undefined) return 'not in this result';
  if (!isLoaded(series)) return `could not be loaded: ${series.error}`;
  if (series.points.length > 0) return undefined;
  return series.nonFinite > 0
    ? `no value at any step (Prometheus returned NaN or ±Inf at ${series.nonFinite} steps: no requests in the window)`
    : 'no data: Prometheus returned no series for this query during the run';
}

function sloTable(r: RunResult): string {
  if (r.slos.length === 0) return `<section><h2>SLOs</h2><p class="inconclusive-text">No SLO was evaluated: the run did not reach evaluation.</p></section>`;
  const byPhase = new Map<string, SloPhaseResult[]>();
  for (const s of r.slos) byPhase.set(s.phase, [...(byPhase.get(s.phase) ?? []), s]);
  const rows = [...byPhase.entries()]
    .map(([phase, results]) =>
      results
        .map(
          (s, i) => `<tr class="${e(s.verdict)}" data-slo="${e(s.slo)}" data-phase="${e(phase)}">
${i === 0 ? `<th rowspan="${results.length}" class="phase">${e(phase)}</th>` : ''}
<td>${e(s.slo)} <span class="tag">${e(s.side)}</span>${s.severity !== 'error' ? ` <span class="tag">${e(s.severity)}</span>` : ''}</td>
<td class="num">${e(formatValue(s))}</td><td>${e(s.threshold)}</td><td class="num">${e(s.samples)}</td>
<td><span class="pill ${e(s.verdict)}">${e(s.verdict)}</span>${s.reason ? `<div class="why">${e(s.reason)}</div>` : ''}</td>
<td><details><summary>PromQL</summary><pre class="promql">${e(s.queries.value)}</pre><pre class="promql">${e(s.queries.samples)}</pre><div class="why">evaluated at ${e(new Date(s.evaluatedAt).toISOString())} over ${e(s.windowSeconds)} s</div></details></td>
</tr>`,
        )
        .join(''),
    )
    .join('');
  return `<section><h2>SLOs per phase</h2><table class="slos" data-testid="slo-table"><thead><tr><th>Phase</th><th>SLO</th><th>Value</th><th>Objective</th><th>Samples</th><th>Verdict</th><th>Query</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function formatValue(s: SloPhaseResult): string {
  if (s.value === null || !Number.isFinite(s.value)) return '—';
  if (s.threshold.includes('%')) return `${(s.value * 100).toFixed(3)} %`;
  if (s.threshold.includes('ms')) return `${s.value.toFixed(1)} ms`;
  return String(Number(s.value.toPrecision(6)));
}

function breach(r: RunResult): string {
  if (!r.breach) return '';
  const b = r.breach;
  return `<section class="breach" data-testid="breach"><h2>Stopped early</h2><p>Critical SLO <b>${e(b.slo)}</b> failed while the load ran (${e(formatValue(b))}, objective ${e(b.threshold)}); the load and the chaos were stopped, and the phases end there.</p></section>`;
}

function recovery(r: RunResult): string {
  if (r.recovery.length === 0) return '';
  const rows = r.recovery
    .map(
      (x) => `<tr class="${x.status === 'recovered' || x.status === 'never-degraded' ? 'pass' : x.status === 'not-recovered' ? 'fail' : 'inconclusive'}"><td>${e(x.experiment)}</td><td>${e(x.slo)}</td><td>${e(x.status)}</td><td class="num">${x.ttrMs === null ? '—' : `${e((x.ttrMs / 1000).toFixed(1))} s`}</td><td>${e(x.reason)}<details><summary>PromQL</summary><pre class="promql">${e(x.query)}</pre></details></td></tr>`,
    )
    .join('');
  return `<section data-testid="recovery"><h2>Time to recover</h2><p class="hint">After each fault, when the objective was met again on a short rolling window and stayed met.</p><table><thead><tr><th>Experiment</th><th>SLO</th><th>Status</th><th>Time to recover</th><th>Detail</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function divergence(r: RunResult): string {
  if (r.divergence.length === 0) return '';
  const rows = r.divergence
    .map(
      (d) => `<tr class="${d.diverged === true ? 'fail' : d.diverged === null ? 'inconclusive' : ''}"><td>${e(d.phase)}</td><td>${e(d.client.slo)}</td><td>${e(d.server.slo)}</td><td>${d.diverged === null ? 'unknown' : d.diverged ? 'diverged' : 'agree'}</td><td>${e(d.note)}</td></tr>`,
    )
    .join('');
  return `<section data-testid="divergence"><h2>Client and server side</h2><table><thead><tr><th>Phase</th><th>Client SLO</th><th>Server SLO</th><th>Result</th><th>Note</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function alerts(r: RunResult): string {
  if (!r.alerts) return `<section data-testid="alerts"><h2>Alerts</h2><p class="inconclusive-text">Unknown: the alerts could not be read from Prometheus.</p></section>`;
  if (r.alerts.length === 0) return `<section data-testid="alerts"><h2>Alerts</h2><p>No alert was pending or firing during the load.</p></section>`;
  const origin = r.phases.find((p) => p.kind === 'overall')?.start ?? 0;
  const rows = r.alerts
    .map((a) => `<tr><td>${e(a.alertname)}</td><td>${e(a.severity)}</td><td>${e(a.state)}</td><td>${e(((a.from - origin) / 1000).toFixed(0))} s → ${e(((a.to - origin) / 1000).toFixed(0))} s</td></tr>`)
    .join('');
  return `<section data-testid="alerts"><h2>Alerts</h2><table><thead><tr><th>Alert</th><th>Severity</th><th>State</th><th>When (from the start of load)</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

const CANARY_CLASS: Record<string, Verdict> = { promote: 'pass', successful: 'pass', rollback: 'fail', failed: 'fail', halt: 'inconclusive', inconclusive: 'inconclusive' };

function canary(r: RunResult): string {
  if (r.canary.length === 0) return '';
  const origin = r.phases.find((p) => p.kind === 'overall')?.start ?? 0;
  const blocks = r.canary
    .map((c) => {
      const head = `<h3>${e(c.tool)} ${e(c.name)} <span class="pill ${CANARY_CLASS[c.verdict] ?? 'inconclusive'}">${c.tool === 'flagger' ? 'would ' : ''}${e(c.verdict)}</span></h3><p>${e(c.reason)}</p>`;
      const notes = c.notes.length ? `<ul class="why">${c.notes.map((n) => `<li>${e(n)}</li>`).join('')}</ul>` : '';
      if (c.tool === 'flagger') {
        const rows = c.checks
          .map(
            (k) => `<tr class="${k.passed ? '' : 'fail'}"><td class="num">${e(k.iteration)}</td><td>${e(((k.at - origin) / 1000).toFixed(0))} s</td><td class="num">${e(k.weight)} %</td><td>${k.metrics
              .map((m) => `${e(m.name)}: ${m.value === null ? 'no data' : e(Number(m.value.toFixed(2)))} (${e(m.outcome)})`)
              .join('<br>')}</td><td class="num">${e(k.failedChecks)}</td></tr>`,
          )
          .join('');
        const table = c.checks.length
          ? `<table><thead><tr><th>Check</th><th>At</th><th>Canary weight</th><th>Metrics</th><th>Failed checks</th></tr></thead><tbody>${rows}</tbody></table>`
          : `<p class="why">No check fitted in the run: each needs ${e(c.intervalSeconds)} s, ${e(c.stepsToPromote)} passing checks to promote.</p>`;
        return `<article>${head}${table}${notes}</article>`;
      }
      const rows = c.metrics.map((m) => `<tr><td>${e(m.name)}</td><td>${e(m.phase)}</td><td class="num">${e(m.successful)}</td><td class="num">${e(m.failed)}</td><td class="num">${e(m.inconclusive)}</td><td class="num">${e(m.error)}</td></tr>`).join('');
      return `<article>${head}<table><thead><tr><th>Metric</th><th>Phase</th><th>Successful</th><th>Failed</th><th>Inconclusive</th><th>Error</th></tr></thead><tbody>${rows}</tbody></table>${notes}</article>`;
    })
    .join('');
  return `<section data-testid="canary"><h2>Release analysis replay</h2>${blocks}</section>`;
}

function experiments(r: RunResult): string {
  if (r.experiments.length === 0) return '';
  const items = r.experiments
    .map(
      (x) => `<article class="experiment"><h3>${e(x.name)} <span class="pill ${x.tookEffect ? 'pass' : 'inconclusive'}">${x.tookEffect ? 'took effect' : 'not proven'}</span></h3>
${x.reason ? `<p class="why">${e(x.reason)}</p>` : ''}
<table><thead><tr><th>At</th><th>Action</th><th>Target</th><th>Evidence</th></tr></thead><tbody>${x.actions
        .map((a) => `<tr><td>${e(((a.at - x.start) / 1000).toFixed(1))} s</td><td>${e(a.action)}</td><td>${e(a.target)}</td><td>${e(a.evidence ?? '')}</td></tr>`)
        .join('')}</tbody></table></article>`,
    )
    .join('');
  return `<section><h2>Experiments</h2>${items}</section>`;
}

function load(r: RunResult): string {
  const l = r.load;
  if (!l) return '';
  const rows: [string, string][] = [
    ['Driver / scenario', `${l.driver} / ${l.scenario}`],
    ['Rate', `${l.targetRate}/s target, ${l.achievedRatePerSec.toFixed(1)}/s achieved`],
    ['Requests', `${l.requests} of ${l.scheduled} scheduled; ${l.droppedIterations} dropped, ${l.interruptedIterations} interrupted`],
    ['Errors', `${l.errors} (${Object.entries(l.errorsByKind).filter(([, n]) => n > 0).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'})`],
    ['Latency (client, from scheduled start)', `p50 ${l.latencyMs.p50.toFixed(1)} ms · p90 ${l.latencyMs.p90.toFixed(1)} · p95 ${l.latencyMs.p95.toFixed(1)} · p99 ${l.latencyMs.p99.toFixed(1)} · max ${l.latencyMs.max.toFixed(1)} ms`],
    ['Load generator health', `${l.selfHealth.overloaded ? `OVERLOADED: ${l.selfHealth.reason ?? ''}` : 'ok'} (event-loop lag max ${l.selfHealth.maxEventLoopLagMs.toFixed(1)} ms, CPU ${(l.selfHealth.meanCpuUtilization * 100).toFixed(0)} %)`],
  ];
  return `<section><h2>Load</h2><table class="meta">${rows.map(([k, v]) => `<tr><th>${e(k)}</th><td>${e(v)}</td></tr>`).join('')}</table></section>`;
}

const CSS = `
:root{--pass:#1a7f37;--fail:#cf222e;--inc:#9a6700;--bg:#fff;--fg:#1f2328;--muted:#656d76;--line:#d0d7de}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header.verdict{display:flex;gap:1.2rem;align-items:center;padding:1.2rem 2rem;color:#fff}
header.pass{background:var(--pass)}header.fail{background:var(--fail)}header.inconclusive{background:var(--inc)}
.badge{font-size:1.6rem;font-weight:700;letter-spacing:.05em;border:2px solid #fff;border-radius:6px;padding:.2rem .8rem}
h1{margin:0;font-size:1.4rem}h1 small{font-weight:400;opacity:.85;font-size:.9rem}.reason{margin:.2rem 0 0}
main{padding:1rem 2rem;max-width:1200px}h2{border-bottom:1px solid var(--line);padding-bottom:.3rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid var(--line);padding:.35rem .6rem;text-align:left;vertical-align:top}
table.meta th{width:16rem;background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
th.phase{background:#f6f8fa}.pill{display:inline-block;border-radius:1rem;padding:0 .6rem;color:#fff;font-weight:600;font-size:.8rem}
.pill.pass{background:var(--pass)}.pill.fail{background:var(--fail)}.pill.inconclusive{background:var(--inc)}
tr.fail td{background:#ffebe9}tr.inconclusive td{background:#fff8c5}.why{color:var(--muted);font-size:.85rem}
.tag{font-size:.75rem;color:var(--muted);border:1px solid var(--line);border-radius:3px;padding:0 .3rem}
pre{white-space:pre-wrap;word-break:break-all;margin:.3rem 0}pre.promql{background:#f6f8fa;padding:.4rem;border-radius:4px;user-select:all}
.timeline{position:relative;height:2.2rem;background:#f6f8fa;border:1px solid var(--line);border-radius:4px}
.bar{position:absolute;top:.25rem;bottom:.25rem;border-radius:3px;color:#fff;font-size:.75rem;overflow:hidden;white-space:nowrap;padding:.2rem .3rem}
.bar.baseline{background:#0969da}.bar.experiment{background:#cf222e}.bar.recovery{background:#1a7f37}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:1rem}
figure.chart{margin:0;break-inside:avoid;page-break-inside:avoid}figure.chart svg{width:100%;height:auto;display:block}figure.chart figcaption{font-size:.85rem}
.chart-missing{border:1px dashed var(--inc);background:#fff8c5;border-radius:4px;padding:.8rem 1rem;margin:0}.chart-missing ul{margin:.4rem 0 0}
.chart-note{color:var(--inc);font-size:.85rem;margin:.3rem 0}.inconclusive-text{color:var(--inc);font-weight:600}
@media print{.charts{display:block}figure.chart{margin-bottom:1rem}}
.hint{color:var(--muted)}.breach{border-left:4px solid var(--fail);padding-left:1rem}.experiment h3{margin-bottom:.3rem}footer{color:var(--muted);padding:1rem 2rem;font-size:.8rem}
`;
