import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode } from '../scripts/exit-codes.ts';
import type { Severity, SloPhaseResult, Verdict } from '../slo/types.ts';
import { formatDelta, formatFigure, formatGateTable } from './gate-view.ts';
import { historyEntry, InvalidRunResultError, readHistory, readRunResult, recordRun, runProfile, type HistoryEntry } from './history.ts';
import type { RunResult } from './result.ts';

/**
 * The release gate: a run's key figures (each SLO's value in each phase) against the same figures
 * of the last N passing runs of the same suite and load profile.
 *
 * A figure regresses when it is worse than the baselines' median by more than their own spread
 * allows, or than a tolerance allows, whichever is larger:
 *
 *     allowance = max(k × spread, tolerance)      spread = 1.4826 × MAD (a robust standard deviation)
 *     limit     = median − allowance  (higher is better: ratios, "≥" objectives)
 *               = median + allowance  (lower is better: latencies, "<" objectives, alert counts)
 *
 * Median and MAD rather than mean and standard deviation: one odd baseline night must not widen
 * the band for everyone. The tolerance is the floor: five identical baselines have no spread, and
 * a release must not fail because p95 moved from 5.0 to 5.1 ms.
 *
 * Fail closed: the run failing its own SLOs fails the gate; a figure that cannot be compared (no
 * value, or its SLO inconclusive) makes the gate inconclusive, never pass. With fewer than
 * MIN_BASELINE_RUNS baselines the gate says so and falls back to the run's own verdict.
 */

/** Tolerances below which a change is never called a regression, whatever the spread. */
export interface GateTolerance {
  /** Drop of a ratio (SLOs with a "%" objective; values 0..1), absolute: 0.005 = half a percentage point. */
  ratio?: number;
  /** Rise of a latency (SLOs with a "ms" objective), relative to the baselines' median: 0.25 = 25 %. */
  latencyRelative?: number;
  /** Rise of a latency in milliseconds that is never a regression: a few ms of jitter on a 5 ms p95 is noise, not a release blocker. */
  latencyAbsoluteMs?: number;
  /** Change of any other figure (query SLOs, alert counts), relative to the median. */
  valueRelative?: number;
}

export const DEFAULT_TOLERANCE: Readonly<Required<GateTolerance>> = { ratio: 0.005, latencyRelative: 0.25, latencyAbsoluteMs: 5, valueRelative: 0.25 };
/** k: how many spreads away from the median a figure may be. 3 keeps a stable history's false alarms rare. */
export const DEFAULT_SPREAD_FACTOR = 3;
/** Below this many baseline runs there is no spread worth the name: fall back to the absolute SLOs. */
export const MIN_BASELINE_RUNS = 3;
export const DEFAULT_LAST = 5;
/** For figures other than ratios and latencies, the floor of the allowance as a fraction of the SLO's bound ("≤ 0.05" → 0.005). */
const VALUE_BOUND_FRACTION = 0.1;
/** MAD × 1.4826 estimates the standard deviation of normally distributed values. */
const MAD_TO_SIGMA = 1.4826;

export type FigureUnit = 'ratio' | 'ms' | 'value';

/** One SLO in one phase: the run's value against its baselines. */
export interface GateRow {
  phase: string;
  slo: string;
  severity: Severity;
  /** Which way is better, read from the SLO's objective ("≥ 99%" → higher, "< 500 ms" → lower); null when it cannot be read. */
  better: 'higher' | 'lower' | null;
  unit: FigureUnit;
  value: number | null;
  baselineMedian: number | null;
  /** The baselines' own spread: 1.4826 × their median absolute deviation. */
  spread: number | null;
  /** The worst value still accepted: median ∓ max(k × spread, tolerance). */
  limit: number | null;
  /** How many baseline runs had this figure. */
  baselineValues: number;
  /** `better`: beyond the allowance on the good side. `no-baseline`: too few baselines with this figure to judge it. */
  outcome: 'ok' | 'better' | 'regression' | 'not-comparable' | 'no-baseline';
  regression: boolean;
  /** Whether this row can decide the gate: warning SLOs are reported only, and nothing is judged in a fallback. */
  gating: boolean;
  /** One sentence for a person: what moved, by how much, against what. */
  note: string;
}

