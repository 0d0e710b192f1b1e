import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineExperiment, type RawTunables } from '../litmus/experiments.ts';
import { Ledger } from '../ledger.ts';
import type { ReplicaSet } from '../../cluster/targets/local/replica-set.ts';
import type { DataTierPod } from '../../cluster/targets/local/local-target.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import type { FaultProxy } from './fault-proxy.ts';
import { startProxiedReplicas } from './test-support.ts';
import type { InjectorContext } from './pod-delete.ts';
import { LOCAL_SUPPORT, runLocalExperiment, type LocalChaosSurface } from './run-local.ts';

// The dispatcher against real things: a real ReplicaSet of tiny Node HTTP servers, a real fault
// proxy in front of each slot, and a real idle Node process standing in for a data-tier pod (Redis).
// It burns CPU (pod-cpu-hog) and freezes processes: it belongs in the `chaos-local` project.
const REPLICA = `require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));`;

const RUN_ID = `run-local-test-${process.pid}`;
const dir = mkdtempSync(path.join(os.tmpdir(), 'run-local-test-'));
const ledger = Ledger.open(path.join(dir, 'state'));
let set: ReplicaSet;
let replicas: Awaited<ReturnType<typeof startProxiedReplicas>> | undefined;
const proxies: FaultProxy[] = [];
let redis: DataTierPod;
let surface: LocalChaosSurface;

beforeAll(async () => {
  replicas = await startProxiedReplicas({ source: REPLICA, replicas: 2, runId: RUN_ID, dir, ledger });
  set = replicas.set;
  proxies.push(...replicas.proxies);
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
  redis = { name: 'redis', labels: { app: 'redis', tier: 'data' }, pid: child.pid! };
  surface = {
    replicas: set,
    faultProxy: (slot) => proxies[slot],
    lossyHop: () => undefined,
    dataTierPods: (selector) => [redis].filter((pod) => Object.entries(selector).every(([k, v]) => pod.labels[k] === v)),
  };
});

