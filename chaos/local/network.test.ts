import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineExperiment, type RawTunables } from '../litmus/experiments.ts';
import { Ledger } from '../ledger.ts';
import type { ReplicaSet, Pod } from '../../cluster/targets/local/replica-set.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import type { FaultProxy } from './fault-proxy.ts';
import { startProxiedReplicas } from './test-support.ts';
import { createLossyHop, deleteNetns, hopNames, nsIptables, type LossyHop } from './netns.ts';
import { runNetworkFault, type NetworkControl, type NetworkExperiment } from './network.ts';
import type { InjectorContext } from './pod-delete.ts';
import { pickVictims } from './victims.ts';

// Real replicas (tiny Node HTTP servers in a real ReplicaSet), a real fault proxy in front of each
// slot, as the local target puts them between the ingress and the replicas. The replicas keep idle
// connections for a minute, so a cut keep-alive connection is the proxy's doing, not theirs.
const REPLICA = `const server = require('node:http').createServer((q, s) => s.end('ok'));
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));`;

const RUN_ID = `network-test-${process.pid}`;
const dir = mkdtempSync(path.join(os.tmpdir(), 'network-test-'));
const ledger = Ledger.open(path.join(dir, 'state'));
let set: ReplicaSet;
let replicas: Awaited<ReturnType<typeof startProxiedReplicas>> | undefined;
const proxies: FaultProxy[] = [];
/** What the proxies draw to decide loss; a test may swap it for a fixed sequence. */
let proxyRandom: () => number = Math.random;
let hop: LossyHop | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  replicas = await startProxiedReplicas({ source: REPLICA, replicas: 2, runId: RUN_ID, dir, ledger, random: () => proxyRandom() });
  set = replicas.set;
  proxies.push(...replicas.proxies);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  proxyRandom = Math.random;
});

afterAll(async () => {
  await hop?.close().catch(() => undefined);
  const names = hopNames(RUN_ID, 0);
  await deleteNetns(names.netns, names.hostLink).catch(() => undefined);
  await replicas?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const control = (overrides: Partial<NetworkControl> = {}): NetworkControl => ({ pods: (s) => set.pods(s), faultProxy: (slot) => proxies[slot], ...overrides });

const ctx = (signal = new AbortController().signal): InjectorContext => ({ runId: RUN_ID, ledger, log: () => undefined, signal, random: () => 0 });

/** A ResolvedExperiment as scripts/config/resolve.ts's `flatten` builds it, with ms overrides for short tests. */
function network<E extends NetworkExperiment>(experiment: E, env: RawTunables, overrides: Partial<ResolvedExperiment> = {}): ResolvedExperiment & { experiment: E } {
  const definition = defineExperiment(experiment, overrides.selector ?? { app: 'hastecrm-api' }, { TOTAL_CHAOS_DURATION: 1, ...env });
  const tunables = definition.env as Record<string, string | number | boolean>;
  const durationMs = Number(tunables.TOTAL_CHAOS_DURATION) * 1_000;
  return {
    name: experiment,
    definition,
    startAfterMs: 0,
    durationMs,
    intervalMs: durationMs,
    podsAffectedPerc: typeof tunables.PODS_AFFECTED_PERC === 'number' ? tunables.PODS_AFFECTED_PERC : 0,
    force: false,
    sequence: 'parallel',
    selector: { ...definition.target },
    source: 'test',
    ...overrides,
    experiment,
  };
}

/** The pod the injector will pick with ctx's random (() => 0), so a test knows which proxy to watch. */
function expectedVictim(): Pod {
  const victim = pickVictims(set.pods(), 0, () => 0)[0];
  if (!victim) throw new Error('no replica is running');
  return victim;
}

/** One GET /health on a new connection: its duration in ms, or undefined without an answer in time. */
function probe(port: number, timeoutMs = 1_000): Promise<number | undefined> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - started : undefined));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
  });
}

/** A keep-alive connection through `port` that has served one request; `closed()` says whether it was cut. */
async function keepAliveConnection(port: number): Promise<{ closed: () => boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => void socket.destroy());
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.endsWith('ok')) resolve();
    });
    socket.once('error', reject);
    socket.write('GET /health HTTP/1.1\r\nHost: replica\r\nConnection: keep-alive\r\n\r\n');
  });
  return { closed: () => closed };
}

/** Polls `condition` every 20 ms until true or `timeoutMs` passes; bounded in count and time. */
async function eventually(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}