export interface GateResult {
  verdict: Verdict;
  exitCode: typeof ExitCode.Pass | typeof ExitCode.SloFailed | typeof ExitCode.Inconclusive;
  /** One sentence: why this verdict, naming the rows that decided it. */
  reason: string;
  run: { runId: string; suite: string; startedAt: string; verdict: Verdict; reason: string; profile: string; gitCommit?: string };
  /** The baselines used, newest first. */
  baselineRuns: { runId: string; startedAt: string; gitCommit?: string }[];
  /** True when there were too few baselines: the verdict is then the run's own. */
  fallback: boolean;
  settings: { last: number; k: number; minBaselines: number; tolerance: Required<GateTolerance> };
  /** What else a reader should know: runs left out and why. */
  notes: string[];
  /** Ordered by phase as in the run, then by SLO. */
  rows: GateRow[];
}

export interface GateOptions {
  run: RunResult;
  /** Any history entries, in any order; the gate picks the baselines itself. */
  history: readonly HistoryEntry[];
  /** How many of the newest passing runs to compare with. Default 5. */
  last?: number;
  tolerance?: GateTolerance;
  /** k in median ± k × spread. Default 3. */
  k?: number;
  /** Default 3. */
  minBaselines?: number;
}

/** Compares a run with its baselines. Pure: reads nothing, writes nothing. Throws RangeError on invalid options. */
export function gateRun(options: GateOptions): GateResult {
  const { run } = options;
  const last = options.last ?? DEFAULT_LAST;
  const k = options.k ?? DEFAULT_SPREAD_FACTOR;
  const minBaselines = options.minBaselines ?? MIN_BASELINE_RUNS;
  if (!Number.isInteger(last) || last < 1) throw new RangeError(`last must be a whole number ≥ 1, got ${String(last)}`);
  if (!(Number.isFinite(k) && k >= 0)) throw new RangeError(`k must be a number ≥ 0, got ${String(k)}`);
  if (!Number.isInteger(minBaselines) || minBaselines < 1) throw new RangeError(`minBaselines must be a whole number ≥ 1, got ${String(minBaselines)}`);
  const tolerance = resolveTolerance(options.tolerance);
  const profile = runProfile(run);

  const selection = selectBaselines(run, profile, options.history, last);
  const baselines = selection.baselines;
  const fallback = baselines.length < minBaselines;
  const rows = orderRows(run, run.slos).map((s) => compareFigure(s, baselines, { k, tolerance, minBaselines, fallback }));

  const settings = { last, k, minBaselines, tolerance };
  const base = {
    run: { runId: run.runId, suite: run.suite, startedAt: run.startedAt, verdict: run.verdict, reason: run.reason, profile, ...(run.environment.gitCommit ? { gitCommit: run.environment.gitCommit } : {}) },
    baselineRuns: baselines.map((b) => ({ runId: b.runId, startedAt: b.startedAt, ...(b.gitCommit ? { gitCommit: b.gitCommit } : {}) })),
    fallback,
    settings,
    notes: selection.notes,
    rows,
  };

  if (fallback) {
    const found = baselines.length === 0 ? 'No passing baseline run' : `Only ${baselines.length} passing baseline run${baselines.length === 1 ? '' : 's'}`;
    const reason = `${found} of suite "${run.suite}" with this profile (${minBaselines} needed to know the spread): judged by the absolute SLOs only. ${run.reason}`;
    return { verdict: run.verdict, exitCode: exitCodeOf(run.verdict), reason, ...base };
  }

  const of = `the last ${baselines.length} passing run${baselines.length === 1 ? '' : 's'}`;
  const regressions = rows.filter((r) => r.gating && r.regression);
  const incomparable = rows.filter((r) => r.gating && r.outcome === 'not-comparable');
  const compared = rows.filter((r) => r.gating && (r.outcome === 'ok' || r.outcome === 'better' || r.outcome === 'regression')).length;
  const parts: string[] = [];
  let verdict: Verdict = 'pass';
  if (run.verdict === 'fail') {
    verdict = 'fail';
    parts.push(`The run failed its own SLOs: ${run.reason}`);
  }
  if (regressions.length > 0) {
    verdict = 'fail';
    parts.push(`${regressions.length} regression${regressions.length === 1 ? '' : 's'} against ${of}: ${regressions.map(describeRegression).join('; ')}.`);
  }
  if (verdict !== 'fail') {
    if (run.verdict === 'inconclusive') {
      verdict = 'inconclusive';
      parts.push(`The run itself is inconclusive: ${run.reason}`);
    }
    if (incomparable.length > 0) {
      verdict = 'inconclusive';
      parts.push(`${incomparable.length} figure${incomparable.length === 1 ? '' : 's'} could not be compared: ${incomparable.map((r) => `${r.slo} in ${r.phase}`).join(', ')}.`);
    }
  }
  if (verdict === 'pass') {
    // Baseline runs exist but share no figure with this run (new SLOs or phases): as with too few
    // baselines, the run's own SLOs decide, and the reason says that nothing was compared.
    parts.push(
      compared === 0
        ? `No figure of the run has ${minBaselines} baselines among ${of} (new SLOs or phases?): judged by the absolute SLOs only. ${run.reason}`
        : `No regression against ${of} of suite "${run.suite}" (${compared} figure${compared === 1 ? '' : 's'} compared).`,
    );
  }
  return { verdict, exitCode: exitCodeOf(verdict), reason: parts.join(' '), ...base };
}

