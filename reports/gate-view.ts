import { escapeHtml as e } from './escape.ts';
import type { FigureUnit, GateResult, GateRow } from './gate.ts';

/**
 * Views of a gate result: an aligned text table for the terminal and an HTML fragment for the run
 * report. Both only read the GateResult; names of SLOs and phases come from config and are
 * escaped (HTML) or made inert (terminal control characters).
 */

const VERDICT_LABEL = { pass: 'PASS', fail: 'FAIL', inconclusive: 'INCONCLUSIVE' } as const;
const OUTCOME_LABEL: Record<GateRow['outcome'], string> = { ok: 'ok', better: 'better', regression: 'REGRESSION', 'not-comparable': 'NOT COMPARABLE', 'no-baseline': 'no baseline' };

/** The gate's verdict, the diff table and what the baselines were, for a terminal or a CI log. */
export function formatGateTable(result: GateResult): string {
  const header = [
    `gate ${VERDICT_LABEL[result.verdict]}: ${result.reason}`,
    `run ${result.run.runId} (suite ${result.run.suite}, ${result.run.profile}${result.run.gitCommit ? `, commit ${result.run.gitCommit.slice(0, 12)}` : ''}; its own SLOs: ${result.run.verdict})`,
    result.baselineRuns.length > 0
      ? `compared with ${result.baselineRuns.length} passing run${result.baselineRuns.length === 1 ? '' : 's'} (newest first): ${result.baselineRuns.map((b) => (b.gitCommit ? `${b.runId} @${b.gitCommit.slice(0, 7)}` : b.runId)).join(', ')}`
      : 'compared with no baseline run',
  ];
  const table: string[][] = [['PHASE', 'SLO', 'VALUE', 'MEDIAN', 'SPREAD', 'LIMIT', 'RESULT', 'NOTE']];
  for (const r of result.rows) {
    table.push([r.phase, r.slo, figure(r.value, r.unit), figure(r.baselineMedian, r.unit), spread(r), limit(r), OUTCOME_LABEL[r.outcome] + (r.severity === 'warning' ? ' (warning)' : ''), r.note]);
  }
  const body = result.rows.length > 0 ? alignColumns(table) : ['(the run has no SLO results to compare)'];
  const footer = [
    `a figure regresses beyond median ∓ max(${result.settings.k} × spread, tolerance); tolerance: ratios ${trimNumber(result.settings.tolerance.ratio * 100, 3)} pp, latencies ${trimNumber(result.settings.tolerance.latencyRelative * 100, 1)} % (at least ${result.settings.tolerance.latencyAbsoluteMs} ms), other figures ${trimNumber(result.settings.tolerance.valueRelative * 100, 1)} %`,
    ...result.notes.map((n) => `note: ${n}`),
  ];
  return [...header.map(terminalSafe), '', ...body, '', ...footer.map(terminalSafe)].join('\n');
}

/**
 * The comparison as an HTML fragment (`<section>`) for the run report: it uses the report's own
 * classes (`pill pass|fail|inconclusive`, `tr.fail`, `tr.inconclusive`, `td.num`, `.why`), has
 * no script and no style of its own. Every string is escaped.
 */
