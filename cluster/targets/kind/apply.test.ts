import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyManifests, ApplyError, deleteByLabel, formatApplyProgress, type ApplyProgress } from './apply.ts';
import { UnsafeContextError } from './context-safety.ts';
import { MANAGED_BY_LABEL, RUN_LABEL, type KubeObject } from './objects.ts';
import { FakeKubeApiServer } from './testing/fake-kube-api-server.ts';
import { ReadinessFailedError, ReadinessTimeoutError } from './watch-ready.ts';

// Talks to FakeKubeApiServer (test double): a real HTTP server implementing the slice of the
// Kubernetes API the kind target uses. There is no cluster here (kind cannot pull its images), and
// what matters — request order, labels, field manager, watch-based waits, deadlines — is on the wire.

const canaryCrd: KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'canaries.flagger.app' },
  spec: {
    group: 'flagger.app',
    scope: 'Namespaced',
    names: { kind: 'Canary', plural: 'canaries', singular: 'canary', listKind: 'CanaryList' },
    versions: [{ name: 'v1beta1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};
const namespace: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'hastecrm' } };
const deployment = (name: string, replicas = 2): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'hastecrm' },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'api', image: 'hastecrm/api:dev' }] } } },
});
const canary: KubeObject = { apiVersion: 'flagger.app/v1beta1', kind: 'Canary', metadata: { name: 'hastecrm-api', namespace: 'hastecrm' }, spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hastecrm-api' } } };
const pdb: KubeObject = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'hastecrm-api-pdb', namespace: 'hastecrm' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'hastecrm-api' } } } };
const configMap: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'api-config' }, data: { LOG_LEVEL: 'info' } };

let fake: FakeKubeApiServer;

/**
 * Controllers, simulated: CRDs become Established shortly after being applied; a Deployment
 * reports its rollout once the harness watches it (0 available, then all), so the sequence of
 * statuses the wait sees is deterministic.
 */
