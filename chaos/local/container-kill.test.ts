import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineExperiment, type RawTunables } from '../litmus/experiments.ts';
import { Ledger } from '../ledger.ts';
import { ReplicaSet } from '../../cluster/targets/local/replica-set.ts';
import { freePort } from '../../cluster/targets/local/ports.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import { runContainerKill } from './container-kill.ts';
import type { InjectorContext } from './pod-delete.ts';

// Real replicas: tiny Node HTTP servers kept running by a real ReplicaSet. Each writes the signals
// it handles to MARK, so a test can tell which signal reached which PID.
const REPLICA = `const fs = require('node:fs');
const mark = (what) => fs.appendFileSync(process.env.MARK, what + ' ' + process.pid + '\\n');
require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => { mark('SIGTERM'); process.exit(0); });
process.on('SIGUSR2', () => mark('SIGUSR2'));`;

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Fixture {
  set: ReplicaSet;
  ledger: Ledger;
  /** Lines "<signal> <pid>" the replicas wrote from their handlers. */
  marks: () => string[];
  ctx: (signal?: AbortSignal) => InjectorContext;
}

async function startReplicas(replicas = 3): Promise<Fixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'container-kill-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const ledger = Ledger.open(path.join(dir, 'state'));
  const markFile = path.join(dir, 'signals.log');
  const set = new ReplicaSet({
    app: 'hastecrm-api',
    replicas,
    ports: await Promise.all(Array.from({ length: replicas }, () => freePort())),
    command: process.execPath,
    args: ['-e', REPLICA],
    env: (_slot, port) => ({ PATH: process.env.PATH, PORT: String(port), MARK: markFile }),
    readyPath: '/health',
    readyTimeoutMs: 10_000,
    logDir: dir,
    runId: 'test',
    ledger,
    log: () => undefined,
  });
  cleanups.push(() => set.stop());
  await set.start(new AbortController().signal);
  return {
    set,
    ledger,
    marks: () => (existsSync(markFile) ? readFileSync(markFile, 'utf8').trim().split('\n') : []),
    ctx: (signal = new AbortController().signal) => ({ runId: 'test', ledger, log: () => undefined, signal, random: () => 0 }),
  };
}

/** A ResolvedExperiment as scripts/config/resolve.ts's `flatten` builds it, with ms overrides for short tests. */
function containerKill(env: RawTunables, overrides: Partial<ResolvedExperiment> = {}): ResolvedExperiment {
  const definition = defineExperiment('container-kill', overrides.selector ?? { app: 'hastecrm-api' }, { TOTAL_CHAOS_DURATION: 1, CHAOS_INTERVAL: 1, ...env });
  const tunables = definition.env as Record<string, string | number | boolean>;
  return {
    experiment: 'container-kill',
    name: 'container-kill',
    definition,
    startAfterMs: 0,
    durationMs: Number(tunables.TOTAL_CHAOS_DURATION) * 1_000,
    intervalMs: Number(tunables.CHAOS_INTERVAL) * 1_000,
    podsAffectedPerc: Number(tunables.PODS_AFFECTED_PERC),
    force: false,
    sequence: tunables.SEQUENCE === 'serial' ? 'serial' : 'parallel',
    selector: { ...definition.target },
    source: 'test',
    ...overrides,
  };
}

/** The pod name and PID an action's target names: "hastecrm-api-3f9k2 (pid 4242)". */
function victimOf(target: string): { name: string; pid: number } {
  const match = /^(\S+) \(pid (\d+)\)$/.exec(target);
  if (!match) throw new Error(`unexpected action target ${JSON.stringify(target)}`);
  return { name: match[1]!, pid: Number(match[2]) };
}