export function renderComparisonHtml(result: GateResult): string {
  const rows = result.rows
    .map(
      (r) =>
        `<tr${ROW_CLASS[r.outcome] ? ` class="${ROW_CLASS[r.outcome]}"` : ''} data-phase="${e(r.phase)}" data-slo="${e(r.slo)}" data-outcome="${e(r.outcome)}"><td>${e(r.phase)}</td><td>${e(r.slo)}${r.severity === 'warning' ? ' <span class="tag">warning</span>' : ''}</td>` +
        `<td class="num">${nb(figure(r.value, r.unit))}</td><td class="num">${nb(figure(r.baselineMedian, r.unit))}</td><td class="num">${nb(spread(r))}</td><td class="num">${nb(limit(r))}</td>` +
        `<td>${r.regression || r.outcome === 'not-comparable' ? `<span class="pill ${ROW_CLASS[r.outcome]}">${e(OUTCOME_LABEL[r.outcome])}</span>` : e(OUTCOME_LABEL[r.outcome])}<div class="why">${e(r.note)}</div></td></tr>`,
    )
    .join('');
  const baselines = result.baselineRuns.length
    ? `<p class="hint">Compared with ${result.baselineRuns.length} passing run${result.baselineRuns.length === 1 ? '' : 's'} of suite ${e(result.run.suite)} (${e(result.run.profile)}): ${result.baselineRuns.map((b) => `<code>${e(b.runId)}</code>${b.gitCommit ? ` @${e(b.gitCommit.slice(0, 7))}` : ''}`).join(', ')}.</p>`
    : `<p class="hint">No passing baseline run of suite ${e(result.run.suite)} with this profile.</p>`;
  const notes = result.notes.length ? `<ul class="why">${result.notes.map((n) => `<li>${e(n)}</li>`).join('')}</ul>` : '';
  const t = result.settings.tolerance;
  const rule = `A figure regresses beyond the baselines' median ∓ max(${result.settings.k} × spread, tolerance), spread = 1.4826 × median absolute deviation; tolerance: ratios ${trimNumber(t.ratio * 100, 3)} pp, latencies ${trimNumber(t.latencyRelative * 100, 1)} % (at least ${t.latencyAbsoluteMs} ms), other figures ${trimNumber(t.valueRelative * 100, 1)} %.`;
  const table = result.rows.length
    ? `<table data-testid="gate-table"><thead><tr><th>Phase</th><th>SLO</th><th>Value</th><th>Baseline median</th><th>Spread</th><th>Limit</th><th>Result</th></tr></thead><tbody>${rows}</tbody></table>`
    : `<p class="why">The run has no SLO results to compare.</p>`;
  return `<section data-testid="gate-comparison"><h2>Comparison with earlier runs <span class="pill ${e(result.verdict)}" data-testid="gate-verdict">${e(VERDICT_LABEL[result.verdict])}</span></h2><p data-testid="gate-reason">${e(result.reason)}</p>${baselines}${table}<p class="hint">${e(rule)}</p>${notes}</section>`;
}

/** Escaped, with non-breaking spaces: "≤ 38.3 ms" must not wrap inside a narrow number column. */
function nb(text: string): string {
  return e(text).replaceAll(' ', '&nbsp;');
}

const ROW_CLASS: Record<GateRow['outcome'], string> = { ok: '', better: 'pass', regression: 'fail', 'not-comparable': 'inconclusive', 'no-baseline': '' };

function figure(value: number | null, unit: FigureUnit): string {
  return value === null ? '—' : formatFigure(value, unit);
}

function spread(r: GateRow): string {
  if (r.spread === null) return '—';
  return r.unit === 'ratio' ? `±${trimNumber(r.spread * 100, 2)} pp` : `±${formatFigure(r.spread, r.unit)}`;
}

function limit(r: GateRow): string {
  if (r.limit === null || r.better === null) return '—';
  return `${r.better === 'higher' ? '≥' : '≤'} ${formatFigure(r.limit, r.unit)}`;
}

/** A figure in its unit: 0.99512 → "99.51%", 41.7 → "41.7 ms", 0.0123 → "0.0123". */
export function formatFigure(value: number, unit: FigureUnit): string {
  if (!Number.isFinite(value)) return '—';
  switch (unit) {
    case 'ratio':
      return `${trimNumber(value * 100, 2)}%`;
    case 'ms':
      return `${trimNumber(value, Math.abs(value) < 10 ? 2 : 1)} ms`;
    case 'value':
      return String(Number(value.toPrecision(3)));
  }
}

/** A difference in its unit, signed: "+12.3 ms", "−0.4 pp" (ratios move in percentage points), "±0" for none. */
export function formatDelta(delta: number, unit: FigureUnit): string {
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
  const size = Math.abs(delta);
  switch (unit) {
    case 'ratio':
      return `${sign}${trimNumber(size * 100, 2)} pp`;
    case 'ms':
      return `${sign}${trimNumber(size, size < 10 ? 2 : 1)} ms`;
    case 'value':
      return `${sign}${Number(size.toPrecision(3))}`;
  }
}

function trimNumber(value: number, decimals: number): string {
  return String(Number(value.toFixed(decimals)));
}

/** Pads every column to its widest cell; the last column is left ragged. */
function alignColumns(rows: readonly string[][]): string[] {
  const widths: number[] = [];
  const safeRows = rows.map((row) => row.map((cell) => terminalSafe(cell).replaceAll('\n', '\\n')));
  for (const row of safeRows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(cell))));
  return safeRows.map((row) =>
    row
      .map((safe, i) => {
        return i === row.length - 1 ? safe : safe + ' '.repeat((widths[i] ?? 0) - width(safe));
      })
      .join('  ')
      .trimEnd(),
  );
}

function width(text: string): number {
  return [...text].length;
}

/**
 * Makes text inert on a terminal: control characters (ESC sequences that recolour, move the cursor
 * or retitle the window, carriage returns that overwrite a line) become visible `\x1b`-style
 * escapes. Newlines are kept; everything else is printed as it is.
 */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
