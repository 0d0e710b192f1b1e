import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Ledger } from '../ledger.ts';
import { removeRunContainers } from '../../cluster/targets/local/containers/cleanup.ts';
import { inspectContainer, listContainersByLabel } from '../../cluster/targets/local/containers/docker.ts';
import { describeWithDocker, dockerAvailable } from '../../cluster/targets/local/containers/docker-test-support.ts';
import { startRedisContainer, type RunningRedisContainer } from '../../cluster/targets/local/containers/services.ts';
import type { DataTierPod } from '../../cluster/targets/local/local-target.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import { defineExperiment } from '../litmus/experiments.ts';
import { runDataTierContainerKill, runDockerPause } from './docker-faults.ts';

/** The data tier's container faults, on a real Redis container built from this machine's binary. */

const runId = `docker-faults-${process.pid}`;
let stateDir = '';
let ledger: Ledger;
let redis: RunningRedisContainer | undefined;

const spec = (experiment: 'container-kill' | 'pod-pause', durationMs: number): ResolvedExperiment => ({
  experiment,
  name: experiment,
  definition: defineExperiment(experiment, { app: 'hastecrm-redis' }),
  startAfterMs: 0,
  durationMs,
  intervalMs: durationMs,
  podsAffectedPerc: 0,
  force: false,
  sequence: 'parallel',
  selector: { app: 'hastecrm-redis' },
  source: 'test',
});

const ctx = () => ({ runId, ledger, log: () => undefined, signal: new AbortController().signal });

async function pod(): Promise<DataTierPod> {
  const state = await inspectContainer(redis!.container.id);
  return { name: 'hastecrm-redis-0', labels: { app: 'hastecrm-redis', tier: 'data' }, pid: state.pid, container: redis!.container };
}

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'docker-faults-'));
  ledger = Ledger.open(stateDir);
  if (dockerAvailable) redis = await startRedisContainer({ runId, ledger });
}, 120_000);

afterAll(async () => {
  await redis?.stop();
  await removeRunContainers(runId);
  rmSync(stateDir, { recursive: true, force: true });
  expect(await listContainersByLabel({ 'resilience.run-id': runId })).toEqual([]);
});

describeWithDocker('container faults on the data tier', () => {
  it('container-kill: docker kill, started again with a new PID, the PID refreshed, nothing left in the ledger', async () => {
    const before = await pod();
    const refreshed: string[] = [];
    const record = await runDataTierContainerKill(spec('container-kill', 1_000), [before], (name) => {
      refreshed.push(name);
      return Promise.resolve();
    }, ctx());
    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.actions[0]?.evidence).toMatch(new RegExp(`^pid ${before.pid} → \\d+, started .* answering again \\d+ ms after the kill$`));
    expect((await inspectContainer(redis!.container.id)).pid).not.toBe(before.pid);
    expect(refreshed).toEqual(['hastecrm-redis-0']);
    expect(ledger.entries().map((e) => e.revert.type)).toEqual(['container-remove']);
  });

  it('container-kill refuses processes: nothing would restart them', async () => {
    const record = await runDataTierContainerKill(spec('container-kill', 1_000), [{ name: 'hastecrm-redis-0', labels: {}, pid: process.pid }], () => Promise.resolve(), ctx());
    expect(record.tookEffect).toBe(false);
    expect(record.reason).toMatch(/run as processes: nothing would restart a killed one; run them with target.runtime = 'container'/);
  });

  it('pod-pause: docker pause with the freezer FROZEN, unpaused at the end of the window', async () => {
    const record = await runDockerPause(spec('pod-pause', 1_500), await pod(), ctx());
    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.actions[0]?.evidence).toMatch(/^docker state paused, freezer FROZEN; unpaused: running, freezer THAWED$/);
    const state = await inspectContainer(redis!.container.id);
    expect(state.running && !state.paused).toBe(true);
    expect(ledger.entries().map((e) => e.revert.type)).toEqual(['container-remove']);
  });
});