function simulateControllers(options: { neverReady?: string[]; deadlineExceeded?: string[] } = {}): void {
  fake.onApply = (object, server) => {
    if (object.kind === 'CustomResourceDefinition') {
      setTimeout(() => server.setStatus(object.apiVersion, object.kind, object.metadata.name, undefined, { conditions: [{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'True' }] }), 20);
    }
  };
  fake.onWatch = (watch, server) => {
    if (watch.kind !== 'Deployment' || watch.name === undefined) return;
    const object = server.get('apps/v1', 'Deployment', watch.name, watch.namespace);
    if (!object) return;
    const { name, namespace, generation = 1 } = object.metadata;
    const replicas = (object.spec as { replicas?: number } | undefined)?.replicas ?? 1;
    const report = (extra: Record<string, unknown>): void => server.setStatus('apps/v1', 'Deployment', name, namespace, { observedGeneration: generation, replicas, updatedReplicas: replicas, availableReplicas: 0, ...extra });
    report({});
    if (options.deadlineExceeded?.includes(name)) {
      setTimeout(() => report({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "x" has timed out progressing.' }] }), 20);
    } else if (!options.neverReady?.includes(name)) {
      setTimeout(() => report({ availableReplicas: replicas }), 20);
    }
  };
}

beforeEach(async () => {
  fake = await FakeKubeApiServer.start();
});
afterEach(async () => {
  await fake.stop();
});

describe('applyManifests', () => {
  it('applies CRDs, waits for Established by watching, applies the rest in order, waits for workloads by watching, then the custom resources', async () => {
    simulateControllers();
    const events: ApplyProgress[] = [];
    // Shuffled on purpose.
    await applyManifests({ kubeConfig: fake.kubeConfig(), objects: [pdb, canary, deployment('hastecrm-api'), configMap, namespace, canaryCrd], runId: 'run-1', onProgress: (e) => events.push(e) });

    const writes = fake.log().filter((l) => l.startsWith('PATCH') || l.startsWith('GET WATCH'));
    expect(writes).toEqual([
      'PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/canaries.flagger.app',
      'GET WATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions metadata.name=canaries.flagger.app',
      'PATCH /api/v1/namespaces/hastecrm',
      'PATCH /api/v1/namespaces/default/configmaps/api-config',
      'PATCH /apis/apps/v1/namespaces/hastecrm/deployments/hastecrm-api',
      'GET WATCH /apis/apps/v1/namespaces/hastecrm/deployments metadata.name=hastecrm-api',
      'PATCH /apis/flagger.app/v1beta1/namespaces/hastecrm/canaries/hastecrm-api',
      'PATCH /apis/policy/v1/namespaces/hastecrm/poddisruptionbudgets/hastecrm-api-pdb',
    ]);
    // Waits are watches, not polls: the Deployment is read once (before applying), never polled.
    expect(fake.log().filter((l) => l === 'GET /apis/apps/v1/namespaces/hastecrm/deployments/hastecrm-api')).toHaveLength(1);

    // The wait saw the intermediate status before ready, and progress says so in order.
    const deploymentEvents = events.filter((e) => 'object' in e && e.object === 'Deployment hastecrm/hastecrm-api').map((e) => (e.type === 'status' ? `status ${e.detail}` : e.type));
    expect(deploymentEvents).toEqual(['applied', 'waiting', 'status waiting for the controller to observe the new spec', 'status 0/2 replicas available, 2 updated', 'status 2/2 replicas available, 2 updated', 'ready']);
    expect(events.filter((e) => e.type === 'applied').map((e) => (e.type === 'applied' ? `${e.index}/${e.total}` : ''))).toEqual(['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
    expect(events.map(formatApplyProgress)).toContain('  [4/6] applied Deployment hastecrm/hastecrm-api (created)');
    expect(events.map(formatApplyProgress)).toContain('    Deployment hastecrm/hastecrm-api: 0/2 replicas available, 2 updated');
  });

  it('sends server-side apply with the field manager, force, and both labels on every object, body intact', async () => {
    simulateControllers();
    await applyManifests({ kubeConfig: fake.kubeConfig(), objects: [canaryCrd, namespace, configMap], runId: 'nightly-20261126-0300' });
    const patches = fake.requests.filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(3);
    for (const p of patches) {
      expect(p.contentType, p.path).toBe('application/apply-patch+yaml');
      expect(p.query, p.path).toMatchObject({ fieldManager: 'hastecrm-resilience', force: 'true' });
      expect((p.body as KubeObject).metadata.labels, p.path).toEqual({ [MANAGED_BY_LABEL]: 'hastecrm-resilience', [RUN_LABEL]: 'nightly-20261126-0300' });
    }
    // client-node's own patch() would drop this key (see object-client.ts).
    const crdBody = patches[0]?.body as { spec: { versions: { schema: { openAPIV3Schema: Record<string, unknown> } }[] } };
    expect(crdBody.spec.versions[0]?.schema.openAPIV3Schema['x-kubernetes-preserve-unknown-fields']).toBe(true);
    // A manifest without a namespace lands in the context's namespace, and the caller's object is untouched.
    expect(fake.get('v1', 'ConfigMap', 'api-config', 'default')).toBeDefined();
    expect(configMap.metadata.labels).toBeUndefined();
  });

  it('fails at the deadline with an error naming the object and its last status', async () => {
    simulateControllers({ neverReady: ['stuck-api'] });
    const started = Date.now();
    const error = await applyManifests({ kubeConfig: fake.kubeConfig(), objects: [namespace, deployment('stuck-api', 3), canaryCrd, canary], runId: 'run-2', readyTimeoutMs: 400 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadinessTimeoutError);
    expect((error as Error).message).toBe('Deployment hastecrm/stuck-api did not become ready within 400 ms; last seen: 0/3 replicas available, 3 updated');
    expect(Date.now() - started).toBeLessThan(5_000);
    // Nothing after the failed wait was applied.
    expect(fake.get('flagger.app/v1beta1', 'Canary', 'hastecrm-api', 'hastecrm')).toBeUndefined();
  });

  it('stops at once when the controller reports a state waiting cannot fix', async () => {
    simulateControllers({ deadlineExceeded: ['broken-api'] });
    const started = Date.now();
    const error = await applyManifests({ kubeConfig: fake.kubeConfig(), objects: [namespace, deployment('broken-api')], runId: 'run-3', readyTimeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadinessFailedError);
    expect((error as Error).message).toMatch(/^Deployment hastecrm\/broken-api cannot become ready: progress deadline exceeded/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('names the object the API server rejected', async () => {
    // No CRD in the set and none installed: the Canary's group is not served.
    const error = await applyManifests({ kubeConfig: fake.kubeConfig(), objects: [namespace, canary], runId: 'run-4' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as Error).message).toMatch(/^applying Canary hastecrm\/hastecrm-api: /);
    expect((error as ApplyError).applied.map((a) => a.ref.name)).toEqual(['hastecrm']);
  });

  it('refuses a context that is not kind-* before sending a single request, unless that context is allowed', async () => {
    await expect(applyManifests({ kubeConfig: fake.kubeConfig('prod-eu-west-1'), objects: [namespace], runId: 'run-5' })).rejects.toThrow(UnsafeContextError);
    await expect(deleteByLabel({ kubeConfig: fake.kubeConfig('prod-eu-west-1'), runId: 'run-5' })).rejects.toThrow(UnsafeContextError);
    expect(fake.requests).toEqual([]);
    await applyManifests({ kubeConfig: fake.kubeConfig('staging'), objects: [namespace], runId: 'run-5', allowContext: 'staging' });
    expect(fake.get('v1', 'Namespace', 'hastecrm')).toBeDefined();
  });

  it('stops waiting when the run is aborted', async () => {
    simulateControllers({ neverReady: ['hastecrm-api'] });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('SIGINT received')), 200);
    await expect(applyManifests({ kubeConfig: fake.kubeConfig(), objects: [namespace, deployment('hastecrm-api')], runId: 'run-6', signal: controller.signal })).rejects.toThrow('SIGINT received');
  });
});

describe('deleteByLabel', () => {
  it("deletes what the run created, custom resources before CRDs, and never what it did not create", async () => {
    simulateControllers();
    // Someone else's namespace and config map, already in the cluster.
    fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'hastecrm', labels: { team: 'platform' } } });
    fake.seed({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other-run-config', namespace: 'hastecrm', labels: { [MANAGED_BY_LABEL]: 'hastecrm-resilience', [RUN_LABEL]: 'other-run' } } });
    const result = await applyManifests({ kubeConfig: fake.kubeConfig(), objects: [canaryCrd, namespace, deployment('hastecrm-api'), canary], runId: 'run-7' });
    expect(result.applied.find((a) => a.ref.kind === 'Namespace')).toMatchObject({ created: false, adopted: true });
    expect(result.applied.find((a) => a.ref.kind === 'Deployment')).toMatchObject({ created: true, adopted: false });
    // The adopted namespace was applied without the harness's labels.
    expect(fake.get('v1', 'Namespace', 'hastecrm')?.metadata.labels).toEqual({ team: 'platform' });

    const deleted: string[] = [];
    const outcome = await deleteByLabel({ kubeConfig: fake.kubeConfig(), runId: 'run-7', onProgress: (e) => deleted.push(`${e.type} ${e.object}`) });
    expect(outcome.failed).toEqual([]);
    expect(deleted).toEqual(['deleted Canary hastecrm/hastecrm-api', 'deleted Deployment hastecrm/hastecrm-api', 'deleted CustomResourceDefinition canaries.flagger.app']);
    expect(fake.get('v1', 'Namespace', 'hastecrm'), 'the namespace it did not create').toBeDefined();
    expect(fake.get('v1', 'ConfigMap', 'other-run-config', 'hastecrm'), "another run's object").toBeDefined();
    // Found by label selector on every served kind, from discovery.
    expect(fake.requests.some((r) => r.query.labelSelector === 'app.kubernetes.io/managed-by=hastecrm-resilience,resilience.hastecrm.io/run=run-7')).toBe(true);

    // Idempotent: a second teardown finds nothing.
    expect((await deleteByLabel({ kubeConfig: fake.kubeConfig(), runId: 'run-7' })).deleted).toEqual([]);
  });

  it('rejects a run id that is not a label value', async () => {
    await expect(deleteByLabel({ kubeConfig: fake.kubeConfig(), runId: '' })).rejects.toThrow(/not a valid label value/);
  });
});
