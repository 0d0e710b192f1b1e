import { defineExperiment } from '../litmus/experiments.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../ledger.ts';
import { runPodDelete } from './pod-delete.ts';
import { ReplicaSet } from '../../cluster/targets/local/replica-set.ts';
import { freePort } from '../../cluster/targets/local/ports.ts';
import type { ResolvedPodDelete } from '../../scripts/config/resolve.ts';

// Real replicas: tiny Node HTTP servers answering /ready, kept running by a real ReplicaSet.
const REPLICA = `require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));`;

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function replicaSet(options: { replicas?: number; script?: string } = {}): Promise<{ set: ReplicaSet; ledger: Ledger }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pod-delete-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const ledger = Ledger.open(path.join(dir, 'state'));
  const replicas = options.replicas ?? 3;
  const set = new ReplicaSet({
    app: 'hastecrm-api',
    replicas,
    ports: await Promise.all(Array.from({ length: replicas }, () => freePort())),
    command: process.execPath,
    args: ['-e', options.script ?? REPLICA],
    env: (_slot, port) => ({ PATH: process.env.PATH, PORT: String(port) }),
    readyPath: '/',
    readyTimeoutMs: 10_000,
    logDir: dir,
    runId: 'test',
    ledger,
    log: () => undefined,
  });
  cleanups.push(() => set.stop());
  return { set, ledger };
}

const experiment = (overrides: Partial<ResolvedPodDelete> = {}): ResolvedPodDelete => ({
  experiment: 'pod-delete',
  name: 'pod-delete',
  startAfterMs: 0,
  durationMs: 2_000,
  intervalMs: 1_000,
  podsAffectedPerc: 0,
  force: false,
  sequence: 'parallel',
  selector: { app: 'hastecrm-api' },
  definition: defineExperiment('pod-delete', { app: 'hastecrm-api' }),
  source: 'test',
  ...overrides,
});

describe('ReplicaSet', () => {
  it('replaces a deleted pod with a new one (new name, new PID), like a Deployment', async () => {
    const { set, ledger } = await replicaSet();
    await set.start(new AbortController().signal);
    const before = set.pods();
    expect(before).toHaveLength(3);
    expect(before.every((p) => p.ready && p.labels.app === 'hastecrm-api')).toBe(true);
    expect(ledger.entries().filter((e) => e.kind === 'process')).toHaveLength(3);
    const victim = await set.deletePod(before[0]!.name, true);
    const replacement = await set.waitForReplacement(victim, 10_000);
    expect(replacement.name).not.toBe(victim.name);
    expect(replacement.pid).not.toBe(victim.pid);
    expect(replacement.slot).toBe(victim.slot);
    expect(set.restartCount()).toBe(1);
    await set.stop();
    expect(ledger.entries(), 'stopped replicas leave the ledger').toEqual([]);
  });

  it('fails to start with the replica log when the command dies at once', async () => {
    const { set } = await replicaSet({ replicas: 1, script: "console.error('cannot connect to PostgreSQL'); process.exit(3)" });
    await expect(set.start(new AbortController().signal)).rejects.toThrow(/exited \(exit code 3\)[\s\S]*cannot connect to PostgreSQL/);
  });
});

describe('runPodDelete on a real ReplicaSet', () => {
  it('deletes one pod per interval, writes each to the ledger first, and proves each replacement', async () => {
    const { set, ledger } = await replicaSet();
    await set.start(new AbortController().signal);
    const seen: number[] = [];
    const poll = setInterval(() => seen.push(ledger.entries().filter((e) => e.kind === 'fault').length), 10);
    const record = await runPodDelete(experiment(), set, { runId: 'test', ledger, log: () => undefined, signal: new AbortController().signal, random: () => 0 });
    clearInterval(poll);
    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.actions).toHaveLength(2);
    for (const action of record.actions) expect(action.evidence).toMatch(/^pid \d+ → hastecrm-api-\w+ pid \d+, ready \d+ ms after the delete$/);
    expect(record.end - record.start).toBeGreaterThanOrEqual(2_000);
    expect(Math.max(...seen), 'each deletion is in the ledger while it is being reverted').toBeGreaterThanOrEqual(1);
    expect(ledger.entries().filter((e) => e.kind === 'fault')).toEqual([]);
    expect(set.restartCount()).toBe(2);
  });

  it("deletes floor(PODS_AFFECTED_PERC × pods / 100) pods per round, at least one, as Litmus does", async () => {
    const { set, ledger } = await replicaSet();
    await set.start(new AbortController().signal);
    const record = await runPodDelete(experiment({ durationMs: 1_000, intervalMs: 1_000, podsAffectedPerc: 67, force: true }), set, {
      runId: 'test',
      ledger,
      log: () => undefined,
      signal: new AbortController().signal,
    });
    expect(record.actions.map((a) => a.action)).toEqual(['pod-delete (force)', 'pod-delete (force)']);
    expect(record.tookEffect).toBe(true);
  });

  it('is not proven (no effect) when no pod matches the selector', async () => {
    const { set, ledger } = await replicaSet({ replicas: 1 });
    await set.start(new AbortController().signal);
    const record = await runPodDelete(experiment({ durationMs: 1_000, selector: { app: 'hastecrm-web' } }), set, { runId: 'test', ledger, log: () => undefined, signal: new AbortController().signal });
    expect(record.tookEffect).toBe(false);
    expect(record.reason).toMatch(/not proven: app=hastecrm-web: no ready pod matched the selector/);
    expect(set.restartCount()).toBe(0);
  });

  it('stops deleting when aborted and still returns what it did', async () => {
    const { set, ledger } = await replicaSet();
    await set.start(new AbortController().signal);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('SIGINT')), 300);
    const started = Date.now();
    const record = await runPodDelete(experiment({ durationMs: 10_000, intervalMs: 1_000 }), set, { runId: 'test', ledger, log: () => undefined, signal: controller.signal });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(record.actions).toHaveLength(1);
    expect(ledger.entries().filter((e) => e.kind === 'fault')).toEqual([]);
  });
});
