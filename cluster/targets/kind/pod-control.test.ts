import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KindPodControl, PodWaitTimeoutError } from './pod-control.ts';
import { FakeKubeApiServer } from './testing/fake-kube-api-server.ts';
import { UnsafeContextError } from './context-safety.ts';

// FakeKubeApiServer is a TEST DOUBLE of the Kubernetes API server (no cluster can run here). The
// tests play the ReplicaSet controller: when a pod is deleted they create its replacement, and
// the kubelet: they mark pods Running and Ready with setStatus.

const NS = 'hastecrm-production';
const LABELS = { app: 'hastecrm-api', 'pod-template-hash': 'abc123' };
const READY = { phase: 'Running', startTime: new Date().toISOString(), conditions: [{ type: 'Ready', status: 'True' }] };

let fake: FakeKubeApiServer;
let control: KindPodControl | undefined;
let counter = 0;

function createPod(name: string, labels: Record<string, string> = LABELS): void {
  fake.seed({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels, creationTimestamp: new Date(Date.now() + counter++).toISOString() }, spec: { containers: [{ name: 'api', ports: [{ containerPort: 4000 }] }] } });
}

beforeEach(async () => {
  fake = await FakeKubeApiServer.start();
  for (const name of ['api-a', 'api-b', 'api-c']) {
    createPod(name);
    fake.setStatus('v1', 'Pod', name, NS, READY);
  }
  createPod('web-a', { app: 'hastecrm-web' });
});

afterEach(async () => {
  control?.close();
  control = undefined;
  await fake.stop();
});

describe('KindPodControl', () => {
  it('lists pods by label from one list and keeps them current through the watch', async () => {
    control = await KindPodControl.start({ kubeConfig: fake.kubeConfig(), namespace: NS });
    expect(control.pods({ app: 'hastecrm-api' }).map((p) => [p.name, p.ready, p.port, p.slot])).toEqual([
      ['api-a', true, 4000, 0],
      ['api-b', true, 4000, 1],
      ['api-c', true, 4000, 2],
    ]);
    // A pod appearing later reaches pods() through the watch alone (vi.waitFor: bounded polling of the in-memory view).
    createPod('api-d');
    await vi.waitFor(() => expect(control?.pods({ app: 'hastecrm-api' }).map((p) => p.name)).toContain('api-d'), { timeout: 5_000, interval: 20 });
    expect(control.pods({ app: 'hastecrm-web' }).map((p) => p.name)).toEqual(['web-a']);
    expect(fake.log().filter((l) => l.includes('/pods'))).toEqual([`GET /api/v1/namespaces/${NS}/pods`, `GET WATCH /api/v1/namespaces/${NS}/pods`]);
  });

  it('deletes with force (gracePeriodSeconds=0), then resolves with the ready pod that replaced it, seen by watching', async () => {
    control = await KindPodControl.start({ kubeConfig: fake.kubeConfig(), namespace: NS, selector: { app: 'hastecrm-api' } });
    // The ReplicaSet controller: a new pod at once, Ready once the "kubelet" got to it.
    fake.onDelete = (object, server) => {
      if (object.kind !== 'Pod') return;
      createPod('api-new');
      setImmediate(() => server.setStatus('v1', 'Pod', 'api-new', NS, READY));
    };
    const victim = control.pods({ app: 'hastecrm-api' })[1]!;
    const deleted = await control.deletePod(victim.name, true);
    expect(deleted.name).toBe('api-b');
    expect(control.pods({ app: 'hastecrm-api' }).map((p) => p.name)).not.toContain('api-b');
    const del = fake.requests.find((r) => r.method === 'DELETE');
    expect(del?.path).toBe(`/api/v1/namespaces/${NS}/pods/api-b`);
    expect(del?.query.gracePeriodSeconds).toBe('0');

    const replacement = await control.waitForReplacement(deleted, 10_000);
    expect(replacement.name).toBe('api-new');
    expect(replacement.ready).toBe(true);
    expect(control.restartCount()).toBe(1);
    // Only the watch: no polling list requests after the first.
    expect(fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/pods') && r.query.watch !== 'true')).toHaveLength(1);
  });

  it('a graceful delete sends no grace override', async () => {
    control = await KindPodControl.start({ kubeConfig: fake.kubeConfig(), namespace: NS });
    await control.deletePod('api-a', false);
    expect(fake.requests.find((r) => r.method === 'DELETE')?.query.gracePeriodSeconds).toBeUndefined();
  });

  it('times out naming the pod when no replacement becomes ready, and honours abort', async () => {
    control = await KindPodControl.start({ kubeConfig: fake.kubeConfig(), namespace: NS });
    fake.onDelete = () => createPod('api-stuck'); // created, never Ready
    const deleted = await control.deletePod('api-c', true);
    const error = await control.waitForReplacement(deleted, 300).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodWaitTimeoutError);
    expect((error as Error).message).toMatch(/a ready replacement for pod hastecrm-production\/api-c did not happen within 300 ms; pods seen: .*api-stuck \(not ready\)/);
    const abort = new AbortController();
    const waiting = control.waitForReplacement(deleted, 30_000, abort.signal);
    abort.abort(new Error('run aborted'));
    await expect(waiting).rejects.toThrow('run aborted');
  });

  it('rejects deleting an unknown pod, and names the pod and the HTTP status when the API refuses', async () => {
    control = await KindPodControl.start({ kubeConfig: fake.kubeConfig(), namespace: NS });
    await expect(control.deletePod('nope', true)).rejects.toThrow(/pod hastecrm-production\/nope is not among the watched pods \(api-a, api-b, api-c, web-a\)/);
    fake.failRequest = (r) => (r.method === 'DELETE' ? { code: 403, message: 'pods "api-a" is forbidden: User "ci" cannot delete resource "pods"' } : undefined);
    await expect(control.deletePod('api-a', true)).rejects.toThrow(/deleting pod hastecrm-production\/api-a failed: HTTP 403: pods "api-a" is forbidden/);
    expect(control.pods({}).map((p) => p.name)).toContain('api-a');
  });

  it('refuses a non-kind context before any request', async () => {
    await expect(KindPodControl.start({ kubeConfig: fake.kubeConfig('prod-eu'), namespace: NS })).rejects.toThrow(UnsafeContextError);
    expect(fake.requests).toHaveLength(0);
    control = await KindPodControl.start({ kubeConfig: fake.kubeConfig('prod-eu'), namespace: NS, allowContext: 'prod-eu' });
    expect(control.pods({})).toHaveLength(4);
  });

  it('names the namespace when the first list fails, and rejects waits after close', async () => {
    const kc = fake.kubeConfig();
    await fake.stop();
    await expect(KindPodControl.start({ kubeConfig: kc, namespace: NS })).rejects.toThrow(/listing pods in namespace hastecrm-production failed: /);
    fake = await FakeKubeApiServer.start();
    control = await KindPodControl.start({ kubeConfig: fake.kubeConfig(), namespace: NS });
    const waiting = control.waitForReplacement({ name: 'x', labels: LABELS, slot: 0, port: 0, pid: 0, ready: true, startedAt: Date.now() + 60_000, restarts: 0 }, 30_000);
    control.close();
    await expect(waiting).rejects.toThrow(/the pod watch was closed/);
    await expect(control.deletePod('api-a', true)).rejects.toThrow(/was closed/);
  });
});
