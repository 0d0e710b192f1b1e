import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateRun, runGateCommand, type GateResult, type GateRow } from './gate.ts';
import { historyEntry, listRuns, recordRun } from './history.ts';
import type { RunResult } from './result.ts';
import { makeRun, passingSeries } from './testdata/history/series.ts';

const entries = (runs: readonly RunResult[]) => runs.map((r) => historyEntry(r));
const row = (result: GateResult, phase: string, slo: string): GateRow => {
  const found = result.rows.find((r) => r.phase === phase && r.slo === slo);
  if (!found) throw new Error(`no row for ${slo} in ${phase}; rows: ${result.rows.map((r) => `${r.slo}@${r.phase}`).join(', ')}`);
  return found;
};
const regressions = (result: GateResult) => result.rows.filter((r) => r.regression).map((r) => `${r.slo}@${r.phase}`);

describe('gateRun: a run against the last passing runs of its suite', () => {
  it('passes a stable history: every figure within the spread, compared with the 5 newest passing runs', () => {
    const history = passingSeries(8);
    const result = gateRun({ run: makeRun({ index: 8 }), history: entries(history) });
    expect(result.verdict).toBe('pass');
    expect(result.exitCode).toBe(0);
    expect(result.fallback).toBe(false);
    expect(regressions(result)).toEqual([]);
    expect(result.rows).toHaveLength(16);
    expect(result.rows.every((r) => r.outcome === 'ok' && r.limit !== null && r.baselineValues === 5)).toBe(true);
    // newest first, and only the last 5
    expect(result.baselineRuns.map((b) => b.runId)).toEqual([7, 6, 5, 4, 3].map((i) => history[i]?.runId));
    expect(result.reason).toMatch(/^No regression against the last 5 passing runs of suite "api" \(16 figures compared\)\.$/);
    // rows follow the run's phase order
    expect([...new Set(result.rows.map((r) => r.phase))]).toEqual(['baseline', 'pod-delete', 'recovery', 'overall']);
  });

  it('fails on a latency regression beyond the spread and names the row', () => {
    const result = gateRun({ run: makeRun({ index: 6, set: { 'pod-delete': { 'api-client-latency-p95': 180 } } }), history: entries(passingSeries(6)) });
    expect(result.verdict).toBe('fail');
    expect(result.exitCode).toBe(1);
    expect(regressions(result)).toEqual(['api-client-latency-p95@pod-delete']);
    const r = row(result, 'pod-delete', 'api-client-latency-p95');
    expect(r).toMatchObject({ outcome: 'regression', better: 'lower', unit: 'ms', value: 180 });
    // baselines 1..5 have jitters +4 %, −3 %, +2 %, −5 %, +3 % on 30 ms: median 30.6 ms
    expect(r.baselineMedian).toBeCloseTo(30.6, 6);
    expect(r.limit).toBeGreaterThan(30.6);
    expect(r.limit).toBeLessThan(180);
    expect(r.note).toMatch(/^\+149\.4 ms vs the median 30\.6 ms of 5 runs, beyond the limit/);
    expect(result.reason).toContain('1 regression against the last 5 passing runs: api-client-latency-p95 in pod-delete (180 ms, limit');
  });

  it('passes a small change inside the spread', () => {
    const result = gateRun({ run: makeRun({ index: 6, set: { 'pod-delete': { 'api-client-latency-p95': 35 }, baseline: { 'api-server-latency-p95': 7 } } }), history: entries(passingSeries(6)) });
    expect(result.verdict).toBe('pass');
    expect(row(result, 'pod-delete', 'api-client-latency-p95')).toMatchObject({ outcome: 'ok', regression: false });
    expect(row(result, 'pod-delete', 'api-client-latency-p95').note).toBe('+4.4 ms vs the median, within the limit');
  });

  it("judges against the baselines' own spread: the same rise passes a noisy history and fails a quiet one", () => {
    const run = makeRun({ index: 6, set: { 'pod-delete': { 'api-client-latency-p95': 50 } } });
    const noisy = gateRun({ run, history: entries(passingSeries(6, 0, { noise: 8 })) });
    const quiet = gateRun({ run, history: entries(passingSeries(6, 0, { noise: 0 })) });
    expect(row(noisy, 'pod-delete', 'api-client-latency-p95').spread).toBeGreaterThan(5);
    expect(noisy.verdict).toBe('pass');
    expect(row(quiet, 'pod-delete', 'api-client-latency-p95').spread).toBe(0);
    expect(quiet.verdict).toBe('fail');
    expect(regressions(quiet)).toEqual(['api-client-latency-p95@pod-delete']);
  });

  it('is direction-aware: a lower ratio regresses even within its SLO, a higher ratio or a lower latency does not', () => {
    const history = entries(passingSeries(6, 0, { noise: 0 }));
    const lower = gateRun({ run: makeRun({ index: 6, noise: 0, set: { 'pod-delete': { 'api-client-success-ratio': 0.993 } } }), history });
    expect(lower.verdict).toBe('fail');
    expect(row(lower, 'pod-delete', 'api-client-success-ratio')).toMatchObject({ better: 'higher', unit: 'ratio', outcome: 'regression', limit: expect.closeTo(0.994, 9) as number });
    const better = gateRun({ run: makeRun({ index: 6, noise: 0, set: { 'pod-delete': { 'api-client-success-ratio': 1, 'api-client-latency-p95': 12 } } }), history });
    expect(better.verdict).toBe('pass');
    expect(row(better, 'pod-delete', 'api-client-latency-p95').outcome).toBe('better');
  });

  it('never calls a change below the tolerance a regression, and honours a configured tolerance', () => {
    const history = entries(passingSeries(6, 0, { noise: 0 }));
    // server p95 at 5 ms: +4 ms is under the 5 ms absolute floor; +6 ms is not
    expect(gateRun({ run: makeRun({ index: 6, noise: 0, set: { baseline: { 'api-server-latency-p95': 9 } } }), history }).verdict).toBe('pass');
    expect(regressions(gateRun({ run: makeRun({ index: 6, noise: 0, set: { baseline: { 'api-server-latency-p95': 11 } } }), history }))).toEqual(['api-server-latency-p95@baseline']);
    const run = makeRun({ index: 6, noise: 0, set: { 'pod-delete': { 'api-client-latency-p95': 180 } } });
    expect(gateRun({ run, history, tolerance: { latencyRelative: 10 } }).verdict).toBe('pass');
    expect(gateRun({ run, history, tolerance: { latencyRelative: 0.1 } }).verdict).toBe('fail');
  });

  it('with too few baseline runs says so and falls back to the absolute SLOs', () => {
    const two = entries(passingSeries(2));
    const pass = gateRun({ run: makeRun({ index: 2, set: { 'pod-delete': { 'api-client-latency-p95': 180 } } }), history: two });
    expect(pass).toMatchObject({ verdict: 'pass', exitCode: 0, fallback: true });
    expect(pass.reason).toMatch(/^Only 2 passing baseline runs of suite "api" with this profile \(3 needed to know the spread\): judged by the absolute SLOs only\. All 16 SLO checks passed/);
    expect(pass.rows.every((r) => !r.gating && !r.regression)).toBe(true);
    const failing = gateRun({ run: makeRun({ index: 2, verdict: 'fail', set: { 'pod-delete': { 'api-client-latency-p95': 600 } } }), history: two });
    expect(failing).toMatchObject({ verdict: 'fail', exitCode: 1, fallback: true });
    expect(gateRun({ run: makeRun({ index: 0 }), history: [] }).reason).toMatch(/^No passing baseline run of suite "api"/);
  });

  it('ignores failed runs, runs the gate failed, other load profiles, other suites and later runs as baselines', () => {
    const passing = passingSeries(5);
    const failed = [5, 6, 7].map((index) => makeRun({ index, verdict: 'fail', set: { 'pod-delete': { 'api-client-latency-p95': 600 } } }));
    const interrupted = makeRun({ index: 8, status: 'interrupted', set: { 'pod-delete': { 'api-client-latency-p95': 400 } } });
    const gateFailed = { ...historyEntry(makeRun({ index: 9, set: { 'pod-delete': { 'api-client-latency-p95': 300 } } })), gate: 'fail' as const };
    const otherRate = makeRun({ index: 10, rate: 200, set: { 'pod-delete': { 'api-client-latency-p95': 250 } } });
    const otherSuite = makeRun({ index: 11, suite: 'nightly', set: { 'pod-delete': { 'api-client-latency-p95': 250 } } });
    const later = makeRun({ index: 20, set: { 'pod-delete': { 'api-client-latency-p95': 250 } } });
    const run = makeRun({ index: 12, set: { 'pod-delete': { 'api-client-latency-p95': 180 } } });
    const result = gateRun({ run, history: [...entries([...passing, ...failed, interrupted, otherRate, otherSuite, later, run]), gateFailed] });
    expect(result.baselineRuns.map((b) => b.runId)).toEqual([...passing].reverse().map((r) => r.runId));
    expect(regressions(result)).toEqual(['api-client-latency-p95@pod-delete']);
    expect(result.notes).toEqual([
      '4 earlier runs that did not pass are not a baseline.',
      '1 earlier run that the gate failed is not a baseline.',
      '1 passing run with another profile (local, 3 replicas, scenario api at 200 req/s) is not comparable with this one (local, 3 replicas, scenario api at 50 req/s).',
    ]);
  });

  it('fails when the run fails its own SLOs, even within the spread', () => {
    const near = { 'pod-delete': { 'api-client-latency-p95': 490 } };
    const history = entries(passingSeries(5, 0, { set: near }));
    const result = gateRun({ run: makeRun({ index: 5, verdict: 'fail', set: { 'pod-delete': { 'api-client-latency-p95': 505 } } }), history });
    expect(regressions(result)).toEqual([]);
    expect(result).toMatchObject({ verdict: 'fail', exitCode: 1 });
    expect(result.reason).toMatch(/^The run failed its own SLOs: run 5 did not pass/);
  });

  it('is inconclusive when a compared SLO has no value (fail closed), and reports the row as not comparable', () => {
    const history = entries(passingSeries(5));
    const missing = { recovery: { 'api-server-latency-p95': null } };
    const inconclusiveRun = gateRun({ run: makeRun({ index: 5, verdict: 'inconclusive', set: missing }), history });
    expect(inconclusiveRun).toMatchObject({ verdict: 'inconclusive', exitCode: 3 });
    expect(row(inconclusiveRun, 'recovery', 'api-server-latency-p95')).toMatchObject({ outcome: 'not-comparable', value: null, regression: false, note: 'no value: only 3 samples (20 needed)' });
    // Even if the run claimed to pass, a gating figure without a value never passes the gate.
    const claimsPass = gateRun({ run: makeRun({ index: 5, verdict: 'pass', set: missing }), history });
    expect(claimsPass.verdict).toBe('inconclusive');
    expect(claimsPass.reason).toBe('1 figure could not be compared: api-server-latency-p95 in recovery.');
    // A regression elsewhere still fails: fail is worse than inconclusive.
    const both = gateRun({ run: makeRun({ index: 5, verdict: 'inconclusive', set: { ...missing, 'pod-delete': { 'api-client-latency-p95': 180 } } }), history });
    expect(both.verdict).toBe('fail');
  });

  it('does not let a warning SLO decide: its regression and its missing value are reported only', () => {
    const warn = (run: RunResult): RunResult => ({ ...run, slos: run.slos.map((s) => (s.slo === 'api-server-latency-p95' ? { ...s, severity: 'warning' as const } : s)) });
    const history = entries(passingSeries(5).map(warn));
    const regressed = gateRun({ run: warn(makeRun({ index: 5, set: { overall: { 'api-server-latency-p95': 90 } } })), history });
    expect(row(regressed, 'overall', 'api-server-latency-p95')).toMatchObject({ regression: true, gating: false });
    expect(regressed.verdict).toBe('pass');
    expect(row(regressed, 'overall', 'api-server-latency-p95').note).toMatch(/\(warning SLO: reported only\)$/);
    const missing = gateRun({ run: warn(makeRun({ index: 5, set: { overall: { 'api-server-latency-p95': null } } })), history });
    expect(missing.verdict).toBe('pass');
  });

  it('judges a figure new to this run by its SLO only; nothing in common with the baselines falls back too', () => {
    const history = entries(passingSeries(5));
    const run = makeRun({ index: 5 });
    run.slos.push({ ...run.slos[0]!, slo: 'api-new-ratio', phase: 'pod-delete', value: 0.5, verdict: 'pass' });
    const result = gateRun({ run, history });
    expect(row(result, 'pod-delete', 'api-new-ratio')).toMatchObject({ outcome: 'no-baseline', gating: false, baselineValues: 0 });
    expect(result.verdict).toBe('pass');
    const renamed = makeRun({ index: 5 });
    renamed.slos = renamed.slos.map((s) => ({ ...s, slo: `${s.slo}-v2` }));
    expect(gateRun({ run: renamed, history }).reason).toMatch(/^No figure of the run has 3 baselines among the last 5 passing runs \(new SLOs or phases\?\): judged by the absolute SLOs only\./);
  });

  it('rejects invalid options', () => {
    expect(() => gateRun({ run: makeRun({ index: 0 }), history: [], last: 0 })).toThrow(/last must be a whole number ≥ 1, got 0/);
    expect(() => gateRun({ run: makeRun({ index: 0 }), history: [], tolerance: { ratio: -1 } })).toThrow(/tolerance\.ratio must be a number ≥ 0, got -1/);
  });
});

