import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../reports/result.ts';
import { isAlive, processesMatching, readLedger, ROOT, runCli, watchResources } from '../helpers/cli.ts';

/**
 * `resilience run --load k6` end to end through the real CLI, on the real local target, with a
 * TEST DOUBLE of the k6 binary (test/doubles/k6, first on PATH): it runs the bundled scenario with
 * k6 module doubles (real requests to the ingress), remote-writes its series to the run's real
 * Prometheus and writes k6's summary export. Real k6 is not installable here.
 */

const fixture = (name: string): string => path.join(ROOT, 'test/fixtures', name, 'resilience.config.ts');
const DOUBLE_DIR = path.join(ROOT, 'test/doubles/k6');
const scratch: string[] = [];

function tempDirs(): { reports: string; state: string; history: string } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'resilience-k6-e2e-'));
  scratch.push(base);
  return { reports: path.join(base, 'reports'), state: path.join(base, 'state'), history: path.join(base, 'history') };
}

afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('resilience run with the k6 driver (k6 test double)', () => {
  it('plan --load k6 fails with exit 4 and the reason when k6 is not on PATH; plan shows the driver chosen', async () => {
    const noK6 = await runCli(['plan', 'api', '--config', fixture('short'), '--load', 'k6'], { env: { PATH: path.dirname(process.execPath) } });
    expect(noK6.code, noK6.output).toBe(4);
    expect(noK6.output).toContain('--load k6: k6 cannot run here: k6 is not on PATH: install k6 ≥ 0.57.0');

    const auto = await runCli(['plan', 'api', '--config', fixture('short')], { env: { PATH: `${DOUBLE_DIR}${path.delimiter}${process.env.PATH ?? ''}` } });
    expect(auto.code, auto.output).toBe(0);
    expect(auto.output).toMatch(/Load: scenario api .*, real k6 \(auto: k6 0\.57\.0 at .*test\/doubles\/k6\/k6\)/);
    expect(auto.output).toContain('histogram_quantile(0.95, sum(increase(k6_http_req_duration_seconds[14s]))) * 1000');

    const engine = await runCli(['plan', 'api', '--config', fixture('short'), '--load', 'engine'], { env: { PATH: `${DOUBLE_DIR}${path.delimiter}${process.env.PATH ?? ''}` } });
    expect(engine.output).toContain('embedded engine (--load engine)');
    const bad = await runCli(['plan', 'api', '--config', fixture('short'), '--load', 'wrk']);
    expect(bad.code).toBe(2);
  }, 30_000);

  it('runs the load through k6, judges the SLOs from what k6 pushed, keeps the summary, notes k6’s exit 99, leaves nothing behind', async () => {
    const dirs = tempDirs();
    const watch = watchResources(dirs.state);
    const { code, output } = await runCli(
      ['run', 'api', '--config', fixture('short'), '--load', 'k6', '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history],
      // Exit 99 stands in for "a k6 threshold failed": the harness's SLO verdict stays the judge.
      { env: { PATH: `${DOUBLE_DIR}${path.delimiter}${process.env.PATH ?? ''}`, K6_DOUBLE_EXIT: '99' } },
    );
    const resources = watch.stop();
    expect(output).toMatch(/load driver: k6 \(--load k6: k6 0\.57\.0 at /);
    expect(output).toMatch(/load \(k6\) \d+(\.\d+)?s of 14s/);

    const runs = readdirSync(dirs.reports);
    expect(runs).toHaveLength(1);
    const runDir = path.join(dirs.reports, runs[0]!);
    const result = JSON.parse(readFileSync(path.join(runDir, 'result.json'), 'utf8')) as RunResult;
    expect(result.load?.driver).toBe('k6');
    // rate 20/s for 14 s through the double: 280 scheduled; requests really reached the API.
    expect((result.load?.requests ?? 0) + (result.load?.droppedIterations ?? 0)).toBe(280);
    expect(result.load?.requests).toBeGreaterThan(200);
    expect(existsSync(path.join(runDir, 'k6-summary.json'))).toBe(true);
    expect(result.errors.some((e) => e.startsWith('k6 exit 99 (ThresholdsHaveFailed)'))).toBe(true);

    // The client SLOs were judged from remote-written series: none is "No data".
    const client = result.slos.filter((s) => s.side === 'client');
    expect(client.length).toBeGreaterThan(0);
    for (const s of client) expect(s.reason ?? '', `${s.slo} in ${s.phase}`).not.toMatch(/No data/);
    const latency = client.find((s) => s.phase === 'overall' && s.queries.value.startsWith('histogram_quantile'));
    expect(latency?.queries.value).toContain('sum(increase(k6_http_req_duration_seconds[');
    expect(latency?.samples).toBeGreaterThan(200);
    // k6's 99 did not decide the verdict: the exit code is the SLO verdict's.
    expect([0, 1, 3]).toContain(code);
    expect(code).toBe(result.exitCode);

    const alive = [...resources.pids].filter(([pid]) => isAlive(pid)).map(([pid, what]) => `${what} (pid ${pid})`);
    expect(alive).toEqual([]);
    for (const dir of resources.dirs) expect(existsSync(dir), `temp dir ${dir} should be removed`).toBe(false);
    expect(processesMatching('test/doubles/k6/k6-main.js')).toEqual([]);
    expect(readLedger(dirs.state)).toEqual([]);
  }, 90_000);
});