afterAll(async () => {
  try {
    if (redis) process.kill(-redis.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await replicas?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ctx = (): InjectorContext => ({ runId: RUN_ID, ledger, log: () => undefined, signal: new AbortController().signal, random: () => 0 });

/** A ResolvedExperiment as scripts/config/resolve.ts's `flatten` builds it. */
function resolved(experiment: string, selector: Record<string, string>, env: RawTunables = {}): ResolvedExperiment {
  const definition = defineExperiment(experiment, selector, env);
  const tunables = definition.env as Record<string, string | number | boolean | undefined>;
  const durationMs = Number(tunables.TOTAL_CHAOS_DURATION) * 1_000;
  return {
    experiment: definition.experiment,
    name: `${experiment}-test`,
    definition,
    startAfterMs: 0,
    durationMs,
    intervalMs: typeof tunables.CHAOS_INTERVAL === 'number' ? tunables.CHAOS_INTERVAL * 1_000 : durationMs,
    podsAffectedPerc: typeof tunables.PODS_AFFECTED_PERC === 'number' ? tunables.PODS_AFFECTED_PERC : 0,
    force: tunables.FORCE === true,
    sequence: tunables.SEQUENCE === 'serial' ? 'serial' : 'parallel',
    selector: { ...definition.target },
    source: 'test',
  };
}

const API = { app: 'hastecrm-api' };
const faults = (): number => ledger.entries().filter((e) => e.kind === 'fault').length;

describe('runLocalExperiment dispatches each experiment to its injector', () => {
  it('pod-delete: a new pod replaces the deleted one', async () => {
    const before = set.pods().map((p) => p.name);
    const record = await runLocalExperiment(resolved('pod-delete', API, { TOTAL_CHAOS_DURATION: 1, CHAOS_INTERVAL: 1 }), surface, ctx());
    expect(record.tookEffect, record.reason).toBe(true);
    expect(record).toMatchObject({ name: 'pod-delete-test', experiment: 'pod-delete' });
    expect(record.actions[0]?.evidence).toMatch(/^pid \d+ → hastecrm-api-\w+ pid \d+, ready/);
    expect(set.pods().map((p) => p.name).filter((name) => !before.includes(name))).toHaveLength(1);
  });

  it('container-kill: the container restarts in place', async () => {
    const record = await runLocalExperiment(resolved('container-kill', API, { TOTAL_CHAOS_DURATION: 1, CHAOS_INTERVAL: 1 }), surface, ctx());
    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.experiment).toBe('container-kill');
    expect(record.actions[0]?.evidence).toMatch(/restarts 0 → 1/);
  });

  it('pod-network-latency, -partition and -loss: through the fault proxies', async () => {
    const latency = await runLocalExperiment(resolved('pod-network-latency', API, { TOTAL_CHAOS_DURATION: 1, NETWORK_LATENCY: 150 }), surface, ctx());
    expect(latency.tookEffect, latency.reason).toBe(true);
    expect(latency.actions[0]?.action).toBe('pod-network-latency latency 150 ms');
    const partition = await runLocalExperiment(resolved('pod-network-partition', API, { TOTAL_CHAOS_DURATION: 1 }), surface, ctx());
    expect(partition.tookEffect, partition.reason).toBe(true);
    expect(partition.actions[0]?.action).toBe('pod-network-partition partition (every connection dropped)');
    // No lossy hop on this surface: loss falls back to the proxy (at 80 %, 7 probes all answered has p ≈ 1e-5).
    const loss = await runLocalExperiment(resolved('pod-network-loss', API, { TOTAL_CHAOS_DURATION: 1, NETWORK_PACKET_LOSS_PERCENTAGE: 80 }), surface, ctx());
    expect(loss.tookEffect, loss.reason).toBe(true);
    expect(loss.actions[0]?.action).toBe('pod-network-loss loss 80 % of connections');
    expect(proxies.every((proxy) => proxy.fault() === null)).toBe(true);
    expect(faults()).toBe(0);
  });

  it('pod-cpu-hog on a replica: stress-ng in its cgroup, for 2 s', async () => {
    const record = await runLocalExperiment(resolved('pod-cpu-hog', API, { TOTAL_CHAOS_DURATION: 2, CPU_CORES: 1, CPU_LOAD: 100 }), surface, ctx());
    console.log(`cpu-hog: ${record.actions[0]?.evidence ?? record.reason}`);
    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.experiment).toBe('pod-cpu-hog');
    expect(record.actions).toHaveLength(1);
    expect(record.actions[0]?.target).toMatch(/^hastecrm-api-\w+ \(pid \d+\)$/);
    expect(record.end - record.start).toBeGreaterThanOrEqual(2_000);
    expect(faults()).toBe(0);
  });

  it('pod-memory-hog and pod-pause on a data-tier pod, found through dataTierPods', async () => {
    const memory = await runLocalExperiment(resolved('pod-memory-hog', { app: 'redis' }, { TOTAL_CHAOS_DURATION: 2, MEMORY_CONSUMPTION: 64 }), surface, ctx());
    expect(memory.tookEffect, memory.reason).toBe(true);
    expect(memory.experiment).toBe('pod-memory-hog');
    expect(memory.actions[0]?.target).toBe(`redis (pid ${redis.pid})`);
    const pause = await runLocalExperiment(resolved('pod-pause', { tier: 'data' }, { TOTAL_CHAOS_DURATION: 2, CHAOS_INTERVAL: 2 }), surface, ctx());
    expect(pause.tookEffect, pause.reason).toBe(true);
    expect(pause.experiment).toBe('pod-pause');
    expect(pause.actions[0]?.target).toBe(`redis (pid ${redis.pid})`);
    expect(pause.actions[0]?.evidence).toMatch(/^freezer FROZEN after \d+ ms, process state D$/);
    expect(faults()).toBe(0);
  });

  it('pod-pause on a replica also proves it stopped answering', async () => {
    const record = await runLocalExperiment(resolved('pod-pause', API, { TOTAL_CHAOS_DURATION: 2, CHAOS_INTERVAL: 2 }), surface, ctx());
    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.actions[0]?.evidence).toMatch(/process state D, no answer to the probe$/);
    // Thawed: every replica answers again.
    for (const pod of set.pods()) expect((await fetch(`http://127.0.0.1:${pod.port}/health`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
  });

  it('node-drain is not started on the local target, with the reason', async () => {
    const record = await runLocalExperiment(resolved('node-drain', API, { TARGET_NODE: 'worker-1' }), surface, ctx());
    expect(record).toMatchObject({ experiment: 'node-drain', actions: [], tookEffect: false, reason: LOCAL_SUPPORT['node-drain'].how });
    expect(record.reason).toMatch(/Kubernetes only/);
  });

  it('a process experiment that matches nothing is not started, naming the selector', async () => {
    const record = await runLocalExperiment(resolved('pod-cpu-hog', { app: 'hastecrm-web' }, { TOTAL_CHAOS_DURATION: 1 }), surface, ctx());
    expect(record).toMatchObject({ tookEffect: false, actions: [], reason: 'no process matched app=hastecrm-web' });
  });
});
