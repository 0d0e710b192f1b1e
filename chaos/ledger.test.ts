import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from './ledger.ts';
import { removeRunContainers } from '../cluster/targets/local/containers/cleanup.ts';
import { docker, listContainersByLabel } from '../cluster/targets/local/containers/docker.ts';
import { describeWithDocker } from '../cluster/targets/local/containers/docker-test-support.ts';
import { ensureImage } from '../cluster/targets/local/containers/images.ts';
import { FakeKubeApiServer } from '../cluster/targets/kind/testing/fake-kube-api-server.ts';
import { processStartTime } from '../cluster/targets/local/managed-process.ts';
import { waitUntil } from '../scripts/util/wait.ts';
import { harnessHostLinks, harnessNamespaces, nsIptables, run as runCommand } from './local/netns.ts';

const dirs: string[] = [];
const pids: number[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ledger-test-'));
  dirs.push(dir);
  return dir;
}

/** A real, long-running process in its own group, as the harness starts them. */
function sleeper(args: string[] = []): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)', ...args], { detached: true, stdio: 'ignore' });
  child.unref();
  pids.push(child.pid!);
  return child.pid!;
}

function alive(pid: number): boolean {
  const stat = processStartTime(pid);
  return stat !== undefined;
}

afterEach(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('Ledger', () => {
  it('records before, removes after, and survives being reopened (a new process reads it)', () => {
    const state = tempDir();
    const ledger = Ledger.open(state);
    const id = ledger.record({ runId: 'r1', kind: 'fault', description: 'delete pod a', revert: { type: 'none' } });
    expect(Ledger.open(state).entries()).toMatchObject([{ id, runId: 'r1', kind: 'fault', harnessPid: process.pid }]);
    ledger.remove(id);
    ledger.remove(id); // idempotent
    expect(Ledger.open(state).entries()).toEqual([]);
  });

  it("treats entries of a live harness as in use and a dead harness's as orphans", () => {
    const state = tempDir();
    const ledger = Ledger.open(state);
    ledger.record({ runId: 'mine', kind: 'fault', description: 'live', revert: { type: 'none' } });
    const entries = ledger.entries();
    // Rewrite one entry as if a harness that no longer runs had written it.
    writeFileSync(ledger.file, JSON.stringify({ version: 1, entries: [...entries, { ...entries[0], id: 'x', harnessPid: 999_999_999, description: 'dead' }] }));
    expect(ledger.orphans().map((e) => e.description)).toEqual(['dead']);
  });

  it('reverts a recorded process (SIGTERM to its group) and a temp dir, then forgets them', async () => {
    const state = tempDir();
    const work = tempDir();
    const pid = sleeper();
    const ledger = Ledger.open(state);
    ledger.record({ runId: 'r', kind: 'process', description: 'sleeper', revert: { type: 'kill-process', pid, startTime: processStartTime(pid), name: 'sleeper' } });
    ledger.record({ runId: 'r', kind: 'temp-dir', description: 'work', revert: { type: 'remove-dir', path: work } });
    const report = await ledger.revert(ledger.entries());
    expect(report.failed).toEqual([]);
    expect(report.reverted.map((e) => e.description)).toEqual(['sleeper', 'work']);
    await waitUntil(() => !alive(pid), { what: 'the sleeper to exit', timeoutMs: 5_000 });
    expect(existsSync(work)).toBe(false);
    expect(ledger.entries()).toEqual([]);
  });

  it('never kills a process that merely reuses a recorded PID', async () => {
    const state = tempDir();
    const pid = sleeper();
    const ledger = Ledger.open(state);
    // Recorded with another start time: the recorded process is gone, this is someone else.
    ledger.record({ runId: 'r', kind: 'process', description: 'old', revert: { type: 'kill-process', pid, startTime: (processStartTime(pid) ?? 0) - 1, name: 'old' } });
    const report = await ledger.revert(ledger.entries());
    expect(report.failed).toEqual([]);
    expect(alive(pid)).toBe(true);
  });

  it('before removing a temp dir, stops processes still running from it (started but never recorded)', async () => {
    const state = tempDir();
    const work = tempDir();
    mkdirSync(path.join(work, 'data'));
    const pid = sleeper([path.join(work, 'data')]);
    const ledger = Ledger.open(state);
    ledger.record({ runId: 'r', kind: 'temp-dir', description: 'work', revert: { type: 'remove-dir', path: work } });
    await ledger.revert(ledger.entries());
    await waitUntil(() => !alive(pid), { what: 'the process using the dir to exit', timeoutMs: 5_000 });
    expect(existsSync(work)).toBe(false);
  });

  it('reports an unreadable ledger instead of treating it as empty', () => {
    const state = tempDir();
    const ledger = Ledger.open(state);
    writeFileSync(ledger.file, '{ not json');
    expect(() => ledger.entries()).toThrow(/unreadable .* inspect it before deleting it/);
  });
});

// Real namespace, veth, iptables rule and a process inside the namespace (needs root).
describe('Ledger: network namespace variants', () => {
  const netns = `rsl-ledger-${process.pid % 100000}`;
  const hostLink = `rslledg${process.pid % 100000}`;

  afterEach(async () => {
    await runCommand('ip', ['netns', 'delete', netns]).catch(() => undefined);
    await runCommand('ip', ['link', 'delete', hostLink]).catch(() => undefined);
  });

  it('iptables-delete removes the rule, netns-delete stops what runs inside and removes namespace and veth; replaying is harmless', async () => {
    await runCommand('ip', ['netns', 'add', netns]);
    await runCommand('ip', ['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    const rule = ['-i', 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', '0.5000', '-j', 'DROP'];
    await nsIptables(netns, ['-I', 'INPUT', '1', ...rule]);
    const inside = spawn('ip', ['netns', 'exec', netns, 'sleep', '600'], { detached: true, stdio: 'ignore' });
    pids.push(inside.pid!);
    await waitUntil(async () => (await runCommand('ip', ['netns', 'pids', netns])).includes(String(inside.pid)), { what: 'sleep inside the namespace', timeoutMs: 5_000 });

    const ledger = Ledger.open(tempDir());
    const record = (): void => {
      ledger.record({ runId: 'r', kind: 'process', description: 'ns', revert: { type: 'netns-delete', name: netns, hostLink } });
      ledger.record({ runId: 'r', kind: 'fault', description: 'loss', revert: { type: 'iptables-delete', netns, chain: 'INPUT', rule } });
    };
    record();
    // The fault is reverted first: check the rule alone goes, with the namespace still there.
    const faultOnly = await ledger.revert(ledger.entries().filter((e) => e.kind === 'fault'));
    expect(faultOnly.failed).toEqual([]);
    expect(await nsIptables(netns, ['-S', 'INPUT'])).not.toMatch(/statistic/);

    const report = await ledger.revert(ledger.entries());
    expect(report.failed).toEqual([]);
    expect(await harnessNamespaces()).not.toContain(netns);
    expect(await harnessHostLinks()).not.toContain(hostLink);
    expect(alive(inside.pid!)).toBe(false);
    expect(ledger.entries()).toEqual([]);

    // A second cleanup of the same entries (e.g. crash during the first) finds everything gone.
    record();
    const again = await ledger.revert(ledger.entries());
    expect(again.failed).toEqual([]);
    expect(ledger.entries()).toEqual([]);
  });

  it('netns-delete refuses a namespace the harness did not name, and keeps the entry', async () => {
    const ledger = Ledger.open(tempDir());
    ledger.record({ runId: 'r', kind: 'process', description: 'foreign', revert: { type: 'netns-delete', name: 'someone-elses', hostLink: 'x' } });
    const report = await ledger.revert(ledger.entries());
    expect(report.failed[0]?.error).toMatch(/refusing to delete network namespace "someone-elses"/);
    expect(ledger.entries()).toHaveLength(1);
  });
});

describe('Ledger: chaos-engine-stop (Litmus)', () => {
  // FakeKubeApiServer (test double): a real HTTP server speaking the Kubernetes API slice the
  // harness uses; no cluster can run here. It plays the chaos-operator by reporting `stopped`.
  let fake: FakeKubeApiServer | undefined;
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
  });

  async function clusterWithEngine(): Promise<{ server: FakeKubeApiServer; kubeconfig: string }> {
    const server = await FakeKubeApiServer.start();
    fake = server;
    server.seed({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'chaosengines.litmuschaos.io' }, spec: { group: 'litmuschaos.io', scope: 'Namespaced', names: { kind: 'ChaosEngine', plural: 'chaosengines' }, versions: [{ name: 'v1alpha1', served: true, storage: true }] } });
    server.setStatus('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'chaosengines.litmuschaos.io', undefined, { conditions: [{ type: 'Established', status: 'True' }] });
    server.seed({ apiVersion: 'litmuschaos.io/v1alpha1', kind: 'ChaosEngine', metadata: { name: 'api-chaos', namespace: 'hastecrm' }, spec: { engineState: 'active' } });
    server.onMergePatch = (object, s) => setTimeout(() => s.setStatus(object.apiVersion, object.kind, object.metadata.name, object.metadata.namespace, { engineStatus: 'stopped' }), 10);
    const kubeconfig = path.join(tempDir(), 'kubeconfig.json');
    writeFileSync(kubeconfig, server.kubeConfig('kind-hastecrm').exportConfig());
    return { server, kubeconfig };
  }

  it('reverts a leftover engine: stop patch, then delete, then the entry is removed; twice is harmless', async () => {
    const { server, kubeconfig } = await clusterWithEngine();
    const ledger = Ledger.open(tempDir());
    ledger.record({ runId: 'r1', kind: 'fault', description: 'ChaosEngine hastecrm/api-chaos', revert: { type: 'chaos-engine-stop', context: 'kind-hastecrm', namespace: 'hastecrm', name: 'api-chaos', kubeconfig } });
    const report = await ledger.revert(ledger.entries());
    expect(report.failed).toEqual([]);
    expect(ledger.entries()).toEqual([]);
    const writes = server.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path} ${r.contentType ?? ''}`.trim());
    expect(writes).toEqual(['PATCH /apis/litmuschaos.io/v1alpha1/namespaces/hastecrm/chaosengines/api-chaos application/merge-patch+json', 'DELETE /apis/litmuschaos.io/v1alpha1/namespaces/hastecrm/chaosengines/api-chaos']);
    expect(server.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ spec: { engineState: 'stop' } });
    expect(server.get('litmuschaos.io/v1alpha1', 'ChaosEngine', 'api-chaos', 'hastecrm')).toBeUndefined();

    // The engine is gone now (404 = reverted): a second entry for it reverts without error.
    ledger.record({ runId: 'r1', kind: 'fault', description: 'again', revert: { type: 'chaos-engine-stop', context: 'kind-hastecrm', namespace: 'hastecrm', name: 'api-chaos', kubeconfig } });
    expect((await ledger.revert(ledger.entries())).failed).toEqual([]);
    expect(ledger.entries()).toEqual([]);
  });

  it('keeps the entry and says how to fix it when the recorded context is not in the kubeconfig', async () => {
    const { kubeconfig } = await clusterWithEngine();
    const ledger = Ledger.open(tempDir());
    ledger.record({ runId: 'r1', kind: 'fault', description: 'ChaosEngine hastecrm/api-chaos', revert: { type: 'chaos-engine-stop', context: 'kind-gone', namespace: 'hastecrm', name: 'api-chaos', kubeconfig } });
    const report = await ledger.revert(ledger.entries());
    expect(report.failed.map((f) => f.error)).toEqual([`cannot stop ChaosEngine hastecrm/api-chaos: kube context "kind-gone" is not in ${kubeconfig}; point KUBECONFIG at the file that has it and run \`resilience cleanup\` again`]);
    expect(ledger.entries()).toHaveLength(1);
  });
});