const faults = (): number => ledger.entries().filter((e) => e.kind === 'fault').length;

describe('runNetworkFault through the fault proxies', () => {
  it('latency: proven by the measured added latency, then cleared', async () => {
    const victim = expectedVictim();
    const proxy = proxies[victim.slot]!;
    const seen: number[] = [];
    const poll = setInterval(() => seen.push(faults()), 10);
    const record = await runNetworkFault(network('pod-network-latency', { NETWORK_LATENCY: 200 }), control(), ctx()).finally(() => clearInterval(poll));

    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.experiment).toBe('pod-network-latency');
    expect(record.actions).toHaveLength(1);
    const action = record.actions[0]!;
    expect(action.action).toBe('pod-network-latency latency 200 ms');
    expect(action.target).toBe(`${victim.name} (slot ${victim.slot})`);
    const added = /: \+(-?\d+) ms \(injected 200 ms, proof needs \+100 ms\)$/.exec(action.evidence ?? '');
    expect(added, action.evidence).not.toBeNull();
    expect(Number(added![1])).toBeGreaterThanOrEqual(100);
    console.log(`latency 200 ms: ${action.evidence}`);

    // Cleared: no fault on the proxy, and a fresh probe through it is not delayed any more. With
    // the fault a new connection takes at least 2 × 200 ms (connect and reply are both delayed).
    expect(proxy.fault()).toBeNull();
    const delayedBefore = proxy.stats().delayedChunks;
    const after = await probe(proxy.port);
    expect(after).toBeDefined();
    expect(after!).toBeLessThan(400);
    expect(proxy.stats().delayedChunks, 'nothing was held back after the revert').toBe(delayedBefore);
    expect(Math.max(...seen), 'the fault is in the ledger while injected').toBe(1);
    expect(faults()).toBe(0);
  });

  it('partition: probes through the proxy go unanswered while the replica answers directly; open connections are cut', async () => {
    const victim = expectedVictim();
    const bystander = set.pods().find((pod) => pod.slot !== victim.slot)!;
    const cut = await keepAliveConnection(proxies[victim.slot]!.port);
    const spared = await keepAliveConnection(proxies[bystander.slot]!.port);

    const running = runNetworkFault(network('pod-network-partition', {}, { durationMs: 3_000 }), control(), ctx());
    expect(await eventually(() => proxies[victim.slot]!.fault() !== null, 2_000), 'the partition was set').toBe(true);
    // Our own probes while it is in place: through the proxy no answer, direct an answer.
    const [through, direct] = await Promise.all([probe(proxies[victim.slot]!.port, 750), probe(victim.port)]);
    expect(through).toBeUndefined();
    expect(direct).toBeDefined();
    expect(await eventually(cut.closed, 2_000), "the victim's keep-alive connection was cut").toBe(true);
    const record = await running;

    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.actions[0]?.action).toBe('pod-network-partition partition (every connection dropped)');
    expect(record.actions[0]?.evidence).toMatch(/^5 of 5 probes through the ingress's path unanswered within 750 ms, \d+ connections black-holed; the replica answers directly$/);
    expect(spared.closed(), "the other replica's connection is untouched").toBe(false);
    // Reverted: answered through the proxy again.
    expect(proxies[victim.slot]!.fault()).toBeNull();
    expect(await probe(proxies[victim.slot]!.port)).toBeDefined();
    expect(faults()).toBe(0);
  });

  it('loss 50 %: proven from unanswered probes and black-holed connections, then cleared', async () => {
    const victim = expectedVictim();
    const proxy = proxies[victim.slot]!;
    // Alternate draws: exactly every other new connection is lost, whatever order they arrive in.
    let draw = 0;
    proxyRandom = () => (draw++ % 2 === 0 ? 0.25 : 0.75);
    const blackholedBefore = proxy.stats().blackholed;
    // No hop for any slot: the proxy path is used.
    const record = await runNetworkFault(network('pod-network-loss', { NETWORK_PACKET_LOSS_PERCENTAGE: 50 }), control({ lossyHop: () => undefined }), ctx());

    expect(record.tookEffect, record.reason).toBe(true);
    expect(record.actions[0]?.action).toBe('pod-network-loss loss 50 % of connections');
    expect(record.actions[0]?.evidence).toMatch(/^5 of 10 probes through the ingress's path unanswered within 750 ms, 5 connections black-holed; the replica answers directly$/);
    expect(proxy.stats().blackholed - blackholedBefore).toBe(5);
    // Cleared: ten fresh connections in a row, all answered, none black-holed.
    expect(proxy.fault()).toBeNull();
    const after = [];
    for (let i = 0; i < 10; i++) after.push(await probe(proxy.port));
    expect(after.every((ms) => ms !== undefined)).toBe(true);
    expect(proxy.stats().blackholed - blackholedBefore).toBe(5);
    expect(faults()).toBe(0);
  });

  it('is not proven, with the reason, when the local target runs without fault proxies', async () => {
    const record = await runNetworkFault(network('pod-network-latency', { NETWORK_LATENCY: 100 }), control({ faultProxy: () => undefined }), ctx());
    expect(record.tookEffect).toBe(false);
    expect(record.reason).toMatch(/^hastecrm-api-\w+ \(slot \d\): the local target runs without fault proxies, so no network fault can be injected$/);
    expect(faults()).toBe(0);
  });

  it('is not proven when no pod matches the selector, and touches no proxy', async () => {
    const record = await runNetworkFault(network('pod-network-partition', {}, { selector: { app: 'hastecrm-web' } }), control(), ctx());
    expect(record.tookEffect).toBe(false);
    expect(record.reason).toBe('app=hastecrm-web: no ready pod matched the selector');
    expect(proxies.every((proxy) => proxy.fault() === null)).toBe(true);
  });

  it('injects nothing when aborted before it starts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('SIGINT'));
    const connections = proxies.map((proxy) => proxy.stats().connections);
    const record = await runNetworkFault(network('pod-network-partition', {}), control(), ctx(controller.signal));
    expect(record).toMatchObject({ tookEffect: false, actions: [], reason: 'the experiment was stopped before it injected anything' });
    expect(proxies.map((proxy) => proxy.stats().connections)).toEqual(connections);
    expect(faults()).toBe(0);
  });

  it('reverts the fault when aborted mid-window', async () => {
    const victim = expectedVictim();
    const controller = new AbortController();
    const started = Date.now();
    const running = runNetworkFault(network('pod-network-latency', { NETWORK_LATENCY: 50, TOTAL_CHAOS_DURATION: 60 }), control(), ctx(controller.signal));
    expect(await eventually(() => proxies[victim.slot]!.fault() !== null, 2_000)).toBe(true);
    controller.abort(new Error('SIGTERM'));
    await running;
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(proxies[victim.slot]!.fault()).toBeNull();
    expect(faults()).toBe(0);
  });
});

