import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyEntry, listRuns, parseRunResult, readHistory, rebuildIndex, recordRun } from './history.ts';
import type { RunResult } from './result.ts';
import { baseResult, makeRun, passingSeries } from './testdata/history/series.ts';

let tmp: string;
let n = 0;
/** A fresh history folder per test, all under one temp dir removed in afterAll. */
const freshDir = (): string => path.join(tmp, `history-${++n}`);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'history-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function indexLines(dir: string): Promise<string[]> {
  return (await readFile(path.join(dir, 'index.json'), 'utf8')).split('\n');
}

describe('historyEntry: the key figures of a run', () => {
  it('holds each SLO value per phase, null where the value is missing or inconclusive', () => {
    const run = makeRun({ index: 3, set: { recovery: { 'api-server-latency-p95': null } } });
    const entry = historyEntry(run);
    expect(entry).toMatchObject({ runId: run.runId, suite: 'api', startedAt: run.startedAt, verdict: 'pass', status: 'completed', gitCommit: run.environment.gitCommit, profile: 'local, 3 replicas, scenario api at 50 req/s' });
    expect(Object.keys(entry.figures)).toEqual(['baseline', 'pod-delete', 'recovery', 'overall']);
    expect(entry.figures['pod-delete']?.['api-client-latency-p95']).toBeCloseTo(30 * 1.02, 9);
    expect(entry.figures['recovery']?.['api-server-latency-p95']).toBeNull();
    // An inconclusive SLO's value, even when there is one, is not a figure to compare with.
    const inconclusive = baseResult();
    inconclusive.slos[0] = { ...inconclusive.slos[0]!, verdict: 'inconclusive', value: 0.4 };
    expect(historyEntry(inconclusive).figures[inconclusive.slos[0].phase]?.[inconclusive.slos[0].slo]).toBeNull();
  });
});

