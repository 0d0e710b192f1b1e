import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { RunResult } from '../../reports/result.ts';
import { removeRunContainers } from '../../cluster/targets/local/containers/cleanup.ts';
import { docker, listContainersByLabel, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL } from '../../cluster/targets/local/containers/docker.ts';
import { describeWithDocker } from '../../cluster/targets/local/containers/docker-test-support.ts';
import { isAlive, processesMatching, readLedger, ROOT, runCli, startCli, watchResources } from '../helpers/cli.ts';

/**
 * The harness end to end with the container runtime (issue 8): PostgreSQL, Redis and Prometheus
 * run as Docker containers (images built here from this machine's binaries; nothing is pulled),
 * the replicas and the ingress as processes. The same checks as the process runtime's pass test,
 * plus: the ledger recorded the containers, and none is left afterwards, also after a SIGKILL.
 */

const FIXTURE = path.join(ROOT, 'test/fixtures/containers/resilience.config.ts');
const scratch: string[] = [];
/** Run ids seen in the ledgers, so afterEach can remove their containers even when a test failed. */
const runIds = new Set<string>();

interface ContainerEntry {
  runId: string;
  description: string;
  revert: { type: string; id?: string; name?: string };
}

function tempDirs(): { reports: string; state: string; history: string } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'resilience-e2e-containers-'));
  scratch.push(base);
  return { reports: path.join(base, 'reports'), state: path.join(base, 'state'), history: path.join(base, 'history') };
}

/** Remembers every container the ledger names while a run goes on (readLedger's type omits the fields). */
function watchContainers(stateDir: string): { stop: () => Map<string, string> } {
  const names = new Map<string, string>();
  const timer = setInterval(() => {
    for (const entry of readLedger(stateDir) as unknown as ContainerEntry[]) {
      runIds.add(entry.runId);
      if (entry.revert.type === 'container-remove' && entry.revert.name) names.set(entry.revert.name, entry.description);
    }
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return names;
    },
  };
}

