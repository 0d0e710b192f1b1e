import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Addon } from '../../addons/kind/addons.ts';
import { AddonInstallError, applyPatches, HelmMissingError, installAddons } from './addon-install.ts';
import { UnsafeContextError } from './context-safety.ts';
import { MANAGED_BY_LABEL, RUN_LABEL } from './objects.ts';
import { FakeKubeApiServer } from './testing/fake-kube-api-server.ts';

// FakeKubeApiServer is a TEST DOUBLE of the Kubernetes API server; the `helm` used here is a TEST
// DOUBLE shell script recording its arguments (Helm is not installed and no chart repo is reachable).
// The manifests are served by a real HTTP server on 127.0.0.1, fetched with the real fetch.

const DEPLOY_YAML = `apiVersion: v1
kind: Namespace
metadata:
  name: demo-system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-controller
  namespace: demo-system
spec:
  replicas: 1
  selector: { matchLabels: { app: demo } }
  template:
    metadata: { labels: { app: demo } }
    spec:
      containers:
        - name: demo
          image: demo:1.0
          args: ["--v=2"]
`;

let fake: FakeKubeApiServer;
let http: Server;
let baseUrl: string;
let served: Record<string, { status: number; body: string }>;
let root: string;
const lines: string[] = [];

function readyDeployments(server: FakeKubeApiServer): void {
  // The Deployment controller, simulated: every applied Deployment becomes available shortly after.
  server.onApply = (object, s) => {
    if (object.kind !== 'Deployment') return;
    setImmediate(() => s.setStatus('apps/v1', 'Deployment', object.metadata.name, object.metadata.namespace, { observedGeneration: object.metadata.generation, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] }));
  };
}

