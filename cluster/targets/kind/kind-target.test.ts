import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnsafeContextError } from './context-safety.ts';
import { KindTarget, waitForIngress, withApiImage } from './kind-target.ts';
import { RUN_LABEL, type KubeObject } from './objects.ts';
import { FakeKubeApiServer } from './testing/fake-kube-api-server.ts';

// TEST DOUBLES: FakeKubeApiServer stands for the cluster's API server, and `kind` is a shell script
// that keeps a "cluster exists" file, writes the kubeconfig pointing at the double, and records
// its calls (kind cannot create a cluster here). The ingress is a real HTTP server on 127.0.0.1
// that, like ingress-nginx, routes only requests whose Host is the API's.

const NS = 'hastecrm-production';
const MANIFESTS: KubeObject[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'hastecrm-api', namespace: NS },
    spec: { replicas: 2, template: { metadata: { labels: { app: 'hastecrm-api' } }, spec: { containers: [{ name: 'api', image: 'hastecrm/api:dev' }, { name: 'sidecar', image: 'fluent/fluent-bit:3.1' }] } } },
  },
];

let fake: FakeKubeApiServer;
let ingress: Server;
let root: string;
let bin: string;
let target: KindTarget | undefined;
const lines: string[] = [];

function fakeKind(): void {
  const state = join(root, 'cluster-exists');
  const kubeconfigSource = join(root, 'kubeconfig.source');
  writeFileSync(kubeconfigSource, fake.kubeConfig('kind-hastecrm').exportConfig());
  writeFileSync(
    join(bin, 'kind'),
    `#!/bin/sh
echo "$@" >> ${join(root, 'kind-calls')}
case "$1 $2" in
  "get clusters") [ -f ${state} ] && echo hastecrm; exit 0 ;;
  "create cluster") touch ${state}; while [ $# -gt 0 ]; do [ "$1" = --kubeconfig ] && cp ${kubeconfigSource} "$2"; shift; done; exit 0 ;;
  "delete cluster") rm -f ${state}; exit 0 ;;
  "load docker-image") exit 0 ;;
esac
echo "fake kind: unexpected $*" >&2; exit 1
`,
  );
  chmodSync(join(bin, 'kind'), 0o755);
}

function kindCalls(): string[] {
  const file = join(root, 'kind-calls');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')) : [];
}

function options(extra: Partial<ConstructorParameters<typeof KindTarget>[0]> = {}): ConstructorParameters<typeof KindTarget>[0] {
  return {
    runId: 'run-42',
    stateDir: join(root, 'state'),
    kubeconfigPath: join(root, 'kubeconfig'),
    ingressHostPort: (ingress.address() as AddressInfo).port,
    prometheusHostPort: 1,
    lookup: { path: bin },
    addons: [],
    buildImage: () => Promise.resolve('hastecrm/api:0123456789ab'),
    buildManifests: () => Promise.resolve(structuredClone(MANIFESTS)),
    readyTimeoutMs: 10_000,
    log: (l) => lines.push(l),
    ...extra,
  };
}

beforeEach(async () => {
  lines.length = 0;
  root = mkdtempSync(join(tmpdir(), 'kind-target-test-'));
  bin = join(root, 'bin');
  mkdirSync(bin);
  fake = await FakeKubeApiServer.start();
  // The Deployment and ReplicaSet controllers and the kubelet, simulated.
  fake.onApply = (object, server) => {
    if (object.kind !== 'Deployment') return;
    setImmediate(() => {
      for (const name of ['hastecrm-api-1', 'hastecrm-api-2']) {
        if (server.get('v1', 'Pod', name, NS)) continue;
        server.seed({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: { app: 'hastecrm-api' } } });
        server.setStatus('v1', 'Pod', name, NS, { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] });
      }
      server.setStatus('apps/v1', 'Deployment', object.metadata.name, NS, { observedGeneration: object.metadata.generation, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, conditions: [{ type: 'Available', status: 'True' }] });
    });
  };
  ingress = createServer((req, res) => {
    res.writeHead(req.headers.host === 'api.hastecrm.com' && req.url === '/ready' ? 200 : 404);
    res.end();
  });
  await new Promise<void>((resolve) => ingress.listen(0, '127.0.0.1', resolve));
  fakeKind();
});

