import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../reports/result.ts';
import { hopNames } from '../../chaos/local/netns.ts';
import { isAlive, processesMatching, readLedger, ROOT, runCli, startCli, watchResources } from '../helpers/cli.ts';

/**
 * Every local injector through the real CLI: each proves its effect in a real run, and none
 * leaves anything behind — neither at the end of a run nor after the harness is SIGKILLed in the
 * middle of all of them and `resilience cleanup` runs.
 */

const fixture = (name: string): string => path.join(ROOT, 'test/fixtures', name, 'resilience.config.ts');
const scratch: string[] = [];

function tempDirs(): { reports: string; state: string; history: string } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'resilience-e2e-chaos-'));
  scratch.push(base);
  return { reports: path.join(base, 'reports'), state: path.join(base, 'state'), history: path.join(base, 'history') };
}

function readOnlyResult(reports: string): RunResult {
  const runs = readdirSync(reports);
  expect(runs).toHaveLength(1);
  return JSON.parse(readFileSync(path.join(reports, runs[0]!, 'result.json'), 'utf8')) as RunResult;
}

/**
 * The run's cgroups, network namespaces and stress-ng processes: all must be gone. Names carry the
 * run id, so faults of anything else running on the machine are not counted.
 */
function faultsLeft(reports: string): string[] {
  const runId = readdirSync(reports)[0] ?? 'no-run';
  const left: string[] = [];
  for (const controller of ['cpu', 'cpuacct', 'memory', 'freezer']) {
    const root = `/sys/fs/cgroup/${controller}`;
    if (!existsSync(root)) continue;
    const found = execFileSync('find', [root, '-maxdepth', '3', '-type', 'd', '-name', `resilience-${runId}-*`], { encoding: 'utf8' }).trim();
    if (found) left.push(`cgroups: ${found.replace(/\n/g, ', ')}`);
  }
  const prefix = hopNames(runId, 0).netns.replace(/-0$/, '-');
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.startsWith(prefix));
  if (namespaces.length > 0) left.push(`network namespaces: ${namespaces.join(', ')}`);
  // stress-ng's workers are not in the ledger (only their parent is): look for any at all.
  const stress = processesMatching('stress-ng');
  if (stress.length > 0) left.push(`stress-ng: ${stress.map((p) => p.pid).join(', ')}`);
  return left;
}

afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('local chaos injectors (end to end)', () => {
  it('each injector proves its effect in a real run and is reverted when its window ends', async () => {
    const dirs = tempDirs();
    const watch = watchResources(dirs.state);
    const { code, output } = await runCli(['run', 'api', '--config', fixture('chaos-local'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    const resources = watch.stop();
    // The verdict depends on how well the API copes (a partitioned replica costs the ingress a
    // per-try timeout); what this test asserts is that every fault happened, proven, and ended.
    expect([0, 1, 3], output).toContain(code);
    const result = readOnlyResult(dirs.reports);
    const experiments = result.experiments;
    expect(experiments.map((e) => e.experiment)).toEqual([
      'container-kill',
      'pod-cpu-hog',
      'pod-memory-hog',
      'pod-network-latency',
      'pod-network-loss',
      'pod-network-partition',
      'pod-pause',
      'pod-pause',
    ]);
    for (const e of experiments) expect(e.tookEffect, `${e.name}: ${e.reason ?? ''}\n${JSON.stringify(e.actions)}`).toBe(true);
    const evidence = (name: string): string => experiments.find((e) => e.name === name)?.actions.map((a) => a.evidence ?? '').join(' | ') ?? '';
    expect(evidence('container-kill')).toMatch(/restarts 0 → 1/);
    expect(evidence('pod-cpu-hog')).toMatch(/cgroup CPU .* cores/);
    expect(evidence('pod-memory-hog')).toMatch(/cgroup memory .* MB peak/);
    expect(evidence('pod-network-latency')).toMatch(/through the ingress's path \d+ ms vs direct \d+ ms/);
    expect(evidence('pod-network-loss')).toMatch(/packets|dropped/);
    expect(evidence('pod-network-partition')).toMatch(/probes through the ingress's path unanswered/);
    expect(evidence('pod-pause-2')).toMatch(/freezer FROZEN/);
    // One phase per experiment window, judged on its own.
    const windows = result.phases.filter((p) => p.kind === 'experiment').map((p) => p.name);
    expect(windows).toEqual(experiments.map((e) => e.name));
    for (const [pid, what] of resources.pids) expect(isAlive(pid), `${what} still running`).toBe(false);
    expect(faultsLeft(dirs.reports)).toEqual([]);
    expect(readLedger(dirs.state)).toEqual([]);
  });

  it('after a SIGKILL in the middle of every kind of fault at once, `resilience cleanup` reverts them all', async () => {
    const dirs = tempDirs();
    const watch = watchResources(dirs.state);
    const run = startCli(['run', 'api', '--config', fixture('chaos-kill'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    // Wait until each injector has put its fault in place.
    await run.waitForOutput('pod-cpu-hog 1 core(s)', 90_000);
    await run.waitForOutput('pod-memory-hog 64 MB', 30_000);
    await run.waitForOutput('freezing hastecrm-redis-0', 30_000);
    await run.waitForOutput('latency 200 ms in front of', 30_000);
    const kinds = new Set(readLedger(dirs.state).map((e) => e.revert.type));
    for (const kind of ['cgroup-remove', 'thaw', 'netns-delete', 'kill-process']) expect(kinds, `ledger holds a ${kind} entry`).toContain(kind);
    expect(processesMatching('stress-ng').length, 'stress-ng runs').toBeGreaterThan(0);
    run.child.kill('SIGKILL');
    await run.exited;
    const cleanup = await runCli(['cleanup', '--state-dir', dirs.state]);
    const resources = watch.stop();
    expect(cleanup.code, cleanup.output).toBe(0);
    expect(cleanup.output).toMatch(/✔ reverted .*freeze hastecrm-redis-0/);
    for (const [pid, what] of resources.pids) expect(isAlive(pid), `${what} still running`).toBe(false);
    expect(faultsLeft(dirs.reports)).toEqual([]);
    expect(processesMatching('cluster/apps/api/server.ts'), 'API replicas still running').toEqual([]);
    expect(readLedger(dirs.state)).toEqual([]);
  });

  it("imports the seed's ChaosEngine and shows both of its faults on the run's timeline", async () => {
    const dirs = tempDirs();
    const { code, output } = await runCli(['run', 'api', '--config', fixture('seed'), '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    expect([0, 1, 3], output).toContain(code);
    const result = readOnlyResult(dirs.reports);
    expect(result.experiments.map((e) => [e.name, e.tookEffect])).toEqual([
      ['pod-cpu-hog', true],
      ['pod-network-latency', true],
    ]);
    expect(result.phases.map((p) => p.name)).toEqual(['baseline', 'pod-cpu-hog', 'pod-network-latency', 'recovery', 'overall']);
    const html = readFileSync(path.join(dirs.reports, readdirSync(dirs.reports)[0]!, 'index.html'), 'utf8');
    expect(html).toContain('pod-cpu-hog');
    expect(html).toContain('pod-network-latency');
  });
});
