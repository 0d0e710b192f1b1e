import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Verdict } from '../slo/types.ts';
import type { GateResult } from './gate.ts';
import { RESULT_SCHEMA_VERSION, type RunResult } from './result.ts';

/**
 * The run history: a folder CI keeps as an artifact or in a branch.
 *
 * ```
 * <historyDir>/runs/<runId>.json    the run's result.json, as it was written (the source)
 * <historyDir>/gates/<runId>.json   the `resilience gate` outcome for that run, when it was gated
 * <historyDir>/index.json           one line of key figures per run (a cache of the above)
 * ```
 *
 * `runs/` and `gates/` are the source; the index is derived from them and is rebuilt whenever it
 * is missing, unreadable or out of step with `runs/`. Every file is written to a temporary name,
 * fsynced and renamed, so a reader never sees half a file. Meant for one writer at a time (a CI
 * job); two writers at once cannot corrupt anything, at worst one index update is lost, and the
 * next read notices the run missing from the index and rebuilds it.
 */

export const HISTORY_INDEX_VERSION = 1;

/** One line of the index: what a run was and its key figures. */
export interface HistoryEntry {
  runId: string;
  suite: string;
  startedAt: string;
  verdict: Verdict;
  status: RunResult['status'];
  gitCommit?: string;
  /**
   * What the run did, in words ("local, 3 replicas, scenario api at 50 req/s"): runs with
   * different profiles measure different things and are not compared with each other.
   */
  profile: string;
  /**
   * `figures[phase][slo]`: the SLO's value in that phase. `null` when the run had no value or the
   * value was judged inconclusive: it is then not a figure anyone may compare with.
   */
  figures: Record<string, Record<string, number | null>>;
  /** The gate's verdict, when the run was gated and recorded with it. A run the gate failed is never a baseline. */
  gate?: Verdict;
}

export interface HistoryIndex {
  version: typeof HISTORY_INDEX_VERSION;
  runs: HistoryEntry[];
}

/** What reading the history found, beside the entries. */
export interface HistoryRead {
  /** Newest first. */
  entries: HistoryEntry[];
  /** Why the index was rebuilt from `runs/`, when it was. */
  rebuilt?: string;
  /** Files in `runs/` or `gates/` that could not be read; they are left out, never guessed. */
  problems: string[];
}

/** A result.json (or history run file) that is not a run result this version can read. */
export class InvalidRunResultError extends Error {
  override readonly name = 'InvalidRunResultError';
}

/** A run id is used as a file name: letters, digits, `.`, `_`, `-`, not starting with a dot. */
const RUN_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** The line of key figures for one run. */
export function historyEntry(result: RunResult, gate?: Verdict): HistoryEntry {
  const figures: Record<string, Record<string, number | null>> = {};
  for (const s of result.slos) {
    const comparable = s.verdict !== 'inconclusive' && s.value !== null && Number.isFinite(s.value);
    (figures[s.phase] ??= {})[s.slo] = comparable ? s.value : null;
  }
  return {
    runId: result.runId,
    suite: result.suite,
    startedAt: result.startedAt,
    verdict: result.verdict,
    status: result.status,
    ...(result.environment.gitCommit ? { gitCommit: result.environment.gitCommit } : {}),
    profile: runProfile(result),
    figures,
    ...(gate ? { gate } : {}),
  };
}

/** The load profile of a run in words; runs compare only with runs of the same profile. */
export function runProfile(result: RunResult): string {
  const target = `${result.target.type}, ${result.target.replicas} replicas`;
  return result.load ? `${target}, scenario ${result.load.scenario} at ${result.load.targetRate} req/s` : `${target}, no load`;
}

/**
 * Appends a run to the history: writes `runs/<runId>.json` (and `gates/<runId>.json` when a gate
 * outcome is given), then updates the index. Idempotent per run id: recording a run again
 * replaces its entry. Never called concurrently by the harness; safe against a crash at any
 * point (the index is rebuilt from `runs/` if it lags behind).
 */