afterEach(async () => {
  await target?.stop().catch(() => undefined);
  target = undefined;
  await fake.stop();
  ingress.closeAllConnections();
  await new Promise<void>((resolve) => ingress.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

describe('KindTarget', () => {
  it('creates the cluster, loads the image, applies the overlay with the built image and the run label, controls the API pods, and tears it all down', async () => {
    target = new KindTarget(options());
    await target.start(AbortSignal.timeout(30_000));
    expect(kindCalls()).toEqual(['get clusters', 'create cluster --name', 'load docker-image hastecrm/api:0123456789ab']);
    const deployment = fake.get('apps/v1', 'Deployment', 'hastecrm-api', NS) as unknown as { metadata: { labels: Record<string, string> }; spec: { template: { spec: { containers: { image: string; imagePullPolicy?: string }[] } } } };
    expect(deployment.metadata.labels[RUN_LABEL]).toBe('run-42');
    expect(deployment.spec.template.spec.containers.map((c) => [c.image, c.imagePullPolicy])).toEqual([
      ['hastecrm/api:0123456789ab', 'IfNotPresent'],
      ['fluent/fluent-bit:3.1', undefined],
    ]);
    expect(target.baseUrl).toBe(`http://127.0.0.1:${(ingress.address() as AddressInfo).port}`);
    expect(target.prometheusUrl).toBe('http://127.0.0.1:1');
    expect(target.replicaSet().pods({ app: 'hastecrm-api' }).map((p) => p.name)).toEqual(['hastecrm-api-1', 'hastecrm-api-2']);

    await target.stop();
    // The run's objects are gone, the cluster this run created too; a second stop does nothing more.
    expect(fake.get('apps/v1', 'Deployment', 'hastecrm-api', NS)).toBeUndefined();
    expect(fake.get('v1', 'Namespace', NS)).toBeUndefined();
    expect(kindCalls().at(-1)).toBe('delete cluster --name');
    const calls = kindCalls().length;
    await target.stop();
    expect(kindCalls()).toHaveLength(calls);
    expect(() => target?.replicaSet().pods({})).toThrow(/closed/);
  });

  it('with reuse keeps an existing cluster and what the run did not create', async () => {
    writeFileSync(join(root, 'cluster-exists'), '');
    writeFileSync(join(root, 'kubeconfig'), readFileSync(join(root, 'kubeconfig.source')));
    fake.seed({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'someone-elses', namespace: 'default' } });
    target = new KindTarget(options({ reuse: true }));
    await target.start(AbortSignal.timeout(30_000));
    await target.stop();
    expect(kindCalls()).not.toContain('create cluster --name');
    expect(kindCalls()).not.toContain('delete cluster --name');
    expect(fake.get('v1', 'ConfigMap', 'someone-elses', 'default')).toBeDefined();
    expect(lines).toContain('reusing kind cluster hastecrm');
  });

  it('refuses a non-kind context before any request, and stop after a failed start still cleans up', async () => {
    target = new KindTarget(options({ kubeConfig: fake.kubeConfig('arn:aws:eks:eu-west-1:1:cluster/prod') }));
    await expect(target.start(AbortSignal.timeout(30_000))).rejects.toThrow(UnsafeContextError);
    expect(fake.requests).toHaveLength(0);
    expect(kindCalls()).toEqual([]);

    // A start failing after the apply (the ingress never routes): stop removes what was applied.
    target = new KindTarget(options({ apiHost: 'wrong.example', readyTimeoutMs: 1_000 }));
    await expect(target.start(AbortSignal.timeout(30_000))).rejects.toThrow(/the API did not answer 200 on http:\/\/127.0.0.1:\d+\/ready \(Host: wrong.example\) within 1000 ms; last: HTTP 404/);
    expect(fake.get('apps/v1', 'Deployment', 'hastecrm-api', NS)).toBeDefined();
    await target.stop();
    expect(fake.get('apps/v1', 'Deployment', 'hastecrm-api', NS)).toBeUndefined();
    expect(kindCalls().at(-1)).toBe('delete cluster --name');
  });

  it('names the kubeconfig when the kind context is missing from it', async () => {
    writeFileSync(join(root, 'kind-calls'), '');
    writeFileSync(join(root, 'kubeconfig.source'), fake.kubeConfig('kind-other').exportConfig());
    target = new KindTarget(options());
    await expect(target.start(AbortSignal.timeout(30_000))).rejects.toThrow(`the kubeconfig ${join(root, 'kubeconfig')} has no context "kind-hastecrm"`);
  });
});

describe('withApiImage', () => {
  it('replaces only hastecrm/api images, in containers and init containers, without changing its input', () => {
    const input: KubeObject[] = [{ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: { spec: { initContainers: [{ image: 'hastecrm/api@sha256:00' }], containers: [{ image: 'hastecrm/api-worker:1' }, { image: 'hastecrm/api' }] } } } }];
    const [job] = withApiImage(input, 'hastecrm/api:abc');
    expect(job).toMatchObject({ spec: { template: { spec: { initContainers: [{ image: 'hastecrm/api:abc' }], containers: [{ image: 'hastecrm/api-worker:1' }, { image: 'hastecrm/api:abc' }] } } } });
    expect(input[0]).toMatchObject({ spec: { template: { spec: { containers: [{ image: 'hastecrm/api-worker:1' }, { image: 'hastecrm/api' }] } } } });
  });
});

describe('waitForIngress', () => {
  it('resolves once the ingress routes the Host, and names the URL when nothing listens', async () => {
    const port = (ingress.address() as AddressInfo).port;
    await waitForIngress(`http://127.0.0.1:${port}`, 'api.hastecrm.com', 5_000);
    await expect(waitForIngress('http://127.0.0.1:1', 'api.hastecrm.com', 300)).rejects.toThrow(/http:\/\/127.0.0.1:1\/ready .* last: connect ECONNREFUSED 127.0.0.1:1\. Is ingress-nginx ready, and is host port 1 mapped/);
  });
});
