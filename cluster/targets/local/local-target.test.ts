import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { Ledger } from '../../../chaos/ledger.ts';
import { cgroupDirOf } from '../../../chaos/local/cgroups.ts';
import { runPause } from '../../../chaos/local/pause.ts';
import { resolveConfig } from '../../../scripts/config/resolve.ts';
import { apiSlos } from '../../../slo/api.ts';
import { removeRunContainers } from './containers/cleanup.ts';
import { inspectContainer, listContainersByLabel, RUN_ID_LABEL } from './containers/docker.ts';
import { describeWithDocker } from './containers/docker-test-support.ts';
import { LocalTarget } from './local-target.ts';

/**
 * LocalTarget with PostgreSQL and Redis in Docker containers (issue 8): the replicas use them, the
 * data tier is exposed to the cgroup chaos by the containers' host PIDs, and stop() (or a failed
 * start) leaves no container and an empty ledger.
 */

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup(target: Record<string, unknown>): { target: LocalTarget; ledger: Ledger; runId: string } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'local-target-containers-'));
  const runId = `lt-${path.basename(base).slice(-6).toLowerCase()}`;
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  cleanups.push(() => removeRunContainers(runId)); // safety net when an assertion failed mid-test
  const raw = { suites: { t: { target: { type: 'local', replicas: 1, readyTimeout: '90s', ...target }, load: { scenario: 'x.ts' }, slos: apiSlos } } };
  const spec = resolveConfig(raw, path.join(base, 'resilience.config.ts')).suites.t!.target;
  if (spec.type !== 'local') throw new Error('expected a local target');
  const ledger = Ledger.open(path.join(base, 'state'));
  const localTarget = new LocalTarget({ spec, runId, workDir: mkdtempSync(path.join(base, 'work-')), ledger, log: () => undefined });
  cleanups.push(() => localTarget.stop().catch(() => undefined));
  return { target: localTarget, ledger, runId };
}

async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 500, commandTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

describeWithDocker('LocalTarget with the container runtime', () => {
  it('serves the API from containerised PostgreSQL and Redis, pauses Redis by its host PID, and stops cleanly', async () => {
    const { target, ledger, runId } = setup({ runtime: { postgres: 'container', redis: 'container', prometheus: 'auto' } });
    await target.start(AbortSignal.timeout(120_000));

    // The replicas reach the containers: a write and a read through the ingress.
    const created = await fetch(`${target.baseUrl}/api/contacts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ada', email: 'ada@example.test' }) });
    expect(created.status, await created.clone().text()).toBeLessThan(300);
    expect((await fetch(`${target.baseUrl}/api/contacts`)).status).toBe(200);

    // Both containers are recorded in the ledger; the data-tier pods carry the containers' host PIDs.
    const ids = await listContainersByLabel({ [RUN_ID_LABEL]: runId });
    expect(ids).toHaveLength(2);
    expect(ledger.entries().filter((e) => e.revert.type === 'container-remove')).toHaveLength(2);
    const pids = await Promise.all(ids.map(async (id) => (await inspectContainer(id)).pid));
    const pods = target.dataTierPods();
    expect(pods.map((p) => p.name).sort()).toEqual(['hastecrm-postgresql-0', 'hastecrm-redis-0']);
    expect(pods.map((p) => p.pid).sort()).toEqual([...pids].sort());

    // Pause Redis through the cgroup freezer: the harness cgroup nests under Docker's own.
    const redis = target.dataTierPods({ app: 'hastecrm-redis' })[0]!;
    const dockerCgroup = cgroupDirOf(redis.pid, 'freezer');
    expect(ids.some((id) => dockerCgroup.includes(id)), `${dockerCgroup} should be the container's cgroup`).toBe(true);
    const record = await runPause({ name: 'pause', durationMs: 1_500 }, redis, { runId, ledger, log: () => undefined, signal: AbortSignal.timeout(30_000) }, { probe: () => redisAnswers(target.dataTierUrl('redis')) });
    expect(record.tookEffect, record.reason).toBe(true);
    expect(cgroupDirOf(redis.pid, 'freezer'), 'Redis is back in its container cgroup').toBe(dockerCgroup);
    expect(await redisAnswers(target.dataTierUrl('redis')), 'Redis answers again after the thaw').toBe(true);

    await target.stop();
    expect(await listContainersByLabel({ [RUN_ID_LABEL]: runId }), 'containers left after stop()').toEqual([]);
    expect(ledger.entries()).toEqual([]);
  });

  it('fails to start with the fix named when a configured image is not present, and leaves nothing', async () => {
    const { target, ledger, runId } = setup({ runtime: { postgres: 'container', redis: 'process', prometheus: 'auto' }, images: { postgres: 'hastecrm-resilience/does-not-exist:1' } });
    await expect(target.start(AbortSignal.timeout(60_000))).rejects.toThrow(/hastecrm-resilience\/does-not-exist:1.*(docker pull|docker load)/);
    await target.stop();
    expect(await listContainersByLabel({ [RUN_ID_LABEL]: runId })).toEqual([]);
    expect(ledger.entries()).toEqual([]);
  });
});