describe('runContainerKill on a real ReplicaSet', () => {
  it('SIGKILLs a container, which restarts in place: same pod name, new PID, restarts 0 → 1', async () => {
    const { set, ledger, marks, ctx } = await startReplicas();
    const before = set.pods();
    const seen: number[] = [];
    const poll = setInterval(() => seen.push(ledger.entries().filter((e) => e.kind === 'fault').length), 10);
    const record = await runContainerKill(containerKill({}), set, ctx()).finally(() => clearInterval(poll));

    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.actions).toHaveLength(1);
    const action = record.actions[0]!;
    expect(action.action).toBe('container-kill (SIGKILL)');
    const victim = victimOf(action.target);
    const after = set.pods().find((pod) => pod.name === victim.name);
    expect(after, 'the pod keeps its name').toBeDefined();
    expect(after!.pid).not.toBe(victim.pid);
    expect(after!.restarts).toBe(1);
    expect(after!.ready).toBe(true);
    expect(before.find((pod) => pod.name === victim.name)?.restarts).toBe(0);
    expect(action.evidence).toMatch(new RegExp(`^${victim.name}: pid ${victim.pid} → ${after!.pid}, restarts 0 → 1, ready \\d+ ms after the kill$`));
    // The other pods were not touched, and nothing got a new name.
    expect(set.pods().map((p) => p.name).sort()).toEqual(before.map((p) => p.name).sort());
    expect(set.pods().filter((p) => p.name !== victim.name).every((p) => p.restarts === 0)).toBe(true);
    // SIGKILL runs no handler: the victim wrote nothing.
    expect(marks()).toEqual([]);
    expect(Math.max(...seen), 'the kill is in the ledger while it is being proven').toBe(1);
    expect(ledger.entries().filter((e) => e.kind === 'fault')).toEqual([]);
    expect(record.end - record.start).toBeGreaterThanOrEqual(1_000);
  });

  it('sends SIGNAL: with SIGTERM the container runs its handler, then restarts in place', async () => {
    const { set, ledger, marks, ctx } = await startReplicas();
    const record = await runContainerKill(containerKill({ SIGNAL: 'SIGTERM' }), set, ctx());
    expect(record.tookEffect, record.reason).toBe(true);
    const action = record.actions[0]!;
    expect(action.action).toBe('container-kill (SIGTERM)');
    const victim = victimOf(action.target);
    expect(marks()).toEqual([`SIGTERM ${victim.pid}`]);
    expect(set.pods().find((p) => p.name === victim.name)).toMatchObject({ restarts: 1, ready: true });
    expect(ledger.entries().filter((e) => e.kind === 'fault')).toEqual([]);
  });

  it('kills PODS_AFFECTED_PERC of the pods per round and proves each restart', async () => {
    const { set, ctx } = await startReplicas();
    const record = await runContainerKill(containerKill({ PODS_AFFECTED_PERC: 67 }), set, ctx());
    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.actions).toHaveLength(2);
    const names = record.actions.map((a) => victimOf(a.target).name);
    expect(new Set(names).size).toBe(2);
    expect(set.pods().filter((p) => names.includes(p.name)).map((p) => p.restarts)).toEqual([1, 1]);
    expect(set.restartCount()).toBe(2);
  });

  it('is not proven, with evidence, when the container survives the signal (SIGUSR2 with a handler)', async () => {
    const { set, ledger, marks, ctx } = await startReplicas(1);
    const [pod] = set.pods();
    const record = await runContainerKill(containerKill({ SIGNAL: 'SIGUSR2' }), set, ctx());
    expect(record.tookEffect).toBe(false);
    expect(record.actions[0]?.evidence).toBe(`kill failed: ${pod!.name} (pid ${pod!.pid}) was still running 5000 ms after SIGUSR2: the signal did not kill its container`);
    expect(record.reason).toMatch(/^1 of 1 kills were not proven: hastecrm-api-\w+ \(pid \d+\): kill failed: .* still running 5000 ms after SIGUSR2/);
    // The signal did arrive, and the process is the same one, not restarted.
    expect(marks()).toEqual([`SIGUSR2 ${pod!.pid}`]);
    expect(set.pods()).toMatchObject([{ name: pod!.name, pid: pod!.pid, restarts: 0, ready: true }]);
    expect(ledger.entries().filter((e) => e.kind === 'fault')).toEqual([]);
    // The survived kill left no pending in-place restart: a later delete gives a new pod, as usual.
    const deleted = await set.deletePod(pod!.name, true);
    const replacement = await set.waitForReplacement(deleted, 10_000);
    expect(replacement.name).not.toBe(pod!.name);
    expect(replacement.restarts).toBe(0);
  });

  it('says it was stopped when aborted before the first kill, and kills nothing', async () => {
    const { set, ledger, ctx } = await startReplicas(1);
    const [pod] = set.pods();
    const controller = new AbortController();
    controller.abort(new Error('SIGINT'));
    const started = Date.now();
    const record = await runContainerKill(containerKill({ TOTAL_CHAOS_DURATION: 30, CHAOS_INTERVAL: 10 }), set, ctx(controller.signal));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(record).toMatchObject({ tookEffect: false, actions: [], reason: 'the experiment was stopped before it killed any container' });
    expect(set.pods()).toMatchObject([{ name: pod!.name, pid: pod!.pid, restarts: 0 }]);
    expect(ledger.entries().filter((e) => e.kind === 'fault')).toEqual([]);
  });

  it('stops between rounds when aborted, and still proves the kill it made', async () => {
    const { set, ctx } = await startReplicas(1);
    const controller = new AbortController();
    const pending = runContainerKill(containerKill({ TOTAL_CHAOS_DURATION: 30, CHAOS_INTERVAL: 10 }), set, ctx(controller.signal));
    // Abort once the first kill is done (the pod restarted), long before the second round.
    for (let i = 0; i < 200 && set.restartCount() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    controller.abort(new Error('SIGTERM'));
    const record = await pending;
    expect(record.actions).toHaveLength(1);
    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.end - record.start).toBeLessThan(25_000);
  });

  it('is not proven when no pod matches the selector, and kills nothing', async () => {
    const { set, ctx } = await startReplicas(1);
    const record = await runContainerKill(containerKill({}, { selector: { app: 'hastecrm-web' } }), set, ctx());
    expect(record.tookEffect).toBe(false);
    expect(record.reason).toBe('1 of 1 kills were not proven: app=hastecrm-web: no ready pod matched the selector');
    expect(set.restartCount()).toBe(0);
  });
});

describe('ReplicaSet.killContainer', () => {
  it('names the pod it cannot find', async () => {
    const { set } = await startReplicas(1);
    await expect(set.killContainer('hastecrm-api-nope', 'SIGKILL')).rejects.toThrow('no pod named hastecrm-api-nope');
  });

  it('waitForContainerRestart gives up at its deadline with what it waited for', async () => {
    const { set } = await startReplicas(1);
    const [pod] = set.pods();
    await expect(set.waitForContainerRestart(pod!, 200)).rejects.toThrow(`the container of pod ${pod!.name} to restart was not ready within 200 ms`);
  });
});