afterEach(async () => {
  // Safety net for a failed test: the CLI's own cleanup, then the containers by run-id label.
  for (const dir of scratch) if (readLedger(path.join(dir, 'state')).length > 0) await runCli(['cleanup', '--state-dir', path.join(dir, 'state')]);
  for (const runId of runIds) await removeRunContainers(runId);
  runIds.clear();
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describeWithDocker('resilience run with the container runtime (end to end)', () => {
  it('passes while replicas are deleted, with PostgreSQL, Redis and Prometheus in containers, and leaves nothing behind', async () => {
    const dirs = tempDirs();
    const watch = watchResources(dirs.state);
    const containers = watchContainers(dirs.state);
    const { code, output } = await runCli(['run', 'api', '--config', FIXTURE, '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    const resources = watch.stop();
    const recorded = containers.stop();
    expect(code, `expected exit 0 (pass); output:\n${output}`).toBe(0);

    // Each dependency ran where the config said, and the ledger recorded its container.
    expect(output).toMatch(/starting PostgreSQL \(container: runtime "container" requested, Docker [\d.]+\S* answers\) and Redis \(container:/);
    expect(output).toMatch(/Prometheus runs as a container/);
    expect([...recorded.values()].map((d) => d.split(' ')[0]).sort()).toEqual(['postgres', 'prometheus', 'redis']);
    expect(output).toContain('chaos: pod-delete: deleting hastecrm-api-');

    const runs = readdirSync(dirs.reports);
    expect(runs).toHaveLength(1);
    const runDir = path.join(dirs.reports, runs[0]!);
    const result = JSON.parse(readFileSync(path.join(runDir, 'result.json'), 'utf8')) as RunResult;
    expect(result.verdict).toBe('pass');
    expect(result.exitCode).toBe(0);
    expect(result.phases.map((p) => p.name)).toEqual(['baseline', 'pod-delete', 'recovery', 'overall']);
    // Every SLO judged in every phase from the containerised Prometheus, on real samples.
    expect(result.slos.length).toBeGreaterThanOrEqual(4 * 4);
    for (const slo of result.slos) {
      expect(slo.verdict, `${slo.slo} in ${slo.phase}: ${slo.reason ?? ''}`).toBe('pass');
      expect(slo.samples, `${slo.slo} in ${slo.phase} should have samples`).toBeGreaterThan(0);
      expect(slo.value).not.toBeNull();
    }
    // pod-delete proved it replaced replicas whose database runs in a container.
    const [experiment] = result.experiments;
    expect(experiment?.tookEffect, experiment?.reason).toBe(true);
    expect(experiment?.actions.length).toBeGreaterThanOrEqual(2);
    for (const action of experiment?.actions ?? []) expect(action.evidence).toMatch(/pid \d+ → hastecrm-api-\w+ pid \d+/);
    expect(result.load?.requests).toBeGreaterThan(400);
    expect(result.alerts, 'alerts were read from Prometheus (its rules file was copied into the container)').toEqual([]);
    for (const view of ['index.html', 'junit.xml', 'summary.md', 'grafana-dashboard.json']) expect(existsSync(path.join(runDir, view)), `${view} written`).toBe(true);

    // Nothing left: containers, processes, temp dirs, ledger.
    // Scoped to this run's id: other runs' containers may come and go meanwhile.
    const [runId] = runIds;
    expect(runId, 'the run recorded its id in the ledger').toBeDefined();
    expect(await listContainersByLabel({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: runId! }), 'containers left after the run').toEqual([]);
    for (const name of recorded.keys()) expect(await docker(['ps', '--all', '--quiet', '--filter', `name=^${name}$`]), `container ${name} left`).toBe('');
    expect(resources.pids.size, 'the ledger should have recorded the replicas and the ingress').toBeGreaterThanOrEqual(4);
    expect([...resources.pids].filter(([pid]) => isAlive(pid)).map(([pid, what]) => `${what} (pid ${pid})`)).toEqual([]);
    for (const dir of resources.dirs) expect(existsSync(dir), `temp dir ${dir} should be removed`).toBe(false);
    expect(processesMatching('cluster/apps/api/server.ts'), 'API replicas still running').toEqual([]);
    expect(processesMatching('ingress-main.ts'), 'ingress still running').toEqual([]);
    expect(readLedger(dirs.state), 'the ledger should be empty').toEqual([]);
  });

  it('after the harness is SIGKILLed, `resilience cleanup` removes its containers and stops its processes', async () => {
    const dirs = tempDirs();
    const watch = watchResources(dirs.state);
    const containers = watchContainers(dirs.state);
    const run = startCli(['run', 'api', '--config', FIXTURE, '--reports-dir', dirs.reports, '--state-dir', dirs.state, '--history-dir', dirs.history]);
    await run.waitForOutput('chaos: pod-delete starts', 90_000);
    run.child.kill('SIGKILL');
    await run.exited;
    containers.stop();
    const [runId] = runIds;
    expect(runId, 'the run recorded its id in the ledger').toBeDefined();
    const left = await listContainersByLabel({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: runId! });
    expect(left, 'the killed run leaves PostgreSQL, Redis and Prometheus running').toHaveLength(3);

    const cleanup = await runCli(['cleanup', '--state-dir', dirs.state]);
    const resources = watch.stop();
    expect(cleanup.code, cleanup.output).toBe(0);
    for (const service of ['postgres', 'redis', 'prometheus']) expect(cleanup.output).toMatch(new RegExp(`✔ reverted ${service} container resilience-`));
    expect(await listContainersByLabel({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: runId! }), 'containers of the killed run').toEqual([]);
    expect([...resources.pids].filter(([pid]) => isAlive(pid)).map(([pid, what]) => `${what} (pid ${pid})`)).toEqual([]);
    expect(processesMatching('cluster/apps/api/server.ts'), 'API replicas still running').toEqual([]);
    expect(readLedger(dirs.state)).toEqual([]);

    // A second cleanup finds nothing, and says so for the containers too.
    const again = await runCli(['cleanup', '--state-dir', dirs.state]);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain('nothing to clean up');
  });

  it('doctor shows where each dependency of the local target would run', async () => {
    const { code, output } = await runCli(['doctor']);
    expect(code, output).toBe(0);
    for (const service of ['postgres', 'redis', 'prometheus']) expect(output).toMatch(new RegExp(`✔ ${service}\\s+process\\s+\\S.* found on this machine`));
  });
});
