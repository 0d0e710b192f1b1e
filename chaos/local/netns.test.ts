import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../ledger.ts';
import { processStartTime } from '../../cluster/targets/local/managed-process.ts';
import { waitUntil } from '../../scripts/util/wait.ts';
import { createLossyHop, deleteNetns, harnessHostLinks, harnessNamespaces, hopNames, nsIptables, requireNetnsTools, run, type LossyHop } from './netns.ts';

// Real namespaces, veths, iptables and relay processes, in front of a real HTTP server on
// 127.0.0.1. Needs root (the harness's local target runs as root on this machine).

const RUN_ID = `netns-test-${process.pid}`;
const hops: LossyHop[] = [];
const servers: http.Server[] = [];
const dirs: string[] = [];
const pids: number[] = [];

afterEach(async () => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await Promise.allSettled(hops.splice(0).map((hop) => hop.close()));
  // Whatever a failed test left: every namespace of this test run (the child's included).
  for (let index = 0; index < 4; index++) {
    const { netns, hostLink } = hopNames(RUN_ID, index);
    await deleteNetns(netns, hostLink).catch(() => undefined);
  }
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function ledger(): Ledger {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netns-test-'));
  dirs.push(dir);
  return Ledger.open(dir);
}

async function replica(): Promise<number> {
  const server = http.createServer((_req, res) => res.end('ok'));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function alive(pid: number): boolean {
  return processStartTime(pid) !== undefined;
}

async function leftovers(netns: string, hostLink: string): Promise<string[]> {
  const found: string[] = [];
  if ((await harnessNamespaces()).includes(netns)) found.push(`netns ${netns}`);
  if ((await harnessHostLinks()).includes(hostLink)) found.push(`link ${hostLink}`);
  return found;
}

describe('hopNames', () => {
  it('fits Linux 15-character link names and rejects bad indexes', () => {
    const names = hopNames('api-20261126-110309-2e2b', 12);
    expect(names.netns).toMatch(/^rsl-[0-9a-f]{6}-12$/);
    expect(names.hostLink.length).toBeLessThanOrEqual(15);
    expect(() => hopNames('x', -1)).toThrow(/hop index must be an integer from 0 to 999, got -1/);
  });
});

describe('requireNetnsTools', () => {
  it('passes as root with ip and iptables, and names the apt package when a tool is missing', () => {
    expect(() => requireNetnsTools()).not.toThrow();
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(() => requireNetnsTools()).toThrow(/`ip` is not on PATH; install it with `apt-get install -y iproute2`/);
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe('createLossyHop', () => {
  it('carries traffic through the namespace to the replica, and close() leaves nothing behind', async () => {
    const targetPort = await replica();
    const book = ledger();
    const hop = await createLossyHop({ runId: RUN_ID, index: 0, targetPort, ledger: book });
    hops.push(hop);
    expect(hop.hostAddress).toMatch(/^10\.203\.\d+\.1$/);
    expect(await harnessNamespaces()).toContain(hop.netns);
    // Namespace + two relays are in the ledger while the hop exists.
    expect(book.entries().map((e) => e.revert.type).sort()).toEqual(['kill-process', 'kill-process', 'netns-delete']);

    const before = await nsIptables(hop.netns, ['-L', 'INPUT', '-v', '-x', '-n']);
    for (let i = 0; i < 5; i++) expect(await get(hop.port)).toBe('ok');
    // The proof that the traffic really crossed the namespace: its count rule saw packets.
    const counted = (text: string): number => Number(text.split('\n').find((l) => l.includes('rsl-hop-count'))?.trim().split(/\s+/)[0]);
    const after = await nsIptables(hop.netns, ['-L', 'INPUT', '-v', '-x', '-n']);
    expect(counted(after) - counted(before)).toBeGreaterThanOrEqual(10);

    await hop.close();
    expect(await leftovers(hop.netns, hop.hostLink)).toEqual([]);
    for (const pid of hop.relayPids) expect(alive(pid)).toBe(false);
    expect(book.entries()).toEqual([]);
    await expect(hop.close()).resolves.toBeUndefined();
  });

  it('refuses a namespace name that already exists, naming the cleanup command', async () => {
    const { netns } = hopNames(RUN_ID, 1);
    await run('ip', ['netns', 'add', netns]);
    await expect(createLossyHop({ runId: RUN_ID, index: 1, targetPort: await replica(), ledger: ledger() })).rejects.toThrow(/already exists.*resilience cleanup/);
  });

  it('rejects an invalid target port before creating anything', async () => {
    await expect(createLossyHop({ runId: RUN_ID, index: 2, targetPort: 0, ledger: ledger() })).rejects.toThrow(/targetPort must be a TCP port from 1 to 65535, got 0/);
    expect(await harnessNamespaces()).not.toContain(hopNames(RUN_ID, 2).netns);
  });

  it('refuses to delete a namespace the harness did not create', async () => {
    await expect(deleteNetns('not-ours', 'x')).rejects.toThrow(/refusing to delete network namespace "not-ours"/);
  });
});

describe('ledger replay after a SIGKILL of the harness', () => {
  it('reverts the loss rule, the relays and the namespace', async () => {
    const targetPort = await replica();
    const book = ledger();
    const netnsModule = fileURLToPath(new URL('./netns.ts', import.meta.url));
    const lossModule = fileURLToPath(new URL('./netns-loss.ts', import.meta.url));
    const ledgerModule = fileURLToPath(new URL('../ledger.ts', import.meta.url));
    // The "harness": sets up a hop, injects loss for a long time, and is killed in the middle.
    const script = `
      const { Ledger } = await import(${JSON.stringify(ledgerModule)});
      const { createLossyHop } = await import(${JSON.stringify(netnsModule)});
      const { runNetnsPacketLoss } = await import(${JSON.stringify(lossModule)});
      const ledger = Ledger.open(${JSON.stringify(book.stateDir)});
      const hop = await createLossyHop({ runId: ${JSON.stringify(RUN_ID)}, index: 3, targetPort: ${targetPort}, ledger });
      await runNetnsPacketLoss({ name: 'crash', lossPercent: 30, durationMs: 600000 }, hop, { runId: ${JSON.stringify(RUN_ID)}, ledger, log: () => {}, signal: new AbortController().signal });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../../', import.meta.url)), stdio: 'ignore', detached: true });
    pids.push(child.pid!);
    const { netns, hostLink } = hopNames(RUN_ID, 3);
    // The ledger entry comes first, the rule right after it: wait for both.
    await waitUntil(() => book.entries().some((e) => e.revert.type === 'iptables-delete'), { what: 'the child to record the loss', timeoutMs: 30_000 });
    await waitUntil(async () => /statistic/.test(await nsIptables(netns, ['-S', 'INPUT'])), { what: 'the child to insert the loss rule', timeoutMs: 10_000 });
    const relayPids = book.entries().flatMap((e) => (e.revert.type === 'kill-process' ? [e.revert.pid] : []));
    expect(relayPids).toHaveLength(2);

    process.kill(child.pid!, 'SIGKILL');
    await waitUntil(() => !alive(child.pid!) || undefined, { what: 'the child to die', timeoutMs: 5_000 });
    const orphans = book.orphans();
    expect(orphans.map((e) => e.revert.type).sort()).toEqual(['iptables-delete', 'kill-process', 'kill-process', 'netns-delete']);
    const report = await book.revert(orphans);
    expect(report.failed).toEqual([]);
    expect(book.entries()).toEqual([]);
    expect(await leftovers(netns, hostLink)).toEqual([]);
    for (const pid of relayPids) expect(alive(pid)).toBe(false);
    // Replaying again is harmless: everything is already gone.
    await expect(deleteNetns(netns, hostLink)).resolves.toBeUndefined();
  });
});
