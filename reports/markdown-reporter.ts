import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mdCell, mdCode, mdCodeBlock, mdHtml, mdTableRaw, mdText } from './markdown.ts';
import { canaryGates, canaryVerdict, describeCanary, describeSloResult, formatSeconds, formatSloValue, overallPhase, recoveryVerdict, VERDICT_TEXT } from './plain-text.ts';
import type { Reporter } from './reporter.ts';
import type { RunResult } from './result.ts';
import type { SloPhaseResult, Verdict } from '../slo/types.ts';

/**
 * `summary.md`: the run for a CI step summary (`cat summary.md >> $GITHUB_STEP_SUMMARY`) or a
 * pull-request comment. Verdict and reason first, then the per-phase SLO tables, the evidence behind
 * every failing or inconclusive figure, experiments, time to recover, divergence, alerts, the
 * canary replays and where the full report is. Every string from the run is escaped (markdown.ts).
 */
export const markdownReporter: Reporter = {
  name: 'markdown',
  async write(result, runDir) {
    const file = path.join(runDir, 'summary.md');
    await writeFile(file, renderMarkdown(result, { reportPath: displayPath(path.join(runDir, 'index.html')) }));
    return file;
  },
};

export interface MarkdownOptions {
  /** Where the full report is, as the reader should see it (a path or a URL). Default `index.html`. */
  reportPath?: string;
  /**
   * Longest summary in characters. GitHub takes 65,536 characters in a comment; past the limit the
   * queries behind failing checks are left out first (the report keeps them). Default 60,000.
   */
  maxLength?: number;
}

const BADGE: Readonly<Record<Verdict, string>> = { pass: '**PASS**', fail: '**FAIL**', inconclusive: '**INCONCLUSIVE**' };

export function renderMarkdown(r: RunResult, options: MarkdownOptions = {}): string {
  const reportPath = options.reportPath ?? 'index.html';
  const sections = [
    header(r),
    breach(r),
    sloTables(r),
    evidence(r),
    experiments(r),
    recovery(r),
    divergence(r),
    alerts(r),
    canary(r),
    comparison(r),
    load(r),
    errors(r),
    `Full report: ${mdCode(reportPath)}`,
  ];
  const full = joinSections(sections);
  if (full.length <= (options.maxLength ?? 60_000)) return full;
  const short = sections.map((s, i) => (i === 3 && s ? '### Evidence\n\nLeft out to keep this summary within the size of a comment; the full report has the PromQL behind every figure.' : s));
  return joinSections(short);
}

function joinSections(sections: readonly string[]): string {
  return `${sections.filter((s) => s !== '').join('\n\n')}\n`;
}

function header(r: RunResult): string {
  const facts = [
    `suite ${mdText(r.suite)}${r.description ? `: ${mdText(r.description)}` : ''}`,
    `${mdText(r.target.type)} target, ${r.target.replicas} replicas`,
    `started ${mdText(r.startedAt)}`,
    `${formatSeconds(r.durationMs)}`,
    `${mdText(r.status)}, exit code ${r.exitCode}`,
    ...(r.environment.gitCommit ? [`commit ${mdCode(r.environment.gitCommit.slice(0, 12))}`] : []),
  ];
  return [`## Resilience run ${mdCode(r.runId)}: ${BADGE[r.verdict]}`, `${BADGE[r.verdict]}: ${mdText(r.reason)}`, facts.join(' · ')].join('\n\n');
}

function breach(r: RunResult): string {
  if (!r.breach) return '';
  const b = r.breach;
  return `### Stopped early\n\nCritical SLO ${mdCode(b.slo)} failed while the load ran (${mdText(formatSloValue(b))}, objective ${mdText(b.threshold)}); the load and the chaos were stopped there.`;
}

function verdictCell(s: Pick<SloPhaseResult, 'verdict' | 'severity' | 'reason'>): string {
  const badge = s.verdict === 'pass' ? VERDICT_TEXT.pass : BADGE[s.verdict];
  const note = s.severity === 'warning' && s.verdict !== 'pass' ? ' (warning, report only)' : '';
  return `${badge}${note}${s.verdict !== 'pass' && s.reason ? `: ${mdCell(s.reason)}` : ''}`;
}

