import type { RunResult } from './result.ts';
import type { RecoveryStatus } from '../slo/recovery.ts';
import type { SloPhaseResult, Verdict } from '../slo/types.ts';

/**
 * Figures and verdicts as words, shared by the text views (console, Markdown, JUnit, Grafana), so
 * that the same SLO reads the same in every one of them. Pure: no escaping here; each view escapes
 * for its own syntax.
 */

export const VERDICT_TEXT: Readonly<Record<Verdict, string>> = { pass: 'PASS', fail: 'FAIL', inconclusive: 'INCONCLUSIVE' };

/**
 * An SLO's value in its unit, read from its objective's text as the HTML view does: "612 ms",
 * "98.734 %", "0.0412"; "no value" when there is none (no data, NaN).
 */
export function formatSloValue(s: Pick<SloPhaseResult, 'value' | 'threshold'>): string {
  if (s.value === null || !Number.isFinite(s.value)) return 'no value';
  if (s.threshold.includes('%')) return `${(s.value * 100).toFixed(3)} %`;
  // Whole milliseconds read best from 100 ms up; below that a decimal still says something.
  if (s.threshold.includes('ms')) return `${Math.abs(s.value) >= 100 ? s.value.toFixed(0) : s.value.toFixed(1)} ms`;
  return String(Number(s.value.toPrecision(6)));
}

/** "api-client-latency-p95 in pod-delete: 612 ms (objective < 500 ms)". */
export function describeSloResult(s: SloPhaseResult): string {
  return `${s.slo} in ${s.phase}: ${formatSloValue(s)} (objective ${s.threshold})`;
}

/** Milliseconds as seconds with one decimal: "2.1 s". */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Time to recover as a verdict: recovered (or never degraded) passes; not recovered fails; unknown is inconclusive. */
export function recoveryVerdict(status: RecoveryStatus): Verdict {
  if (status === 'recovered' || status === 'never-degraded') return 'pass';
  return status === 'not-recovered' ? 'fail' : 'inconclusive';
}

export type CanaryResult = RunResult['canary'][number];

/** A canary replay's decision as a verdict: promote/successful pass, rollback/failed fail, halt/inconclusive are inconclusive. */
export function canaryVerdict(c: CanaryResult): Verdict {
  if (c.verdict === 'promote' || c.verdict === 'successful') return 'pass';
  return c.verdict === 'rollback' || c.verdict === 'failed' ? 'fail' : 'inconclusive';
}

/** "flagger hastecrm-api would halt", "argo-rollouts api-analysis inconclusive". */
export function describeCanary(c: CanaryResult): string {
  return `${c.tool} ${c.name} ${c.tool === 'flagger' ? 'would ' : ''}${c.verdict}`;
}

/**
 * Whether the run's verdict included the canary replays (the suite's `canary.gate`). result.json
 * records it in the optional `canaryGate` field; a result without it is read as report-only,
 * which is what the suite's default (`gate: false`) means.
 */
export function canaryGates(result: RunResult): boolean {
  return (result as RunResult & { canaryGate?: unknown }).canaryGate === true;
}

/** The phase the run reports its load in: `overall` (start of load → end of load). */
export function overallPhase(result: RunResult): RunResult['phases'][number] | undefined {
  return result.phases.find((p) => p.kind === 'overall');
}

/**
 * Text safe to print on a terminal: C0 and C1 control characters (ESC starts the sequences that
 * recolour, move the cursor, retitle the window or write to the clipboard) are shown as `\xNN`
 * instead of being sent, and bidirectional overrides (which make a terminal show text in another
 * order than it is) as `\uNNNN`. Newlines and tabs become spaces so one item stays on one line.
 */
export function terminalSafe(text: string): string {
  return text
    .replace(/[\t\n\r]/g, ' ')
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/[\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}