export async function recordRun(historyDir: string, result: RunResult, options: { gate?: GateResult } = {}): Promise<HistoryEntry> {
  assertRunId(result.runId);
  await mkdir(path.join(historyDir, 'runs'), { recursive: true });
  await writeFileAtomic(path.join(historyDir, 'runs', `${result.runId}.json`), `${JSON.stringify(result, null, 2)}\n`);
  if (options.gate) {
    await mkdir(path.join(historyDir, 'gates'), { recursive: true });
    await writeFileAtomic(path.join(historyDir, 'gates', `${result.runId}.json`), `${JSON.stringify(options.gate, null, 2)}\n`);
  }
  // A corrupt or lagging index is rebuilt here (and then already holds this run); this run's own
  // absence from the index is expected and alone does not cost a rebuild.
  const { entries } = await readHistoryExpecting(historyDir, result.runId);
  const entry = historyEntry(result, options.gate?.verdict ?? entries.find((e) => e.runId === result.runId)?.gate);
  const merged = [entry, ...entries.filter((e) => e.runId !== result.runId)];
  await writeIndex(historyDir, merged);
  return entry;
}

/** Runs of a suite in the history, newest first, optionally only those with a given verdict or status. */
export async function listRuns(historyDir: string, filter: { suite?: string; verdict?: Verdict; status?: RunResult['status'] } = {}): Promise<HistoryEntry[]> {
  const { entries } = await readHistory(historyDir);
  return entries.filter((e) => (filter.suite === undefined || e.suite === filter.suite) && (filter.verdict === undefined || e.verdict === filter.verdict) && (filter.status === undefined || e.status === filter.status));
}

/**
 * Reads the index, newest first. When it is missing, unreadable, or does not list exactly the runs
 * in `runs/`, it is rebuilt from `runs/` and `gates/` and written back (best effort: a read-only
 * history still reads). A history folder that does not exist reads as empty.
 */
export async function readHistory(historyDir: string): Promise<HistoryRead> {
  return readHistoryExpecting(historyDir);
}

/** readHistory, tolerating `pendingRunId` having a run file but no index line yet (recordRun's own write). */
async function readHistoryExpecting(historyDir: string, pendingRunId?: string): Promise<HistoryRead> {
  const runFiles = await listJsonFiles(path.join(historyDir, 'runs'));
  let index: HistoryIndex | undefined;
  let why: string | undefined;
  try {
    index = parseIndex(await readFile(path.join(historyDir, 'index.json'), 'utf8'));
  } catch (error) {
    why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? (runFiles.length > 0 ? 'index.json was missing' : undefined) : `index.json could not be read (${(error as Error).message})`;
  }
  if (index && why === undefined) {
    const indexed = new Set(index.runs.map((e) => e.runId));
    const onDisk = new Set(runFiles.map((f) => f.slice(0, -'.json'.length)));
    const missing = [...onDisk].filter((id) => !indexed.has(id) && id !== pendingRunId);
    const extra = [...indexed].filter((id) => !onDisk.has(id));
    if (missing.length === 0 && extra.length === 0) return { entries: newestFirst(index.runs), problems: [] };
    why = `index.json was out of step with runs/ (${missing.length} run(s) missing from it, ${extra.length} without a run file)`;
  }
  if (why === undefined) return { entries: [], problems: [] };
  // An unreadable run file stays out of the index, so every read rebuilds and reports it again
  // until someone removes or repairs it: loud on purpose, it is a hole in the baselines.
  const rebuilt = await rebuildEntries(historyDir, runFiles);
  try {
    await writeIndex(historyDir, rebuilt.entries);
  } catch {
    // A read-only history (e.g. a downloaded artifact) still reads; the rebuild is redone next time.
  }
  return { entries: rebuilt.entries, rebuilt: why, problems: rebuilt.problems };
}

/** Rebuilds the index from `runs/` and `gates/` and writes it. */
export async function rebuildIndex(historyDir: string): Promise<HistoryRead> {
  const rebuilt = await rebuildEntries(historyDir, await listJsonFiles(path.join(historyDir, 'runs')));
  await writeIndex(historyDir, rebuilt.entries);
  return { entries: rebuilt.entries, rebuilt: 'rebuilt on request', problems: rebuilt.problems };
}

async function rebuildEntries(historyDir: string, runFiles: string[]): Promise<{ entries: HistoryEntry[]; problems: string[] }> {
  const entries: HistoryEntry[] = [];
  const problems: string[] = [];
  for (const file of runFiles) {
    const full = path.join(historyDir, 'runs', file);
    try {
      const result = await readRunResult(full);
      entries.push(historyEntry(result, await readGateVerdict(historyDir, result.runId)));
    } catch (error) {
      problems.push(`${full}: ${(error as Error).message}`);
    }
  }
  return { entries: newestFirst(entries), problems };
}

