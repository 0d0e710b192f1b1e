import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { applyManifests, deleteByLabel } from '../../cluster/targets/kind/apply.ts';
import type { KubeObject } from '../../cluster/targets/kind/objects.ts';
import { KindPodControl } from '../../cluster/targets/kind/pod-control.ts';
import { findLiveCluster } from './live-cluster.ts';

// Runs only against a live kind cluster (KUBECONFIG with a reachable kind-* context, e.g. the
// nightly CI runner after `resilience cluster up`); otherwise skipped with the reason printed.
// Everything it creates carries a unique run label and is deleted by label in afterAll.

const cluster = await findLiveCluster();
if (!cluster.ok) console.log(`[cluster tests] skipped: ${cluster.reason}`);
else console.log(`[cluster tests] running against ${cluster.context} (Kubernetes ${cluster.version})`);

const runId = `cluster-test-${randomBytes(4).toString('hex')}`;
const namespace = runId;
const labels = { app: 'resilience-cluster-test' };

function objects(): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'pause', namespace },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsNonRoot: true, runAsUser: 65535, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '10m', memory: '8Mi' } }, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
          },
        },
      },
    },
  ];
}

describe.skipIf(!cluster.ok)('on a live kind cluster', () => {
  const kubeConfig = cluster.ok ? cluster.kubeConfig : undefined;
  let control: KindPodControl | undefined;

  afterAll(async () => {
    control?.close();
    if (kubeConfig) await deleteByLabel({ kubeConfig, runId, kinds: [{ apiVersion: 'apps/v1', kind: 'Deployment' }, { apiVersion: 'v1', kind: 'Namespace' }] });
  });

  it('applies a Deployment with the run label and waits for it by watching', async () => {
    const result = await applyManifests({ kubeConfig: kubeConfig!, objects: objects(), runId, readyTimeoutMs: 120_000 });
    expect(result.applied.map((a) => `${a.ref.kind} ${a.created}`)).toEqual(['Namespace true', 'Deployment true']);
  });

  it('deletes a pod (force) and sees the ReplicaSet replace it, ready, through the watch', async () => {
    control = await KindPodControl.start({ kubeConfig: kubeConfig!, namespace, selector: labels });
    const before = control.pods(labels).filter((p) => p.ready);
    expect(before).toHaveLength(2);
    const victim = before[0]!;
    const started = Date.now();
    await control.deletePod(victim.name, true);
    const replacement = await control.waitForReplacement(victim, 120_000);
    console.log(`[cluster tests] ${victim.name} → ${replacement.name} ready after ${Date.now() - started} ms`);
    expect(replacement.name).not.toBe(victim.name);
    expect(before.map((p) => p.name)).not.toContain(replacement.name);
    expect(control.restartCount()).toBeGreaterThanOrEqual(1);
  });

  it('tears down by label: the run’s objects are gone', async () => {
    control?.close();
    const result = await deleteByLabel({ kubeConfig: kubeConfig!, runId, kinds: [{ apiVersion: 'apps/v1', kind: 'Deployment' }, { apiVersion: 'v1', kind: 'Namespace' }] });
    expect(result.failed).toEqual([]);
    expect(result.deleted.map((r) => r.kind).sort()).toEqual(['Deployment', 'Namespace']);
  });
});

// The gate itself is tested everywhere: without a usable KUBECONFIG the reason is specific.
describe('findLiveCluster', () => {
  it('names what is missing', async () => {
    await expect(findLiveCluster({})).resolves.toEqual({ ok: false, reason: expect.stringContaining('KUBECONFIG is not set') as unknown });
    await expect(findLiveCluster({ KUBECONFIG: '/nonexistent/kubeconfig' })).resolves.toEqual({ ok: false, reason: expect.stringContaining('KUBECONFIG=/nonexistent/kubeconfig cannot be read') as unknown });
  });
});
