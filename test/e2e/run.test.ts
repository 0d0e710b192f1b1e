import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../reports/result.ts';
import { isAlive, processesMatching, readLedger, ROOT, runCli, startCli, watchResources } from '../helpers/cli.ts';

/**
 * The harness end to end through the real CLI: real PostgreSQL, Redis, API replicas, ingress and
 * Prometheus processes, real signals. Each test gets its own reports and state directories.
 */

const fixture = (name: string): string => path.join(ROOT, 'test/fixtures', name, 'resilience.config.ts');
const scratch: string[] = [];

function tempDirs(): { reports: string; state: string; history: string } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'resilience-e2e-'));
  scratch.push(base);
  return { reports: path.join(base, 'reports'), state: path.join(base, 'state'), history: path.join(base, 'history') };
}

function onlyRunDir(reports: string): string {
  const runs = existsSync(reports) ? readdirSync(reports).sort() : [];
  expect(runs, `expected exactly one run folder in ${reports}`).toHaveLength(1);
  return path.join(reports, runs[0]!);
}

function readResult(runDir: string): RunResult {
  return JSON.parse(readFileSync(path.join(runDir, 'result.json'), 'utf8')) as RunResult;
}

/** Nothing the run started may outlive it: recorded PIDs, its temp dirs, replicas, the ingress. */
function expectNothingLeft(resources: { pids: Map<number, string>; dirs: Set<string> }, stateDir: string): void {
  expect(resources.pids.size, 'the ledger should have recorded the processes the run started').toBeGreaterThan(4);
  const alive = [...resources.pids].filter(([pid]) => isAlive(pid)).map(([pid, what]) => `${what} (pid ${pid})`);
  expect(alive, 'processes still running after the run').toEqual([]);
  for (const dir of resources.dirs) expect(existsSync(dir), `temp dir ${dir} should be removed`).toBe(false);
  expect(processesMatching('cluster/apps/api/server.ts'), 'API replicas still running').toEqual([]);
  expect(processesMatching('ingress-main.ts'), 'ingress still running').toEqual([]);
  expect(readLedger(stateDir), 'the ledger should be empty').toEqual([]);
}

afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('resilience run (local target, end to end)', () => {
  it('passes while replicas are deleted, judging each phase from Prometheus, and leaves nothing behind', async () => {
    const dirs = tempDirs();
    const watch = watchResources(dirs.state);
    const { code, output } = await runCli(['run', 'api', '--config', fixture('pass'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    const resources = watch.stop();
    expect(code, `expected exit 0 (pass); output:\n${output}`).toBe(0);

    // Progress per stage and a live line during load.
    expect(output).toMatch(/✔ provision the local target/);
    expect(output).toMatch(/load \d+s\/18s · \d+ req\/s · \d+ requests · \d+ errors · p95 \d+ ms/);
    expect(output).toContain('chaos: pod-delete: deleting hastecrm-api-');

    const runDir = onlyRunDir(dirs.reports);
    const result = readResult(runDir);
    expect(result.verdict).toBe('pass');
    expect(result.exitCode).toBe(0);
    expect(result.phases.map((p) => p.name)).toEqual(['baseline', 'pod-delete', 'recovery', 'overall']);
    // Every SLO judged in every phase from Prometheus, on real samples.
    expect(result.slos.length).toBeGreaterThanOrEqual(4 * 4);
    for (const slo of result.slos) {
      expect(slo.verdict, `${slo.slo} in ${slo.phase}: ${slo.reason ?? ''}`).toBe('pass');
      expect(slo.samples, `${slo.slo} in ${slo.phase} should have samples`).toBeGreaterThan(0);
      expect(slo.value).not.toBeNull();
      expect(slo.queries.value).toMatch(/\[\d+s\]/);
    }
    // The experiment proved it deleted replicas: new PIDs came up.
    const [experiment] = result.experiments;
    expect(experiment?.tookEffect, experiment?.reason).toBe(true);
    expect(experiment?.actions.length).toBeGreaterThanOrEqual(2);
    for (const action of experiment?.actions ?? []) expect(action.evidence).toMatch(/pid \d+ → hastecrm-api-\w+ pid \d+/);
    expect(result.load?.requests).toBeGreaterThan(500);
    // Time to recover per experiment and SLO, client/server agreement, and the alerts seen.
    expect(result.recovery.map((r) => r.slo).sort()).toEqual(['api-client-latency-p95', 'api-client-success-ratio', 'api-server-latency-p95', 'api-server-success-ratio']);
    for (const r of result.recovery) expect(['never-degraded', 'recovered'], `${r.slo}: ${r.reason}`).toContain(r.status);
    expect(result.divergence.length).toBeGreaterThanOrEqual(8);
    expect(result.alerts, 'alerts were read from Prometheus').toEqual([]);
    // Every chart's series came from Prometheus, and every view was written.
    expect(result.timeseries?.series.map((x) => ('error' in x ? `${x.name}: ${x.error}` : x.name)).filter((x) => x.includes(':'))).toEqual([]);
    for (const view of ['junit.xml', 'summary.md', 'grafana-dashboard.json']) expect(existsSync(path.join(runDir, view)), `${view} written`).toBe(true);
    // The seed's Canary needs 5 checks of 30 s: an 18 s run cannot decide, and says so (report only).
    expect(result.canary).toMatchObject([{ tool: 'flagger', name: 'hastecrm-api', verdict: 'halt' }]);

    const html = readFileSync(path.join(runDir, 'index.html'), 'utf8');
    expect(html).toContain('data-testid="verdict"');
    expect(html).toContain('PASS');
    expect(html).toContain('histogram_quantile(0.95');
    for (const section of ['recovery', 'divergence', 'alerts', 'canary']) expect(html).toContain(`data-testid="${section}"`);
    expect(html).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/);

    expect(existsSync(path.join(dirs.history, 'runs', `${result.runId}.json`)), 'the run is recorded in the history').toBe(true);
    expectNothingLeft(resources, dirs.state);
  });

  it('fails with exit 1 naming the SLO and phase when the API is slower than 500 ms', async () => {
    const dirs = tempDirs();
    const { code, output } = await runCli(['run', 'api', '--config', fixture('slow-api'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    expect(code, `expected exit 1 (SLO failed); output:\n${output}`).toBe(1);
    expect(output).toMatch(/FAIL: .*api-client-latency-p95 in phase baseline/);
    const result = readResult(onlyRunDir(dirs.reports));
    expect(result.verdict).toBe('fail');
    const latency = result.slos.filter((s) => s.slo === 'api-client-latency-p95');
    expect(latency.map((s) => s.verdict)).toEqual(latency.map(() => 'fail'));
    for (const s of latency) expect(s.value).toBeGreaterThan(500);
    expect(readLedger(dirs.state)).toEqual([]);
  });

  it('stops the load early when a critical SLO fails while running (abort on fail), exit 1', async () => {
    const dirs = tempDirs();
    const { code, output } = await runCli(['run', 'api', '--config', fixture('critical-breach'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    expect(code, `expected exit 1; output:\n${output}`).toBe(1);
    expect(output).toContain('critical SLO api-client-latency-p95 failed while running');
    const result = readResult(onlyRunDir(dirs.reports));
    expect(result.verdict).toBe('fail');
    expect(result.breach?.slo).toBe('api-client-latency-p95');
    expect(result.reason).toMatch(/stopped early/);
    // The load was planned for 40 s; the breach is seen within seconds of the minimum window.
    expect(result.load!.durationMs).toBeLessThan(20_000);
    expect(result.experiments.every((x) => x.actions.length === 0), 'the fault planned at 20 s never ran').toBe(true);
    expect(readLedger(dirs.state)).toEqual([]);
  });

  it('is inconclusive (exit 3), never a pass, when an SLO has no series', async () => {
    const dirs = tempDirs();
    const { code, output } = await runCli(['run', 'api', '--config', fixture('missing-series'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    expect(code, `expected exit 3 (inconclusive); output:\n${output}`).toBe(3);
    const result = readResult(onlyRunDir(dirs.reports));
    expect(result.verdict).toBe('inconclusive');
    expect(result.slos).toHaveLength(1);
    expect(result.slos[0]?.verdict).toBe('inconclusive');
    expect(result.slos[0]?.reason).toMatch(/no data|absent|empty|not exist/i);
  });

  it('is inconclusive (exit 3) when Prometheus becomes unreachable during the run', async () => {
    const dirs = tempDirs();
    const run = startCli(['run', 'api', '--config', fixture('short'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    await run.waitForOutput('chaos: pod-delete starts', 60_000);
    const prometheus = readLedger(dirs.state).find((e) => e.description.startsWith('prometheus'));
    expect(prometheus?.revert.pid, 'the ledger should record the Prometheus process').toBeDefined();
    process.kill(prometheus!.revert.pid!, 'SIGKILL');
    const { code, output } = await run.exited;
    expect(code, `expected exit 3 (inconclusive); output:\n${output}`).toBe(3);
    const result = readResult(onlyRunDir(dirs.reports));
    expect(result.verdict).toBe('inconclusive');
    expect(result.slos.length).toBeGreaterThan(0);
    for (const s of result.slos) expect(s.verdict).toBe('inconclusive');
    expect(result.slos[0]?.reason).toMatch(/prometheus/i);
    expect(readLedger(dirs.state)).toEqual([]);
  });

  it('on SIGINT during chaos stops every process, empties the ledger and exits 130', async () => {
    const dirs = tempDirs();
    const watch = watchResources(dirs.state);
    const run = startCli(['run', 'api', '--config', fixture('short'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    await run.waitForOutput('chaos: pod-delete: deleting', 60_000);
    run.child.kill('SIGINT');
    const { code, output } = await run.exited;
    const resources = watch.stop();
    expect(code, `expected exit 130; output:\n${output}`).toBe(130);
    expect(output).toContain('SIGINT received: stopping and cleaning up');
    const result = readResult(onlyRunDir(dirs.reports));
    expect(result.status).toBe('interrupted');
    expect(result.verdict).toBe('inconclusive');
    expectNothingLeft(resources, dirs.state);
  });

  it('stops with exit 4 and the install command when a binary is missing, leaving nothing behind', async () => {
    const dirs = tempDirs();
    const watch = watchResources(dirs.state);
    // An empty PATH: redis-server and prometheus cannot be found (PostgreSQL is still found in
    // Debian's /usr/lib/postgresql, so it starts, and must be stopped again).
    const { code, output } = await runCli(['run', 'api', '--config', fixture('short'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history], { env: { PATH: '/nonexistent' } });
    const resources = watch.stop();
    expect(code, `expected exit 4; output:\n${output}`).toBe(4);
    expect(output).toMatch(/redis cannot run here: redis-server not found on PATH.*install the binary \(apt-get install -y redis-server\) or install and start Docker/);
    expect(readResult(onlyRunDir(dirs.reports))).toMatchObject({ verdict: 'inconclusive', exitCode: 4, status: 'failed' });
    for (const [pid, what] of resources.pids) expect(isAlive(pid), `${what} still running`).toBe(false);
    expect(readLedger(dirs.state)).toEqual([]);
  });

  it('after the harness is SIGKILLed, `resilience cleanup` stops what it left', async () => {
    const dirs = tempDirs();
    const watch = watchResources(dirs.state);
    const run = startCli(['run', 'api', '--config', fixture('short'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    await run.waitForOutput('chaos: pod-delete starts', 60_000);
    run.child.kill('SIGKILL');
    await run.exited;
    expect(readLedger(dirs.state).length, 'the killed run leaves its ledger behind').toBeGreaterThan(0);
    const cleanup = await runCli(['cleanup', '--state-dir', dirs.state]);
    const resources = watch.stop();
    expect(cleanup.code, cleanup.output).toBe(0);
    expect(cleanup.output).toMatch(/✔ reverted postgres/);
    expectNothingLeft(resources, dirs.state);
  });
});

describe('resilience config, plan and doctor', () => {
  it('rejects an invalid config with exit 2 naming each field, the value and what is allowed', async () => {
    const { code, output } = await runCli(['run', 'api', '--config', fixture('invalid')]);
    expect(code).toBe(2);
    expect(output).toContain('suites.api.load.rate: got -5;');
    expect(output).toContain('suites.api.chaos.0.env.TOTAL_CHAOS_DURATON');
    expect(output).toMatch(/pod-delete has no tunable TOTAL_CHAOS_DURATON; it takes TOTAL_CHAOS_DURATION/);
  });

  it('rejects an unknown suite with exit 2 and lists the defined ones', async () => {
    const { code, output } = await runCli(['plan', 'nope']);
    expect(code).toBe(2);
    expect(output).toMatch(/suites\.nope: got missing; .*defined: api, nightly, chaos-local, kind-api, seed/);
  });

  it('prints the plan of the api suite without starting anything', async () => {
    const { code, output } = await runCli(['plan', 'api']);
    expect(code, output).toBe(0);
    expect(output).toContain('services: postgresql, redis, 3 × hastecrm-api, ingress, prometheus');
    expect(output).toContain('ingress policy: timeout 30s, 3 retries, 10s per try');
    expect(output).toMatch(/6s → 16s {2}pod-delete: pod-delete on app=hastecrm-api\n\s+hits: 1 of 3 \(3 × app=hastecrm-api replica\(s\)\), picked at random, again every 3s/);
    expect(output).toContain('tunables: CHAOS_INTERVAL=3 FORCE=false RAMP_TIME=0 PODS_AFFECTED_PERC=34 SEQUENCE=parallel');
    expect(output).toMatch(/baseline\s+baseline\s+0s → 6s/);
    expect(output).toContain('histogram_quantile(0.95, sum by (le) ((increase(k6_http_req_duration_seconds_bucket[24s]) and last_over_time(');
  });

  it('doctor reports the binaries and that the local target can run', async () => {
    const { code, output } = await runCli(['doctor']);
    expect(code, output).toBe(0);
    expect(output).toMatch(/✔ prometheus\s+\//);
    expect(output).toMatch(/✔ target local \(processes\)/);
    expect(output).toMatch(/✔ load driver: embedded engine/);
  });

  it('validate passes the project\'s alert rules and reports the seed\'s alert that can never fire (exit 2)', async () => {
    const ours = await runCli(['validate']);
    expect(ours.code, ours.output).toBe(0);
    expect(ours.output).toContain('✔ cluster/addons/prometheus/hastecrm-alerts.yaml: every alert can fire');
    const seed = await runCli(['validate', 'slo/testing/rules/seed-original-alerts.yaml']);
    expect(seed.code, seed.output).toBe(2);
    expect(seed.output).toMatch(/✖ .*alert DatabaseConnectionPoolExhausted: never fires on realistic series/);
    expect(seed.output).toContain('only the left side has datid, datname');
    // The seed's manifests as written: the VirtualService's timeout and retries sit under the destination.
    const manifests = await runCli(['validate', 'cluster/validate/testdata/seed']);
    expect(manifests.code, manifests.output).toBe(2);
    expect(manifests.output).toMatch(/VirtualService\/hastecrm-routes spec\.http\[0\]\.route\[0\]\.timeout/);
    expect(manifests.output).toMatch(/karpenter\.sh\/v1alpha5/);
  });

  it('exports the api SLOs to k6 thresholds and to Prometheus rules that promtool accepts', async () => {
    const k6 = await runCli(['export', 'slo', '--format', 'k6-thresholds']);
    expect(k6.code, k6.output).toBe(0);
    expect(JSON.parse(k6.output)).toMatchObject({ thresholds: { http_req_failed: ['rate<=0.01'], http_req_duration: ['p(95)<500'] } });
    const rules = await runCli(['export', 'slo', '--format', 'prometheus-rules']);
    expect(rules.code, rules.output).toBe(0);
    const dir = tempDirs().reports;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'rules.yaml'), rules.output);
    const check = spawnSync('promtool', ['check', 'rules', path.join(dir, 'rules.yaml')], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const bad = await runCli(['export', 'slo', '--format', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('Allowed choices are k6-thresholds, prometheus-rules, flagger-metric-template, litmus-promprobe');
  });

  it('gate falls back to the run\'s own verdict without baselines, and needs --baseline', async () => {
    const history = tempDirs().reports;
    fs.mkdirSync(history, { recursive: true });
    const gate = await runCli(['gate', '--baseline', history, '--run', 'reports/testdata/history/base-result.json']);
    expect(gate.code, gate.output).toBe(0);
    expect(gate.output).toMatch(/baseline/i);
    const missing = await runCli(['gate']);
    expect(missing.code).toBe(2);
    expect(missing.output).toContain("required option '--baseline <dir>' not specified");
  });

  it('cluster up without kind stops with exit 4 and the install link; status says kind is missing', async () => {
    const env = { PATH: '/usr/bin:/bin' }; // no kind here, as on this machine
    const up = await runCli(['cluster', 'up', '--state-dir', tempDirs().state], { env });
    expect(up.code, up.output).toBe(4);
    expect(up.output).toContain('required binary "kind" was not found on PATH; install it: see https://kind.sigs.k8s.io/');
    const status = await runCli(['cluster', 'status'], { env });
    expect(status.code, status.output).toBe(0);
    expect(status.output).toContain('kind: not installed');
  });

  it('prints help for every command', async () => {
    for (const command of ['run', 'plan', 'doctor', 'cleanup', 'validate', 'export', 'gate']) {
      const { code, output } = await runCli([command, '--help']);
      expect(code, output).toBe(0);
      expect(output).toContain(`Usage: resilience ${command}`);
    }
  });
});