function sloTables(r: RunResult): string {
  if (r.slos.length === 0) return '### SLOs per phase\n\nNo SLO was evaluated: the run did not reach evaluation.';
  const phases = [...new Set([...r.phases.map((p) => p.name), ...r.slos.map((s) => s.phase)])].filter((name) => r.slos.some((s) => s.phase === name));
  const tables = phases.map((name) => {
    const phase = r.phases.find((p) => p.name === name);
    const span = phase ? ` (${phase.kind}, ${formatSeconds(phase.end - phase.start)})` : '';
    const rows = r.slos
      .filter((s) => s.phase === name)
      .map((s) => [mdCode(s.slo, { inTable: true }), mdCell(s.side), mdCell(formatSloValue(s)), mdCell(s.threshold), String(s.samples), verdictCell(s)]);
    return `#### ${mdText(name)}${mdText(span)}\n\n${mdTableRaw(['SLO', 'Side', 'Value', 'Objective', 'Samples', 'Verdict'], rows, ['left', 'left', 'right', 'left', 'right', 'left'])}`;
  });
  return `### SLOs per phase\n\n${tables.join('\n\n')}`;
}

/** The PromQL behind every check that did not pass, folded: copyable into Prometheus. */
function evidence(r: RunResult): string {
  const notPassed = r.slos.filter((s) => s.verdict !== 'pass');
  if (notPassed.length === 0) return '';
  const blocks = notPassed.map((s) => {
    const facts = `${s.samples} samples over ${s.windowSeconds} s ending ${Number.isFinite(s.evaluatedAt) ? new Date(s.evaluatedAt).toISOString() : String(s.evaluatedAt)}`;
    return `<details><summary>${mdHtml(`${s.verdict}: ${describeSloResult(s)}`)}</summary>\n\n${mdText(facts)}\n\n${mdCodeBlock(s.queries.value, 'promql')}\n\n${mdCodeBlock(s.queries.samples, 'promql')}\n\n</details>`;
  });
  return `### Evidence\n\n${blocks.join('\n\n')}`;
}

function experiments(r: RunResult): string {
  if (r.experiments.length === 0) return '';
  const rows = r.experiments.flatMap((x) => {
    const effect = x.tookEffect ? 'took effect' : `${BADGE.inconclusive}: not proven${x.reason ? `: ${mdCell(x.reason)}` : ''}`;
    if (x.actions.length === 0) return [[mdCell(x.name), effect, ' ', ' ', ' ', ' ']];
    return x.actions.map((a, i) => [i === 0 ? mdCell(x.name) : ' ', i === 0 ? effect : ' ', mdCell(formatSeconds(a.at - x.start)), mdCell(a.action), mdCode(a.target, { inTable: true }), mdCell(a.evidence ?? (a.tookEffect ? 'took effect' : 'not proven'))]);
  });
  return `### Experiments\n\n${mdTableRaw(['Experiment', 'Effect', 'At', 'Action', 'Target', 'Evidence'], rows)}`;
}

function recovery(r: RunResult): string {
  if (r.recovery.length === 0) return '';
  const rows = r.recovery.map((x) => {
    const verdict = recoveryVerdict(x.status);
    const status = verdict === 'pass' ? mdCell(x.status) : `${BADGE[verdict]}: ${mdCell(x.status)}`;
    return [mdCell(x.experiment), mdCode(x.slo, { inTable: true }), status, x.ttrMs === null ? '—' : mdCell(formatSeconds(x.ttrMs)), mdCell(x.reason)];
  });
  return `### Time to recover\n\n${mdTableRaw(['Experiment', 'SLO', 'Status', 'Time to recover', 'Detail'], rows, ['left', 'left', 'left', 'right', 'left'])}`;
}

function divergence(r: RunResult): string {
  if (r.divergence.length === 0) return '';
  const notAgreeing = r.divergence.filter((d) => d.diverged !== false);
  if (notAgreeing.length === 0) return `### Client and server side\n\nThe client and server sides agree in every phase (${mdText(r.divergence[0]?.tolerance ?? '')} tolerance at most).`;
  const rows = notAgreeing.map((d) => [mdCell(d.phase), `${mdCode(d.client.slo, { inTable: true })} vs ${mdCode(d.server.slo, { inTable: true })}`, d.diverged === null ? 'cannot compare' : '**diverged**', mdCell(d.note)]);
  return `### Client and server side\n\n${mdTableRaw(['Phase', 'Client vs server', 'Result', 'Note'], rows)}`;
}