describe('recordRun and listRuns on real files', () => {
  it('writes runs/<runId>.json (the result as it was) and one index line per run; lists newest first', async () => {
    const dir = freshDir();
    const runs = passingSeries(3);
    // recorded out of order: the list is by start time, not by recording order
    for (const run of [runs[1]!, runs[0]!, runs[2]!]) await recordRun(dir, run);
    expect(JSON.parse(await readFile(path.join(dir, 'runs', `${runs[0]!.runId}.json`), 'utf8'))).toEqual(runs[0]);
    const lines = await indexLines(dir);
    // {, "version", "runs": [, 3 run lines, ], }, trailing newline
    expect(lines).toHaveLength(9);
    expect(lines.filter((l) => l.startsWith('    {"runId":'))).toHaveLength(3);
    const listed = await listRuns(dir, { suite: 'api' });
    expect(listed.map((e) => e.runId)).toEqual([runs[2]!.runId, runs[1]!.runId, runs[0]!.runId]);
    expect(listed[0]).toEqual(historyEntry(runs[2]!));
    expect((await readdir(dir)).sort()).toEqual(['index.json', 'runs']);
    expect((await readdir(path.join(dir, 'runs'))).every((f) => !f.endsWith('.tmp'))).toBe(true);
  });

  it('filters by suite, verdict and status; recording a run again replaces its entry', async () => {
    const dir = freshDir();
    await recordRun(dir, makeRun({ index: 0 }));
    await recordRun(dir, makeRun({ index: 1, verdict: 'fail' }));
    await recordRun(dir, makeRun({ index: 2, status: 'interrupted', verdict: 'inconclusive' }));
    await recordRun(dir, makeRun({ index: 3, suite: 'nightly' }));
    expect((await listRuns(dir, { suite: 'api' })).map((e) => e.verdict)).toEqual(['inconclusive', 'fail', 'pass']);
    expect((await listRuns(dir, { suite: 'api', verdict: 'pass' })).map((e) => e.runId)).toEqual([makeRun({ index: 0 }).runId]);
    expect((await listRuns(dir, { status: 'interrupted' })).map((e) => e.runId)).toEqual([makeRun({ index: 2 }).runId]);
    expect((await listRuns(dir, { suite: 'nightly' })).map((e) => e.suite)).toEqual(['nightly']);
    expect(await listRuns(dir)).toHaveLength(4);
    await recordRun(dir, makeRun({ index: 1, verdict: 'pass' }));
    expect((await listRuns(dir, { suite: 'api' })).map((e) => e.verdict)).toEqual(['inconclusive', 'pass', 'pass']);
    expect(await listRuns(dir)).toHaveLength(4);
  });

  it('rebuilds a corrupt index from runs/ and writes it back', async () => {
    const dir = freshDir();
    const runs = passingSeries(4);
    for (const run of runs) await recordRun(dir, run);
    const before = await readHistory(dir);
    expect(before.rebuilt).toBeUndefined();
    await writeFile(path.join(dir, 'index.json'), '{"version": 1, "runs": [ {"runId": "api-1", "suite": ');
    const read = await readHistory(dir);
    expect(read.rebuilt).toMatch(/^index\.json could not be read/);
    expect(read.entries).toEqual(before.entries);
    // healed on disk: the next read uses the index as it is
    expect((await readHistory(dir)).rebuilt).toBeUndefined();
    // a well-formed index of another shape is corrupt too
    await writeFile(path.join(dir, 'index.json'), JSON.stringify({ version: 1, runs: [{ runId: 'x' }] }));
    expect((await listRuns(dir)).map((e) => e.runId)).toEqual(before.entries.map((e) => e.runId));
  });

  it('rebuilds an index that lags behind runs/ or is missing, and leaves out unreadable run files, saying so', async () => {
    const dir = freshDir();
    for (const run of passingSeries(2)) await recordRun(dir, run);
    // a run file that reached runs/ but not the index (a writer crashed in between)
    const extra = makeRun({ index: 5 });
    await writeFile(path.join(dir, 'runs', `${extra.runId}.json`), JSON.stringify(extra));
    const lagging = await readHistory(dir);
    expect(lagging.rebuilt).toBe('index.json was out of step with runs/ (1 run(s) missing from it, 0 without a run file)');
    expect(lagging.entries[0]?.runId).toBe(extra.runId);
    await rm(path.join(dir, 'index.json'));
    await writeFile(path.join(dir, 'runs', 'api-broken.json'), '{ "schemaVersion": 1');
    const missing = await readHistory(dir);
    expect(missing.rebuilt).toBe('index.json was missing');
    expect(missing.entries).toHaveLength(3);
    expect(missing.problems).toEqual([expect.stringMatching(/api-broken\.json is not JSON/)]);
    const rebuilt = await rebuildIndex(dir);
    expect(rebuilt.entries.map((e) => e.runId)).toEqual(missing.entries.map((e) => e.runId));
  });

  it('keeps every run when several are recorded at once (the index catches up on the next read)', async () => {
    const dir = freshDir();
    const runs = passingSeries(6);
    await Promise.all(runs.map((run) => recordRun(dir, run)));
    expect((await listRuns(dir, { suite: 'api' })).map((e) => e.runId)).toEqual([...runs].reverse().map((r) => r.runId));
    expect((await readdir(path.join(dir, 'runs'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reads a history folder that does not exist as empty, and refuses a run id that is not a file name', async () => {
    expect(await readHistory(path.join(tmp, 'never-written'))).toEqual({ entries: [], problems: [] });
    const hostile: RunResult = { ...makeRun({ index: 0 }), runId: '../../escape' };
    await expect(recordRun(freshDir(), hostile)).rejects.toThrow(/run id "\.\.\/\.\.\/escape" cannot be a file name/);
  });
});

describe('parseRunResult', () => {
  it('accepts a real result.json and names the first problems of anything else', () => {
    expect(parseRunResult(JSON.stringify(baseResult()), 'base').runId).toBe(baseResult().runId);
    expect(() => parseRunResult('[]', 'x.json')).toThrow(/x\.json is not a run result of schema version 1: \(root\)/);
    const wrongVersion = { ...baseResult(), schemaVersion: 2 };
    expect(() => parseRunResult(JSON.stringify(wrongVersion), 'v2.json')).toThrow(/v2\.json is not a run result of schema version 1: schemaVersion/);
    const badValue = baseResult();
    (badValue.slos[0] as unknown as { value: string }).value = 'fast';
    expect(() => parseRunResult(JSON.stringify(badValue), 'bad.json')).toThrow(/slos\.0\.value/);
  });
});