function resolveTolerance(given: GateTolerance | undefined): Required<GateTolerance> {
  const tolerance = { ...DEFAULT_TOLERANCE, ...given };
  for (const [key, value] of Object.entries(tolerance)) {
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) throw new RangeError(`tolerance.${key} must be a number ≥ 0, got ${String(value)}`);
  }
  return tolerance;
}

/**
 * The last `last` runs before this one of the same suite and profile that passed their SLOs,
 * completed, and were not failed by a gate (else a regression that persists would become the new
 * normal after a few nights).
 */
function selectBaselines(run: RunResult, profile: string, history: readonly HistoryEntry[], last: number): { baselines: HistoryEntry[]; notes: string[] } {
  const startedAt = Date.parse(run.startedAt);
  const earlier = history.filter((e) => e.suite === run.suite && e.runId !== run.runId && Date.parse(e.startedAt) < startedAt);
  const notes: string[] = [];
  const failed = earlier.filter((e) => e.verdict !== 'pass' || e.status !== 'completed');
  const gateFailed = earlier.filter((e) => e.verdict === 'pass' && e.status === 'completed' && e.gate === 'fail');
  const passing = earlier.filter((e) => e.verdict === 'pass' && e.status === 'completed' && e.gate !== 'fail');
  const otherProfile = passing.filter((e) => e.profile !== profile);
  if (failed.length > 0) notes.push(`${failed.length} earlier run${failed.length === 1 ? '' : 's'} that did not pass ${failed.length === 1 ? 'is' : 'are'} not a baseline.`);
  if (gateFailed.length > 0) notes.push(`${gateFailed.length} earlier run${gateFailed.length === 1 ? '' : 's'} that the gate failed ${gateFailed.length === 1 ? 'is' : 'are'} not a baseline.`);
  if (otherProfile.length > 0) {
    const profiles = [...new Set(otherProfile.map((e) => e.profile))];
    notes.push(`${otherProfile.length} passing run${otherProfile.length === 1 ? '' : 's'} with another profile (${profiles.join('; ')}) ${otherProfile.length === 1 ? 'is' : 'are'} not comparable with this one (${profile}).`);
  }
  const sameProfile = passing.filter((e) => e.profile === profile).sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || b.runId.localeCompare(a.runId));
  return { baselines: sameProfile.slice(0, last), notes };
}

