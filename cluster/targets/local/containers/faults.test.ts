import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Ledger } from '../../../../chaos/ledger.ts';
import { removeRunContainers } from './cleanup.ts';
import { inspectContainer, listContainersByLabel } from './docker.ts';
import { describeWithDocker, dockerAvailable } from './docker-test-support.ts';
import { killContainer, limitContainer, pauseContainer } from './faults.ts';
import { startRedisContainer, type RunningRedisContainer } from './services.ts';

const runId = `fault-test-${process.pid}`;
let stateDir = '';
let book: Ledger;
let redis: RunningRedisContainer | undefined;

/** PING with a short deadline: 'PONG', or the error message (a paused server never answers). */
async function ping(url: string): Promise<string> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, commandTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.ping();
  } catch (error) {
    return (error as Error).message;
  } finally {
    client.disconnect();
  }
}

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'containers-faults-'));
  book = Ledger.open(stateDir);
  if (dockerAvailable) redis = await startRedisContainer({ runId, ledger: book });
});

afterEach(() => {
  // Only the container's own entry may remain between tests: every fault removed its entry.
  expect(book.entries().map((e) => e.revert.type)).toEqual(redis ? ['container-remove'] : []);
});

afterAll(async () => {
  await redis?.stop();
  await removeRunContainers(runId);
  rmSync(stateDir, { recursive: true, force: true });
  expect(await listContainersByLabel({ 'resilience.run-id': runId })).toEqual([]);
});

describeWithDocker('faults on containers', () => {
  it('kill: the container is killed and started again, proven by a new PID and start time; the service answers again', async () => {
    const proof = await killContainer(redis!.container, { ledger: book, runId });
    expect(proof.after.pid).not.toBe(proof.before.pid);
    expect(Date.parse(proof.after.startedAt)).toBeGreaterThan(Date.parse(proof.before.startedAt));
    expect(await ping(redis!.url)).toBe('PONG');
    console.log(`kill: pid ${proof.before.pid} → ${proof.after.pid}, answering again after ${proof.recoveredInMs} ms`);
  });

  it('pause: Docker reports paused and the freezer FROZEN, PING gets no answer; unpause thaws it and PING answers', async () => {
    const paused = await pauseContainer(redis!.container, { ledger: book, runId });
    expect(paused.status).toBe('paused');
    expect(paused.freezerState).toBe('FROZEN');
    expect(book.entries().some((e) => e.kind === 'fault' && /pause container/.test(e.description))).toBe(true);
    expect(await ping(redis!.url)).toMatch(/timed out/i);
    await expect(pauseContainer(redis!.container, { ledger: book, runId })).rejects.toThrow(/it is paused; only a running, unpaused container can be paused/);
    const resumed = await paused.unpause();
    expect(resumed).toEqual({ status: 'running', freezerState: 'THAWED' });
    expect(await paused.unpause()).toEqual(resumed); // idempotent
    expect(await ping(redis!.url)).toBe('PONG');
  });

  it('limit: CPU and memory limits show in HostConfig and in the cgroup files, and revert lifts them', async () => {
    const limited = await limitContainer(redis!.container, { cpus: 0.5, memoryBytes: 64 * 2 ** 20 }, { ledger: book, runId });
    expect(limited.nanoCpus).toBe(500_000_000);
    expect(limited.memoryBytes).toBe(64 * 2 ** 20);
    expect(limited.cgroup.cfsQuotaUs! / limited.cgroup.cfsPeriodUs!).toBe(0.5);
    expect(limited.cgroup.memoryLimitBytes).toBe(64 * 2 ** 20);
    expect(await ping(redis!.url)).toBe('PONG');
    const reverted = await limited.revert();
    // Docker cannot remove a limit: it is raised to the whole host instead.
    expect(reverted.nanoCpus).toBe(os.availableParallelism() * 1e9);
    expect(reverted.cgroup.cfsQuotaUs! / reverted.cgroup.cfsPeriodUs!).toBe(os.availableParallelism());
    expect(reverted.memoryBytes).toBe(Math.floor(os.totalmem() / 4096) * 4096);
    expect(reverted.cgroup.memoryLimitBytes).toBeGreaterThanOrEqual(os.totalmem() - 4096);
  });

  it('rejects limits that cannot apply, and faults on a container that is not running', async () => {
    const context = { ledger: book, runId };
    await expect(limitContainer(redis!.container, {}, context)).rejects.toThrow(/needs cpus or memoryBytes/);
    await expect(limitContainer(redis!.container, { cpus: 0 }, context)).rejects.toThrow(/cpus must be > 0 and at most/);
    await expect(limitContainer(redis!.container, { memoryBytes: 1024 }, context)).rejects.toThrow(/at least 6291456/);
    await expect(killContainer({ ...redis!.container, id: 'no-such-container-x' }, context)).rejects.toThrow(/No such container/i);
    expect((await inspectContainer(redis!.container.id)).running).toBe(true);
  });
});