describe('runNetworkFault through a real lossy hop (network namespace, root)', () => {
  it('drops packets with iptables in the namespace instead of using the proxy', async () => {
    const victim = expectedVictim();
    hop = await createLossyHop({ runId: RUN_ID, index: 0, targetPort: victim.port, ledger });
    const lossyHop = hop;
    const proxy = proxies[victim.slot]!;
    const proxyConnections = proxy.stats().connections;

    // Traffic through the hop while the loss is on: new-connection GETs, 4 at a time.
    let injecting = true;
    const traffic = Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 2_000 && injecting; i++) await probe(lossyHop.port, 800);
      }),
    );
    const record = await runNetworkFault(
      network('pod-network-loss', { NETWORK_PACKET_LOSS_PERCENTAGE: 30 }, { durationMs: 3_000 }),
      control({ lossyHop: (slot) => (slot === victim.slot ? lossyHop : undefined) }),
      ctx(),
    ).finally(() => (injecting = false));
    await traffic;

    const evidence = record.actions[0]?.evidence ?? '';
    console.log(`netns loss 30 %: ${evidence}`);
    expect(record.experiment).toBe('pod-network-loss');
    expect(record.actions[0]?.action).toBe(`pod-network-loss 30 % (iptables statistic in ${lossyHop.netns})`);
    expect(evidence).toMatch(new RegExp(`^\\d+ of \\d+ packets entering ${lossyHop.netns} dropped`));
    expect(record.tookEffect, record.reason).toBe(true);
    // The proxy was not used, and the rule is gone.
    expect(proxy.stats().connections).toBe(proxyConnections);
    expect(proxy.fault()).toBeNull();
    expect(await nsIptables(lossyHop.netns, ['-S', 'INPUT'])).not.toMatch(/statistic/);
    expect(faults()).toBe(0);
  });
});