/** Rows by phase, in the run's phase order, then by SLO in the order the run lists them. */
function orderRows(run: RunResult, slos: readonly SloPhaseResult[]): SloPhaseResult[] {
  const phaseOrder = new Map(run.phases.map((p, i) => [p.name, i]));
  const sloOrder = new Map<string, number>();
  for (const s of slos) if (!sloOrder.has(s.slo)) sloOrder.set(s.slo, sloOrder.size);
  const rank = (s: SloPhaseResult): [number, number] => [phaseOrder.get(s.phase) ?? phaseOrder.size, sloOrder.get(s.slo) ?? 0];
  return [...slos].sort((a, b) => {
    const [pa, sa] = rank(a);
    const [pb, sb] = rank(b);
    return pa - pb || sa - sb;
  });
}

interface CompareSettings {
  k: number;
  tolerance: Required<GateTolerance>;
  minBaselines: number;
  fallback: boolean;
}

function compareFigure(s: SloPhaseResult, baselines: readonly HistoryEntry[], settings: CompareSettings): GateRow {
  const better = directionOf(s.threshold);
  const unit = unitOf(s.threshold);
  const values = baselines.map((b) => b.figures[s.phase]?.[s.slo]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const warning = s.severity === 'warning';
  const row: GateRow = {
    phase: s.phase,
    slo: s.slo,
    severity: s.severity,
    better,
    unit,
    value: s.value !== null && Number.isFinite(s.value) ? s.value : null,
    baselineMedian: values.length > 0 ? median(values) : null,
    spread: null,
    limit: null,
    baselineValues: values.length,
    outcome: 'ok',
    regression: false,
    gating: !warning && !settings.fallback,
    note: '',
  };
  const reportedOnly = warning ? ' (warning SLO: reported only)' : '';

  if (row.value === null || s.verdict === 'inconclusive') {
    const why = s.reason ? `: ${s.reason}` : '';
    return { ...row, outcome: 'not-comparable', note: `${row.value === null ? 'no value' : 'inconclusive, not comparable'}${why}${reportedOnly}` };
  }
  if (settings.fallback) {
    return { ...row, outcome: 'no-baseline', note: `not judged against baselines (too few); its SLO says ${s.verdict}` };
  }
  if (values.length < settings.minBaselines) {
    // A figure new to this run (a new SLO or phase): the run's own SLO verdict still counts.
    return { ...row, gating: false, outcome: 'no-baseline', note: `only ${values.length} of ${baselines.length} baseline runs have this figure (${settings.minBaselines} needed); judged by its SLO only${reportedOnly}` };
  }
  if (better === null) {
    return { ...row, outcome: 'not-comparable', note: `cannot tell from the objective "${s.threshold}" which way is better${reportedOnly}` };
  }

  const mid = median(values);
  const spread = MAD_TO_SIGMA * median(values.map((v) => Math.abs(v - mid)));
  const allowance = Math.max(settings.k * spread, toleranceFor(unit, mid, s.threshold, settings.tolerance));
  const limit = better === 'higher' ? mid - allowance : mid + allowance;
  // A hair of slack for floating point: a value equal to the limit is accepted.
  const eps = 1e-9 * Math.max(1, Math.abs(limit));
  const worse = better === 'higher' ? row.value < limit - eps : row.value > limit + eps;
  const improved = better === 'higher' ? row.value > mid + allowance + eps : row.value < mid - allowance - eps;
  const delta = formatDelta(row.value - mid, unit);
  const full = { ...row, baselineMedian: mid, spread, limit };
  if (worse) {
    return { ...full, outcome: 'regression', regression: true, note: `${delta} vs the median ${formatFigure(mid, unit)} of ${values.length} runs, beyond the limit ${formatFigure(limit, unit)}${reportedOnly}` };
  }
  if (improved) return { ...full, outcome: 'better', note: `${delta} vs the median: better than the baselines${reportedOnly}` };
  return { ...full, note: `${delta} vs the median, within the limit${reportedOnly}` };
}

/** "≥ 99%", "> 3" → higher is better; "< 500 ms", "≤ 0.05", "no alert … firing" → lower is better. */
export function directionOf(threshold: string): 'higher' | 'lower' | null {
  const t = threshold.trim();
  if (/^(≥|>=|>)/.test(t)) return 'higher';
  if (/^(≤|<=|<)/.test(t) || /^no alert\b/.test(t)) return 'lower';
  return null;
}

/** "≥ 99%" → ratio (values 0..1); "< 500 ms" → ms; anything else → value. */
export function unitOf(threshold: string): FigureUnit {
  const t = threshold.trim();
  if (/%$/.test(t)) return 'ratio';
  if (/\bms$/.test(t)) return 'ms';
  return 'value';
}

function toleranceFor(unit: FigureUnit, mid: number, threshold: string, tolerance: Required<GateTolerance>): number {
  switch (unit) {
    case 'ratio':
      return tolerance.ratio;
    case 'ms':
      return Math.max(tolerance.latencyRelative * Math.abs(mid), tolerance.latencyAbsoluteMs);
    case 'value': {
      const bound = Number(/-?\d+(?:\.\d+)?(?:e-?\d+)?/i.exec(threshold)?.[0] ?? 0);
      return Math.max(tolerance.valueRelative * Math.abs(mid), VALUE_BOUND_FRACTION * Math.abs(bound));
    }
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

function describeRegression(r: GateRow): string {
  return `${r.slo} in ${r.phase} (${r.value === null ? '—' : formatFigure(r.value, r.unit)}, limit ${r.limit === null ? '—' : formatFigure(r.limit, r.unit)})`;
}

function exitCodeOf(verdict: Verdict): GateResult['exitCode'] {
  return verdict === 'pass' ? ExitCode.Pass : verdict === 'fail' ? ExitCode.SloFailed : ExitCode.Inconclusive;
}

// ── The `resilience gate` command ──────────────────────────────────────────────────────────────

export interface GateCommandOptions {
  /** A history folder (index.json, runs/) or a reports folder (<run-id>/result.json per run). */
  baselineDir: string;
  /** The run to gate: its folder or its result.json. Default: the newest run in `reportsDir`. */
  runDir?: string;
  /** Where to look for the newest run when `runDir` is not given. Default `reports/runs`. */
  reportsDir?: string;
  /** As given on the command line; default 5. */
  last?: number | string;
  tolerance?: GateTolerance;
  /** Also record the run and the gate's outcome in `baselineDir` (a history folder). */
  record?: boolean;
}

export interface GateCommandOutcome {
  /** 0 pass · 1 regression or SLO failure · 2 bad arguments · 3 inconclusive. */
  exitCode: typeof ExitCode.Pass | typeof ExitCode.SloFailed | typeof ExitCode.InvalidConfig | typeof ExitCode.Inconclusive;
  /** What to print: the diff table and the verdict, or what is wrong with the arguments. */
  output: string;
  result?: GateResult;
}

/**
 * `resilience gate --baseline <dir> [--last N] [--run <run-dir>]`, without the process around it:
 * reads the run and the baselines, compares, optionally records, and returns what to print and
 * the exit code. Never throws for bad input: that is exit 2 with the reason.
 */
export async function runGateCommand(options: GateCommandOptions): Promise<GateCommandOutcome> {
  const usage = (message: string): GateCommandOutcome => ({ exitCode: ExitCode.InvalidConfig, output: `resilience gate: ${message}\n` });
  const last = parseLast(options.last);
  if (typeof last === 'string') return usage(last);

  if (!(await isDirectory(options.baselineDir))) return usage(`the baseline folder ${options.baselineDir} does not exist or is not a folder`);

  let runFile: string;
  if (options.runDir !== undefined) {
    runFile = (await isDirectory(options.runDir)) ? path.join(options.runDir, 'result.json') : options.runDir;
  } else {
    const reportsDir = options.reportsDir ?? 'reports/runs';
    const newest = await newestRunDir(reportsDir);
    if (!newest) return usage(`no run found in ${reportsDir} (no <run-id>/result.json): give the run with --run <run-dir>`);
    runFile = path.join(newest, 'result.json');
  }
  let run: RunResult;
  try {
    run = await readRunResult(runFile);
  } catch (error) {
    if (error instanceof InvalidRunResultError) return usage(error.message);
    throw error;
  }

  const baselines = await readBaselines(options.baselineDir);
  if (options.record && baselines.kind === 'reports') return usage(`--record needs a history folder, but ${options.baselineDir} holds run folders (reports); give a history folder, e.g. reports/history`);

  let result: GateResult;
  try {
    result = gateRun({ run, history: baselines.entries, last, ...(options.tolerance ? { tolerance: options.tolerance } : {}) });
  } catch (error) {
    if (error instanceof RangeError) return usage(error.message);
    throw error;
  }

  const lines = [formatGateTable(result)];
  if (baselines.rebuilt) lines.push(`note: the history index was rebuilt from runs/: ${baselines.rebuilt}`);
  for (const problem of baselines.problems) lines.push(`note: left out: ${problem}`);
  if (options.record) {
    const entry = await recordRun(options.baselineDir, run, { gate: result });
    lines.push(`recorded ${entry.runId} in ${options.baselineDir} (gate ${result.verdict})`);
  }
  return { exitCode: result.exitCode, output: `${lines.join('\n')}\n`, result };
}

function parseLast(given: number | string | undefined): number | string {
  if (given === undefined) return DEFAULT_LAST;
  const n = typeof given === 'number' ? given : /^\s*\d+\s*$/.test(given) ? Number(given) : NaN;
  return Number.isInteger(n) && n >= 1 ? n : `--last must be a whole number ≥ 1, got ${JSON.stringify(given)}`;
}

/**
 * The baselines in a folder: a history (index.json or runs/) or, failing that, a reports folder of
 * run folders, so `--baseline reports/runs` works before anyone keeps a history.
 */
async function readBaselines(dir: string): Promise<{ kind: 'history' | 'reports'; entries: HistoryEntry[]; rebuilt?: string; problems: string[] }> {
  const names = await readdir(dir);
  const runFolders = await runFoldersIn(dir);
  if (names.includes('index.json') || names.includes('runs') || runFolders.length === 0) {
    const history = await readHistory(dir);
    return { kind: 'history', entries: history.entries, ...(history.rebuilt ? { rebuilt: history.rebuilt } : {}), problems: history.problems };
  }
  const entries: HistoryEntry[] = [];
  const problems: string[] = [];
  for (const folder of runFolders) {
    try {
      entries.push(historyEntry(await readRunResult(path.join(folder, 'result.json'))));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return { kind: 'reports', entries, problems };
}

/** The folder of the newest run (by its start time, not its name) in a reports folder; undefined when there is none. */
export async function newestRunDir(reportsDir: string): Promise<string | undefined> {
  let newest: { dir: string; startedAt: number } | undefined;
  for (const folder of await runFoldersIn(reportsDir)) {
    try {
      const startedAt = Date.parse((await readRunResult(path.join(folder, 'result.json'))).startedAt);
      if (!newest || startedAt > newest.startedAt) newest = { dir: folder, startedAt };
    } catch {
      // Not a readable run (a run still being written, or another schema): not a candidate.
    }
  }
  return newest?.dir;
}

async function runFoldersIn(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const folders: string[] = [];
  for (const name of names.sort()) {
    const file = path.join(dir, name, 'result.json');
    if (await isFile(file)) folders.push(path.join(dir, name));
  }
  return folders;
}

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isFile() ?? false;
}