function alerts(r: RunResult): string {
  if (!r.alerts) return `### Alerts\n\n${BADGE.inconclusive}: unknown, the alerts could not be read from Prometheus.`;
  if (r.alerts.length === 0) return '### Alerts\n\nNo alert was pending or firing during the load.';
  const origin = overallPhase(r)?.start ?? 0;
  const rows = r.alerts.map((a) => [mdCode(a.alertname, { inTable: true }), mdCell(a.severity), mdCell(a.state), mdCell(`${formatSeconds(a.from - origin)} → ${formatSeconds(a.to - origin)}`)]);
  return `### Alerts\n\n${mdTableRaw(['Alert', 'Severity', 'State', 'When (from the start of load)'], rows)}`;
}

function canary(r: RunResult): string {
  if (r.canary.length === 0) return '';
  const gates = canaryGates(r);
  const items = r.canary.map((c) => {
    const verdict = canaryVerdict(c);
    const badge = verdict === 'pass' ? VERDICT_TEXT.pass : BADGE[verdict];
    return `- ${badge} ${mdText(describeCanary(c))}${gates ? '' : ' (report only)'}: ${mdText(c.reason)}`;
  });
  return `### Release analysis replay\n\n${gates ? 'These replays gate the run.' : 'Report only: these replays do not change the verdict.'}\n\n${items.join('\n')}`;
}

/** The history gate's comparison, when the run has one: its verdict and the figures that are not fine. */
function comparison(r: RunResult): string {
  const c = r.comparison;
  if (!c) return '';
  const figure = (v: number | null, unit: string): string => (v === null ? '—' : unit === 'ratio' ? `${(v * 100).toFixed(3)} %` : unit === 'ms' ? `${v.toFixed(1)} ms` : String(Number(v.toPrecision(6))));
  const head = `${BADGE[c.verdict]}: ${mdText(c.reason)} (${c.baselineRuns.length} baseline run${c.baselineRuns.length === 1 ? '' : 's'}${c.fallback ? ', too few: absolute SLOs only' : ''})`;
  const notable = c.rows.filter((row) => row.outcome !== 'ok' && row.outcome !== 'better');
  if (notable.length === 0) return `### Compared with the last passing runs\n\n${head}\n\nEvery figure is within its baselines' spread.`;
  const rows = notable.map((row) => [mdCell(row.phase), mdCode(row.slo, { inTable: true }), mdCell(figure(row.value, row.unit)), mdCell(figure(row.baselineMedian, row.unit)), mdCell(figure(row.limit, row.unit)), row.regression ? `**${mdCell(row.outcome)}**` : mdCell(row.outcome), mdCell(row.note)]);
  return `### Compared with the last passing runs\n\n${head}\n\n${mdTableRaw(['Phase', 'SLO', 'Value', 'Baseline median', 'Limit', 'Outcome', 'Note'], rows, ['left', 'left', 'right', 'right', 'right', 'left', 'left'])}`;
}

function load(r: RunResult): string {
  const l = r.load;
  if (!l) return '';
  const errors = Object.entries(l.errorsByKind).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
  const line = `${l.requests} of ${l.scheduled} scheduled requests, ${l.achievedRatePerSec.toFixed(1)}/s of ${l.targetRate}/s, ${l.errors} errors${errors ? ` (${errors})` : ''}, ${l.droppedIterations} dropped; client latency p50 ${l.latencyMs.p50.toFixed(1)} ms, p95 ${l.latencyMs.p95.toFixed(1)} ms, p99 ${l.latencyMs.p99.toFixed(1)} ms (${l.driver}, scenario ${l.scenario}).`;
  const health = l.selfHealth.overloaded ? `\n\n${BADGE.inconclusive}: the load generator was the bottleneck: ${mdText(l.selfHealth.reason ?? 'overloaded')}` : '';
  return `### Load\n\n${mdText(line)}${health}`;
}

function errors(r: RunResult): string {
  if (r.errors.length === 0) return '';
  return `### Errors\n\n${r.errors.map((e) => `- ${mdText(e)}`).join('\n')}`;
}

/** A path relative to the working directory when it is inside it (what a CI log shows), else absolute. */
function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : path.resolve(file);
}