describeWithDocker('Ledger: container-remove', () => {
  it('force-removes a recorded container (by id, or by name when the id was never known) and treats a missing one as removed', async () => {
    const { image } = await ensureImage('redis');
    const runId = `ledger-container-${process.pid}`;
    const labels = ['--label', 'resilience.managed-by=hastecrm-resilience', '--label', `resilience.run-id=${runId}`];
    const byId = await docker(['run', '--detach', '--network', 'none', ...labels, image, 'redis-server']);
    const name = `ledger-test-${process.pid}`;
    await docker(['create', '--name', name, ...labels, image]);
    try {
      const ledger = Ledger.open(tempDir());
      ledger.record({ runId, kind: 'process', description: 'running container', revert: { type: 'container-remove', id: byId, name: 'unused' } });
      ledger.record({ runId, kind: 'process', description: 'created, id not yet known', revert: { type: 'container-remove', id: '', name } });
      ledger.record({ runId, kind: 'process', description: 'already gone', revert: { type: 'container-remove', id: '', name: `${name}-gone` } });
      const report = await ledger.revert(ledger.entries());
      expect(report.failed).toEqual([]);
      expect(report.reverted).toHaveLength(3);
      expect(await listContainersByLabel({ 'resilience.run-id': runId })).toEqual([]);
    } finally {
      await removeRunContainers(runId);
    }
  });
});
