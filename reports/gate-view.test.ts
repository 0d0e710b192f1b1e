import { describe, expect, it } from 'vitest';
import { gateRun, type GateResult } from './gate.ts';
import { formatDelta, formatFigure, formatGateTable, renderComparisonHtml, terminalSafe } from './gate-view.ts';
import { historyEntry } from './history.ts';
import type { RunResult } from './result.ts';
import { makeRun, passingSeries } from './testdata/history/series.ts';

const hostile = '<script>alert("x")</script>';
const ESC = '\u001b';

/** Renames one SLO in every run (as config could): the names reach both views. */
function renamed(run: RunResult, from: string, to: string): RunResult {
  return { ...run, slos: run.slos.map((s) => (s.slo === from ? { ...s, slo: to } : s)) };
}

function regressedGate(name = 'api-client-latency-p95', phaseName = 'pod-delete'): GateResult {
  const rename = (run: RunResult): RunResult => {
    const r = renamed(run, 'api-client-latency-p95', name);
    return { ...r, slos: r.slos.map((s) => (s.phase === 'pod-delete' ? { ...s, phase: phaseName } : s)), phases: r.phases.map((p) => (p.name === 'pod-delete' ? { ...p, name: phaseName } : p)) };
  };
  const history = passingSeries(6).map((run) => historyEntry(rename(run)));
  return gateRun({ run: rename(makeRun({ index: 6, set: { 'pod-delete': { 'api-client-latency-p95': 180 } } })), history });
}

describe('formatGateTable', () => {
  it('prints the verdict and reason first, then an aligned row per SLO and phase naming the regression', () => {
    const text = formatGateTable(regressedGate());
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^gate FAIL: 1 regression against the last 5 passing runs: api-client-latency-p95 in pod-delete \(180 ms, limit 38\.3 ms\)\.$/);
    expect(lines[2]).toMatch(/^compared with 5 passing runs \(newest first\): api-20261101-070000-0005 @0005c0f, /);
    const header = lines.findIndex((l) => l.startsWith('PHASE'));
    const rows = lines.slice(header + 1, header + 17);
    expect(rows).toHaveLength(16);
    // every column starts where its header does
    for (const column of ['SLO', 'VALUE', 'MEDIAN', 'SPREAD', 'LIMIT', 'RESULT', 'NOTE']) {
      const at = lines[header]!.indexOf(column);
      for (const row of rows) expect(row[at - 1], `column ${column} in "${row}"`).toBe(' ');
      for (const row of rows) expect(row[at], `column ${column} in "${row}"`).not.toBe(' ');
    }
    const regressed = rows.filter((r) => r.includes('REGRESSION'));
    expect(regressed).toEqual([expect.stringMatching(/^pod-delete\s+api-client-latency-p95\s+180 ms\s+30\.6 ms\s+±0\.89 ms\s+≤ 38\.3 ms\s+REGRESSION\s+\+149\.4 ms vs the median/)]);
    expect(lines.at(-1)).toMatch(/^a figure regresses beyond median ∓ max\(3 × spread, tolerance\); tolerance: ratios 0\.5 pp, latencies 25 % \(at least 5 ms\), other figures 25 %$/);
  });

  it('makes control characters from SLO and phase names inert on the terminal', () => {
    const text = formatGateTable(regressedGate(`api-${ESC}[31mred${ESC}]0;pwned\u0007`, 'pod-delete\rOVERWRITTEN\nnext'));
    expect(text).not.toContain(ESC);
    expect(text).not.toContain('\r');
    expect(text).not.toContain('\u0007');
    expect(text).toContain('api-\\x1b[31mred\\x1b]0;pwned\\x07');
    // a newline inside a cell would break the table: the row stays one line
    expect(text.split('\n').filter((l) => l.startsWith('pod-delete\\x0dOVERWRITTEN\\nnext'))).toHaveLength(4);
  });

  it('says when there is nothing to compare', () => {
    const run = makeRun({ index: 0 });
    expect(formatGateTable(gateRun({ run: { ...run, slos: [] }, history: [] }))).toContain('(the run has no SLO results to compare)');
  });
});

describe('renderComparisonHtml', () => {
  it('escapes every name from config and marks the regressed row with the report classes', () => {
    const html = renderComparisonHtml(regressedGate(hostile, `pod-delete"><img src=x onerror=alert(1)>`));
    expect(html).not.toMatch(/<script|<img|onerror=alert\(1\)>/);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toMatch(/^<section data-testid="gate-comparison"><h2>Comparison with earlier runs <span class="pill fail" data-testid="gate-verdict">FAIL<\/span><\/h2>/);
    const regressed = html.match(/<tr class="fail"[^>]*data-outcome="regression">/g);
    expect(regressed).toEqual([`<tr class="fail" data-phase="pod-delete&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" data-slo="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" data-outcome="regression">`]);
    // balanced table: one <tr> per row plus the header, each closed
    expect(html.match(/<tr[ >]/g)).toHaveLength(17);
    expect(html.match(/<\/tr>/g)).toHaveLength(17);
    expect(html).toContain('<code>api-20261101-070000-0005</code> @0005c0f');
  });

  it('shows a fallback and a missing value for what they are', () => {
    const fallback = gateRun({ run: makeRun({ index: 2, verdict: 'inconclusive', set: { recovery: { 'api-server-latency-p95': null } } }), history: passingSeries(2).map((r) => historyEntry(r)) });
    const html = renderComparisonHtml(fallback);
    expect(html).toContain('<span class="pill inconclusive" data-testid="gate-verdict">INCONCLUSIVE</span>');
    expect(html).toContain('Only 2 passing baseline runs of suite &quot;api&quot; with this profile');
    expect(html).toMatch(/<tr class="inconclusive" data-phase="recovery" data-slo="api-server-latency-p95" data-outcome="not-comparable">.*?<td class="num">—<\/td>/);
  });
});

describe('figures', () => {
  it('formats ratios as percent and their changes in percentage points, latencies in ms', () => {
    expect(formatFigure(0.99512, 'ratio')).toBe('99.51%');
    expect(formatFigure(4.7641, 'ms')).toBe('4.76 ms');
    expect(formatFigure(180, 'ms')).toBe('180 ms');
    expect(formatFigure(0.012345, 'value')).toBe('0.0123');
    expect(formatDelta(-0.007, 'ratio')).toBe('−0.7 pp');
    expect(formatDelta(149.4, 'ms')).toBe('+149.4 ms');
    expect(formatDelta(0, 'ms')).toBe('±0 ms');
  });

  it('terminalSafe keeps printable text and newlines', () => {
    expect(terminalSafe('p95 ≤ 38 ms\nok')).toBe('p95 ≤ 38 ms\nok');
    expect(terminalSafe(`${ESC}[2J\u009b`)).toBe('\\x1b[2J\\x9b');
  });
});