describe('runGateCommand: the CLI command on real folders', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gate-command-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  async function writeRunFolder(dir: string, run: RunResult): Promise<string> {
    const runDir = path.join(dir, run.runId);
    await mkdir(runDir, { recursive: true });
    await writeFile(path.join(runDir, 'result.json'), JSON.stringify(run, null, 2));
    return runDir;
  }

  it('exits 0, 1 and 3 against a recorded history, and prints the table', async () => {
    const historyDir = path.join(tmp, 'history-a');
    for (const run of passingSeries(6)) await recordRun(historyDir, run);
    const reports = path.join(tmp, 'reports-a');
    const stable = await writeRunFolder(reports, makeRun({ index: 6 }));
    const regressed = await writeRunFolder(reports, makeRun({ index: 7, set: { 'pod-delete': { 'api-client-latency-p95': 180 } } }));
    const missing = await writeRunFolder(reports, makeRun({ index: 8, verdict: 'inconclusive', set: { recovery: { 'api-client-latency-p95': null } } }));

    const ok = await runGateCommand({ baselineDir: historyDir, runDir: stable, last: '5' });
    expect(ok.exitCode).toBe(0);
    expect(ok.output).toMatch(/^gate PASS: No regression against the last 5 passing runs/);
    const fail = await runGateCommand({ baselineDir: historyDir, runDir: path.join(regressed, 'result.json') });
    expect(fail.exitCode).toBe(1);
    expect(fail.output).toMatch(/^pod-delete\s+api-client-latency-p95\s+180 ms\s+30\.6 ms\s+.*REGRESSION/m);
    expect((await runGateCommand({ baselineDir: historyDir, runDir: missing })).exitCode).toBe(3);
    // Without --run: the newest run in the reports folder (by start time), which is the inconclusive one.
    const newest = await runGateCommand({ baselineDir: historyDir, reportsDir: reports });
    expect(newest.result?.run.runId).toBe(makeRun({ index: 8 }).runId);
    expect(newest.exitCode).toBe(3);
  });

  it('exits 2 on bad arguments, with the reason', async () => {
    const historyDir = path.join(tmp, 'history-b');
    await mkdir(historyDir);
    const runDir = await writeRunFolder(path.join(tmp, 'reports-b'), makeRun({ index: 0 }));
    const cases: [Parameters<typeof runGateCommand>[0], RegExp][] = [
      [{ baselineDir: historyDir, runDir, last: '0' }, /--last must be a whole number ≥ 1, got "0"/],
      [{ baselineDir: historyDir, runDir, last: 'five' }, /--last must be a whole number ≥ 1, got "five"/],
      [{ baselineDir: path.join(tmp, 'nope'), runDir }, /the baseline folder .*nope does not exist or is not a folder/],
      [{ baselineDir: historyDir, runDir: path.join(tmp, 'reports-b', 'missing') }, /cannot read .*missing/],
      [{ baselineDir: historyDir, reportsDir: path.join(tmp, 'empty') }, /no run found in .*empty .*--run/],
    ];
    for (const [options, message] of cases) {
      const outcome = await runGateCommand(options);
      expect(outcome.exitCode, JSON.stringify(options)).toBe(2);
      expect(outcome.output).toMatch(message);
    }
    await writeFile(path.join(runDir, 'result.json'), '{"schemaVersion": 1, "runId": "x"}');
    const invalid = await runGateCommand({ baselineDir: historyDir, runDir });
    expect(invalid.exitCode).toBe(2);
    expect(invalid.output).toMatch(/is not a run result of schema version 1: suite:/);
  });

  it('reads a reports folder of run folders as baselines, so it works before anyone keeps a history', async () => {
    const reports = path.join(tmp, 'reports-c');
    for (const run of passingSeries(4)) await writeRunFolder(reports, run);
    const runDir = await writeRunFolder(reports, makeRun({ index: 4, set: { 'pod-delete': { 'api-client-latency-p95': 180 } } }));
    const outcome = await runGateCommand({ baselineDir: reports, runDir });
    expect(outcome.exitCode).toBe(1);
    expect(outcome.result?.baselineRuns).toHaveLength(4);
    expect((await runGateCommand({ baselineDir: reports, runDir, record: true })).exitCode).toBe(2);
  });

  it('--record stores the run with the gate outcome; a run the gate failed is then no baseline', async () => {
    const historyDir = path.join(tmp, 'history-d');
    for (const run of passingSeries(3)) await recordRun(historyDir, run);
    const reports = path.join(tmp, 'reports-d');
    const regressed = makeRun({ index: 3, set: { 'pod-delete': { 'api-client-latency-p95': 180 } } });
    const outcome = await runGateCommand({ baselineDir: historyDir, runDir: await writeRunFolder(reports, regressed), record: true });
    expect(outcome.exitCode).toBe(1);
    expect(outcome.output).toContain(`recorded ${regressed.runId} in ${historyDir} (gate fail)`);
    const stored = JSON.parse(await readFile(path.join(historyDir, 'gates', `${regressed.runId}.json`), 'utf8')) as GateResult;
    expect(stored.verdict).toBe('fail');
    expect((await listRuns(historyDir, { suite: 'api' })).map((e) => e.gate)).toEqual(['fail', undefined, undefined, undefined]);
    // The next run, as slow as the regressed one, is still compared with the 3 good runs only.
    const next = await runGateCommand({ baselineDir: historyDir, runDir: await writeRunFolder(reports, makeRun({ index: 4, set: { 'pod-delete': { 'api-client-latency-p95': 180 } } })) });
    expect(next.exitCode).toBe(1);
    expect(next.result?.baselineRuns.map((b) => b.runId)).not.toContain(regressed.runId);
  });
});