async function readGateVerdict(historyDir: string, runId: string): Promise<Verdict | undefined> {
  try {
    const parsed = gateFileSchema.safeParse(JSON.parse(await readFile(path.join(historyDir, 'gates', `${runId}.json`), 'utf8')));
    return parsed.success ? parsed.data.verdict : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads and checks a result.json: the fields the history and the gate rely on must be there with
 * the right types (other fields pass through untouched). Throws InvalidRunResultError.
 */
export async function readRunResult(file: string): Promise<RunResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InvalidRunResultError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return parseRunResult(text, file);
}

/** Parses result.json text; see readRunResult. */
export function parseRunResult(text: string, source: string): RunResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InvalidRunResultError(`${source} is not JSON: ${(error as Error).message}`);
  }
  const parsed = runResultSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InvalidRunResultError(`${source} is not a run result of schema version ${RESULT_SCHEMA_VERSION}: ${first.join('; ')}`);
  }
  return raw as RunResult;
}

const verdictSchema = z.enum(['pass', 'fail', 'inconclusive']);

/** The part of RunResult the history and the gate read; the rest passes through. */
const runResultSchema = z.looseObject({
  schemaVersion: z.literal(RESULT_SCHEMA_VERSION),
  runId: z.string().regex(RUN_ID),
  suite: z.string(),
  startedAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected an ISO date' }),
  verdict: verdictSchema,
  reason: z.string(),
  status: z.enum(['completed', 'failed', 'interrupted', 'deadline']),
  target: z.looseObject({ type: z.string(), replicas: z.number() }),
  load: z.looseObject({ scenario: z.string(), targetRate: z.number() }).optional(),
  slos: z.array(
    z.looseObject({
      slo: z.string(),
      phase: z.string(),
      severity: z.enum(['warning', 'error', 'critical']),
      verdict: verdictSchema,
      value: z.number().nullable(),
      threshold: z.string(),
    }),
  ),
  phases: z.array(z.looseObject({ name: z.string() })),
  environment: z.looseObject({ gitCommit: z.string().optional() }),
});

const gateFileSchema = z.looseObject({ verdict: verdictSchema });

const entrySchema = z.object({
  runId: z.string().regex(RUN_ID),
  suite: z.string(),
  startedAt: z.string(),
  verdict: verdictSchema,
  status: z.enum(['completed', 'failed', 'interrupted', 'deadline']),
  gitCommit: z.string().optional(),
  profile: z.string(),
  figures: z.record(z.string(), z.record(z.string(), z.number().nullable())),
  gate: verdictSchema.optional(),
});

const indexSchema = z.object({ version: z.literal(HISTORY_INDEX_VERSION), runs: z.array(entrySchema) });

function parseIndex(text: string): HistoryIndex {
  const parsed = indexSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`not a history index of version ${HISTORY_INDEX_VERSION}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** One run per line, so the index diffs line by line when CI keeps the history in a branch. */
function formatIndex(entries: readonly HistoryEntry[]): string {
  const lines = newestFirst(entries).map((e) => `    ${JSON.stringify(e)}`);
  return `{\n  "version": ${HISTORY_INDEX_VERSION},\n  "runs": [\n${lines.join(',\n')}${lines.length ? '\n' : ''}  ]\n}\n`;
}

async function writeIndex(historyDir: string, entries: readonly HistoryEntry[]): Promise<void> {
  await mkdir(historyDir, { recursive: true });
  await writeFileAtomic(path.join(historyDir, 'index.json'), formatIndex(entries));
}

/** Newest first by start time; ties by run id, so the order is stable. */
function newestFirst(entries: readonly HistoryEntry[]): HistoryEntry[] {
  return [...entries].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || b.runId.localeCompare(a.runId));
}

async function listJsonFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.json') && RUN_ID.test(f.slice(0, -'.json'.length))).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function assertRunId(runId: string): void {
  if (!RUN_ID.test(runId)) throw new InvalidRunResultError(`run id ${JSON.stringify(runId)} cannot be a file name: expected letters, digits, ".", "_" and "-" only`);
}

/** Write to a unique temporary name in the same folder, fsync, rename: readers see the old file or the new one, never half. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