function manifestAddon(urls: string[]): Addon {
  return {
    name: 'demo',
    required: true,
    purpose: 'test',
    version: 'v1',
    source: { type: 'manifests', urls },
    namespace: 'demo-system',
    readiness: [{ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'demo-system', name: 'demo-controller' }],
    patches: [{ target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'demo-system', name: 'demo-controller' }, patch: [{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--kubelet-insecure-tls' }], why: 'test' }],
    serves: [],
  };
}

beforeEach(async () => {
  lines.length = 0;
  fake = await FakeKubeApiServer.start();
  root = mkdtempSync(join(tmpdir(), 'addon-install-test-'));
  served = { '/deploy.yaml': { status: 200, body: DEPLOY_YAML }, '/broken.yaml': { status: 200, body: 'kind: [unclosed' }, '/gone.yaml': { status: 404, body: 'not found' } };
  http = createServer((req, res) => {
    const entry = served[req.url ?? ''];
    res.writeHead(entry?.status ?? 404, { 'Content-Type': 'application/yaml' });
    res.end(entry?.body ?? '');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await fake.stop();
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

describe('installAddons: manifests', () => {
  it('downloads, patches, applies in order with the addons label, and awaits readiness by watching', async () => {
    readyDeployments(fake);
    await installAddons({ kubeConfig: fake.kubeConfig(), addons: [manifestAddon([`${baseUrl}/deploy.yaml`])], log: (l) => lines.push(l), readyTimeoutMs: 10_000 });
    const deployment = fake.get('apps/v1', 'Deployment', 'demo-controller', 'demo-system') as { spec: { template: { spec: { containers: { args: string[] }[] } } }; metadata: { labels: Record<string, string> } } | undefined;
    expect(deployment?.spec.template.spec.containers[0]?.args).toEqual(['--v=2', '--kubelet-insecure-tls']);
    expect(deployment?.metadata.labels[RUN_LABEL]).toBe('cluster-addons');
    expect(deployment?.metadata.labels[MANAGED_BY_LABEL]).toBe('hastecrm-resilience');
    const log = fake.log().filter((l) => !l.startsWith('GET /api'));
    // Namespace before Deployment; readiness watched (not polled) after the apply.
    expect(log.findIndex((l) => l.startsWith('PATCH /api/v1/namespaces/demo-system'))).toBeLessThan(log.findIndex((l) => l.startsWith('PATCH /apis/apps/v1/namespaces/demo-system/deployments/demo-controller')));
    expect(log.at(-1)).toBe('GET WATCH /apis/apps/v1/namespaces/demo-system/deployments metadata.name=demo-controller');
    expect(lines[0]).toBe('addon demo v1 (manifests)');
  });

  it('names the URL when the download fails (offline, HTTP error) and when it is not a manifest', async () => {
    const offline: typeof fetch = () => Promise.reject(new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND github.com') }));
    await expect(installAddons({ kubeConfig: fake.kubeConfig(), addons: [manifestAddon(['https://github.com/x/components.yaml'])], fetch: offline, log: () => undefined })).rejects.toThrow(
      'addon demo: downloading https://github.com/x/components.yaml failed (getaddrinfo ENOTFOUND github.com); cluster up needs network access',
    );
    await expect(installAddons({ kubeConfig: fake.kubeConfig(), addons: [manifestAddon([`${baseUrl}/gone.yaml`])], log: () => undefined })).rejects.toThrow(`downloading ${baseUrl}/gone.yaml failed (HTTP 404 Not Found)`);
    await expect(installAddons({ kubeConfig: fake.kubeConfig(), addons: [manifestAddon([`${baseUrl}/broken.yaml`])], log: () => undefined })).rejects.toThrow(`addon demo: ${baseUrl}/broken.yaml is not a Kubernetes manifest`);
    // Nothing was applied.
    expect(fake.requests.filter((r) => r.method === 'PATCH')).toHaveLength(0);
  });

  it('fails naming the addon and the object when it never becomes ready', async () => {
    await expect(installAddons({ kubeConfig: fake.kubeConfig(), addons: [manifestAddon([`${baseUrl}/deploy.yaml`])], log: () => undefined, readyTimeoutMs: 300 })).rejects.toThrow(/addon demo: Deployment demo-system\/demo-controller did not become ready within 300 ms/);
  });

  it('refuses a non-kind context before downloading anything', async () => {
    let fetched = 0;
    const counting: typeof fetch = (...args) => {
      fetched += 1;
      return fetch(...args);
    };
    await expect(installAddons({ kubeConfig: fake.kubeConfig('gke_prod'), addons: [manifestAddon([`${baseUrl}/deploy.yaml`])], fetch: counting, log: () => undefined })).rejects.toThrow(UnsafeContextError);
    expect(fetched).toBe(0);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('installAddons: rendered', () => {
  it('applies the rendered objects directly (no download)', async () => {
    readyDeployments(fake);
    const addon: Addon = { ...manifestAddon([]), source: { type: 'rendered', render: () => [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo-system' } }, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'demo-controller', namespace: 'demo-system' }, spec: { template: { spec: { containers: [{ name: 'c', args: [] }] } } } }] } };
    const noFetch: typeof fetch = () => Promise.reject(new Error('must not download'));
    await installAddons({ kubeConfig: fake.kubeConfig(), addons: [addon], fetch: noFetch, log: () => undefined, readyTimeoutMs: 10_000 });
    expect(fake.get('apps/v1', 'Deployment', 'demo-controller', 'demo-system')).toBeDefined();
  });
});

describe('installAddons: helm', () => {
  const helmAddon: Addon = {
    name: 'flagger',
    required: false,
    purpose: 'test',
    version: '1.38.0',
    source: { type: 'helm', repo: 'https://flagger.app', chart: 'flagger', version: '1.38.0', release: 'flagger', values: { meshProvider: 'istio' } },
    namespace: 'istio-system',
    readiness: [{ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'istio-system', name: 'flagger' }],
    serves: [],
  };

  function fakeHelm(exitCode: number): string {
    const bin = join(root, 'bin');
    mkdirSync(bin, { recursive: true });
    const record = join(root, 'helm-calls');
    // Records its arguments and the values file it was given (which addon-install deletes afterwards).
    writeFileSync(
      join(bin, 'helm'),
      `#!/bin/sh\necho "$@" >> ${record}\nwhile [ $# -gt 0 ]; do if [ "$1" = --values ]; then cat "$2" > ${record}.values; fi; if [ "$1" = --kubeconfig ]; then stat -c %a "$2" > ${record}.mode; fi; shift; done\n[ ${exitCode} -eq 0 ] || { echo "Error: INSTALLATION FAILED: chart not found" >&2; exit ${exitCode}; }\n`,
    );
    chmodSync(join(bin, 'helm'), 0o755);
    return bin;
  }

  it('runs helm upgrade --install with the pinned chart, the values and the context, then awaits readiness', async () => {
    const bin = fakeHelm(0);
    // As if helm had created the Deployment; the controller reports it ready once watched.
    fake.seed({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'flagger', namespace: 'istio-system' } });
    fake.onWatch = (w, s) => {
      if (w.name === 'flagger') s.setStatus('apps/v1', 'Deployment', 'flagger', 'istio-system', { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] });
    };
    await installAddons({ kubeConfig: fake.kubeConfig(), addons: [helmAddon], log: (l) => lines.push(l), helmPath: bin, readyTimeoutMs: 10_000 });
    const call = readFileSync(join(root, 'helm-calls'), 'utf8').trim();
    expect(call).toMatch(/^upgrade --install flagger flagger --repo https:\/\/flagger.app --version 1.38.0 --namespace istio-system --create-namespace --values \S+values.yaml --kubeconfig \S+kubeconfig --kube-context kind-fake$/);
    expect(readFileSync(join(root, 'helm-calls.values'), 'utf8')).toBe('meshProvider: istio\n');
    expect(readFileSync(join(root, 'helm-calls.mode'), 'utf8').trim()).toBe('600');
    // The temporary kubeconfig and values are gone.
    expect(existsSync(call.split(' ')[12] ?? '/nonexistent')).toBe(false);
  });

  it('names helm when it is missing, and shows helm’s error when it fails', async () => {
    const error = await installAddons({ kubeConfig: fake.kubeConfig(), addons: [helmAddon], log: () => undefined, helmPath: join(root, 'empty') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HelmMissingError);
    expect((error as Error).message).toBe('addon flagger: is installed with Helm, but `helm` was not found on PATH; install it (https://helm.sh/docs/intro/install/) or leave the addon out');
    const bin = fakeHelm(1);
    await expect(installAddons({ kubeConfig: fake.kubeConfig(), addons: [helmAddon], log: () => undefined, helmPath: bin })).rejects.toThrow(/addon flagger: `helm upgrade --install flagger flagger …` failed \(exit 1\):\nError: INSTALLATION FAILED: chart not found/);
  });
});

describe('applyPatches', () => {
  const objects = [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'n' }, spec: { replicas: 2, template: { spec: { containers: [{ args: ['a'] }] } } } }];
  const target = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'n', name: 'd' };

  it('adds, replaces and removes without changing its input', () => {
    const [patched] = applyPatches({ name: 'x' }, objects, [{ target, why: 'w', patch: [{ op: 'replace', path: '/spec/replicas', value: 1 }, { op: 'add', path: '/spec/template/spec/containers/0/args/0', value: 'first' }, { op: 'remove', path: '/spec/template/spec/containers/0/args/1' }, { op: 'add', path: '/metadata/annotations', value: { a: 'b' } }] }]);
    expect(patched).toMatchObject({ spec: { replicas: 1, template: { spec: { containers: [{ args: ['first'] }] } } }, metadata: { annotations: { a: 'b' } } });
    expect(objects[0]?.spec.replicas).toBe(2);
  });

  it('names the addon, the missing target and the bad path', () => {
    expect(() => applyPatches({ name: 'x' }, objects, [{ target: { ...target, name: 'other' }, why: 'kind kubelets', patch: [] }])).toThrow(AddonInstallError);
    expect(() => applyPatches({ name: 'x' }, objects, [{ target: { ...target, name: 'other' }, why: 'kind kubelets', patch: [] }])).toThrow('addon x: patch target Deployment n/other is not in the addon\'s manifests (the pinned release changed?); the patch was for: kind kubelets');
    expect(() => applyPatches({ name: 'x' }, objects, [{ target, why: 'w', patch: [{ op: 'replace', path: '/spec/missing/x', value: 1 }] }])).toThrow('addon x: patch replace /spec/missing/x on Deployment n/d: "missing" does not exist');
    expect(() => applyPatches({ name: 'x' }, objects, [{ target, why: 'w', patch: [{ op: 'remove', path: '/spec/template/spec/containers/5' }] }])).toThrow('array index "5" is out of range (length 1)');
  });
});
