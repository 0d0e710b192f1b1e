import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../ledger.ts';
import type { InjectorContext } from './pod-delete.ts';
import { createLossyHop, deleteNetns, hopNames, nsIptables, run, type LossyHop } from './netns.ts';
import { lossRule, readCounters, runNetnsPacketLoss, validateNetnsLossSpec } from './netns-loss.ts';

// Real packet loss: a real lossy hop (namespace, veth, relays) in front of a real HTTP server on
// 127.0.0.1, real iptables rules, real TCP retransmissions. Needs root.

const RUN_ID = `netns-loss-test-${process.pid}`;
const dir = mkdtempSync(path.join(os.tmpdir(), 'netns-loss-test-'));
const ledger = Ledger.open(dir);
const server = http.createServer((_req, res) => res.end('ok'));
let hop: LossyHop;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hop = await createLossyHop({ runId: RUN_ID, index: 0, targetPort: (server.address() as { port: number }).port, ledger });
});

afterAll(async () => {
  await hop?.close().catch(() => undefined);
  for (const index of [0, 1]) {
    const names = hopNames(RUN_ID, index);
    await deleteNetns(names.netns, names.hostLink).catch(() => undefined);
  }
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function ctx(signal = new AbortController().signal): InjectorContext {
  return { runId: RUN_ID, ledger, log: () => undefined, signal };
}

/** New-connection GETs through the hop with a short timeout, `concurrency` at a time, until `until`. */
async function traffic(until: () => boolean, concurrency = 4): Promise<{ ok: number; failed: number }> {
  const counts = { ok: 0, failed: 0 };
  const one = (): Promise<boolean> =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: hop.port, agent: false, timeout: 800 }, (res) => {
        res.resume().on('end', () => resolve(true));
        res.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false));
    });
  const worker = async (): Promise<void> => {
    // Bounded in count as well as by `until`.
    for (let i = 0; i < 5_000 && until(); i++) {
      if (await one()) counts.ok++;
      else counts.failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

describe('validateNetnsLossSpec', () => {
  it('names the field, the value and the range', () => {
    expect(() => validateNetnsLossSpec({ name: 'l', lossPercent: 0, durationMs: 1_000 })).toThrow(/lossPercent \(NETWORK_PACKET_LOSS_PERCENTAGE\) must be a number above 0 and at most 100, got 0/);
    expect(() => validateNetnsLossSpec({ name: 'l', lossPercent: 101, durationMs: 1_000 })).toThrow(/got 101/);
    expect(() => validateNetnsLossSpec({ name: 'l', lossPercent: 30, durationMs: -1 })).toThrow(/durationMs \(TOTAL_CHAOS_DURATION\) must be a positive number of ms, got -1/);
    expect(() => validateNetnsLossSpec({ name: ' ', lossPercent: 30, durationMs: 1 })).toThrow(/name must be a non-empty string/);
  });
});

describe('runNetnsPacketLoss', () => {
  it('drops 30 % of the packets entering the hop, proves it from the counters, and removes the rule', async () => {
    const clean = await traffic(() => cleanDone-- > 0, 1);
    expect(clean.failed).toBe(0);

    let injecting = true;
    const load = traffic(() => injecting);
    const record = await runNetnsPacketLoss({ name: 'loss-30', lossPercent: 30, durationMs: 5_000 }, hop, ctx());
    injecting = false;
    const lossy = await load;

    const evidence = record.actions[0]?.evidence ?? '';
    const m = /(\d+) of (\d+) packets entering \S+ dropped \(([\d.]+) %/.exec(evidence);
    expect(m, evidence).not.toBeNull();
    const [dropped, total] = [Number(m![1]), Number(m![2])];
    console.log(`30 % loss: ${evidence}; client: ${lossy.ok} ok, ${lossy.failed} failed (800 ms timeout)`);
    // tookEffect includes "measured share within max(5 points, 4 binomial σ) of 30 %".
    expect(record.tookEffect, record.reason).toBe(true);
    expect(dropped).toBeGreaterThan(0);
    expect(total).toBeGreaterThanOrEqual(50);
    // Real loss is felt by the client: with TCP's 1 s SYN retransmission, some 800 ms requests fail.
    expect(lossy.failed).toBeGreaterThan(0);

    // Reverted: no statistic rule left, the ledger empty, and traffic flows without loss again.
    expect(await nsIptables(hop.netns, ['-S', 'INPUT'])).not.toMatch(/statistic/);
    expect(ledger.entries().filter((e) => e.kind === 'fault')).toEqual([]);
    const countedBefore = (await readCounters(hop.netns, 'rsl-loss:loss-30')).passed;
    let after = 30;
    const recovered = await traffic(() => after-- > 0, 1);
    const counters = await readCounters(hop.netns, 'rsl-loss:loss-30');
    expect(counters.dropped).toBeUndefined();
    expect(counters.passed).toBeGreaterThan(countedBefore);
    expect(recovered.failed).toBe(0);
  });

  it('is inconclusive without traffic: nothing to measure', async () => {
    const record = await runNetnsPacketLoss({ name: 'idle', lossPercent: 50, durationMs: 300 }, hop, ctx());
    expect(record.tookEffect).toBe(false);
    expect(record.reason).toMatch(/fewer than 20 packets: no traffic to measure/);
    expect(await nsIptables(hop.netns, ['-S', 'INPUT'])).not.toMatch(/statistic/);
  });

  it('stops early on abort and still removes the rule', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = runNetnsPacketLoss({ name: 'aborted', lossPercent: 20, durationMs: 60_000 }, hop, ctx(controller.signal));
    await waitForRule();
    controller.abort();
    const record = await pending;
    expect(record.end - started).toBeLessThan(30_000);
    expect(await nsIptables(hop.netns, ['-S', 'INPUT'])).not.toMatch(/statistic/);
    expect(ledger.entries().filter((e) => e.kind === 'fault')).toEqual([]);
  });

  it('reports a namespace that is not a hop instead of injecting', async () => {
    const { netns, hostLink } = hopNames(RUN_ID, 1);
    await run('ip', ['netns', 'add', netns]);
    try {
      const fake: LossyHop = { ...hop, netns, hostLink, close: () => Promise.resolve() };
      const record = await runNetnsPacketLoss({ name: 'bare', lossPercent: 30, durationMs: 100 }, fake, ctx());
      expect(record.tookEffect).toBe(false);
      expect(record.reason).toMatch(/has no rsl-hop-count rule in INPUT: it is not a lossy hop/);
      expect(await nsIptables(netns, ['-S', 'INPUT'])).not.toMatch(/statistic/);
    } finally {
      await deleteNetns(netns, hostLink);
    }
  });

  it('puts the probability and a comment naming the experiment in the rule', () => {
    expect(lossRule({ name: 'a b', lossPercent: 30, durationMs: 1 })).toEqual(['-i', 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', '0.3000', '-m', 'comment', '--comment', 'rsl-loss:a_b', '-j', 'DROP']);
  });
});

let cleanDone = 20;

async function waitForRule(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (/statistic/.test(await nsIptables(hop.netns, ['-S', 'INPUT']))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the loss rule never appeared');
}
