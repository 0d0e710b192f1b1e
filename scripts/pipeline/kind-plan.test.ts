import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApiServer } from '../../cluster/targets/kind/testing/fake-kube-api-server.ts';
import { formatPlan } from '../cli/plan-printer.ts';
import { ConfigError } from '../config/errors.ts';
import { loadConfig } from '../config/load.ts';
import { resolveConfig } from '../config/resolve.ts';
import { apiSlos } from '../../slo/api.ts';
import { defaultKubeconfigFiles, kindChaosObjects, planKindTargets, plannedNamespaceLabels } from './kind-chaos.ts';
import { buildPlan } from './plan.ts';

// No cluster runs here: without one, the plan of a kind suite is computed from the config and the
// manifests alone; the live pod listing is tested against FakeKubeApiServer (test double: a real
// HTTP server on 127.0.0.1 speaking the slice of the Kubernetes API used), reached through a real
// kubeconfig file, as `resilience plan` reaches a kind cluster.
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/kind/', import.meta.url));

let dir: string;
let savedKubeconfig: string | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kind-plan-'));
  savedKubeconfig = process.env.KUBECONFIG;
  // Never the machine's own ~/.kube/config: each test says which kubeconfig the plan reads.
  process.env.KUBECONFIG = path.join(dir, 'absent-kubeconfig');
});
afterEach(() => {
  if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = savedKubeconfig;
  rmSync(dir, { recursive: true, force: true });
});

/** A kubeconfig file whose one context points at `server`. */
function writeKubeconfig(name: string, contextName: string, server: string): string {
  const file = path.join(dir, name);
  const kc = { apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }], users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: contextName, context: { cluster: 'c', user: 'u' } }], 'current-context': contextName };
  writeFileSync(file, JSON.stringify(kc));
  return file;
}

const apiPod = (name: string, namespace = 'hastecrm-production'): Parameters<FakeKubeApiServer['seed']>[0] => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app: 'hastecrm-api' } } });

/** A port that nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function kindConfig(target: Record<string, unknown>, chaos: unknown[]): ReturnType<typeof resolveConfig> {
  return resolveConfig(
    { suites: { k: { target: { type: 'kind', ...target }, load: { scenario: path.join(FIXTURES, 'scenario.ts') }, chaos, slos: apiSlos } } },
    path.join(FIXTURES, 'resilience.config.ts'),
  );
}

async function planError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('resilience plan for a kind suite', () => {
  it('prints the cluster, what is applied, the chaos namespace and which pods Litmus decides at run time', async () => {
    const config = await loadConfig(path.join(FIXTURES, 'resilience.config.ts'));
    const plan = await buildPlan(config, 'kind-api', { allowContext: 'kind-ci' });
    const text = formatPlan(plan);
    expect(text).toContain('Target: kind cluster hastecrm (kube context kind-hastecrm; reused and kept after the run)');
    expect(text).toContain('2 × hastecrm-api in hastecrm-production');
    expect(text).toContain('with Host: api.hastecrm.com');
    expect(text).toContain('chaos: Litmus ChaosEngines in namespace hastecrm-chaos (pod-security privileged, litmus-admin), acting on hastecrm-production');
    expect(text).toContain('hits: decided at run time by Litmus: PODS_AFFECTED_PERC 50 % of the pods matching app=hastecrm-api in namespace hastecrm-production (1 of 2');
    expect(text).toContain(`; no cluster answers at kind-hastecrm: no kubeconfig (${path.join(dir, 'absent-kubeconfig')} does not exist); create the cluster with \`resilience cluster up\``);
    expect(text).toContain('policy check (Pod Security of hastecrm-chaos, from the manifests the run applies): no conflicts');
    expect(text).toContain('allowed by --allow-context, kind-ci');
    expect(plan.load.driver).toBe('engine');
  });

  it('fails (exit 2) when helpers would run in a namespace enforcing restricted, naming namespace and experiment', async () => {
    const config = kindConfig({ chaosNamespace: 'hastecrm-production' }, [{ experiment: 'pod-cpu-hog', startAfter: '1s', env: { TOTAL_CHAOS_DURATION: 3 } }]);
    const error = await planError(buildPlan(config, 'k'));
    const text = error.issues.map((i) => `${i.path}: ${i.expected}`).join('\n');
    expect(text).toContain('suites.k.target.chaosNamespace');
    expect(text).toContain('pod-cpu-hog needs a helper pod');
    expect(text).toContain('namespace hastecrm-production enforces the restricted Pod Security Standard');
  });

  it('refuses experiments the kind target does not install, and --load k6', async () => {
    const config = kindConfig({}, [{ experiment: 'pod-network-partition', startAfter: '1s', env: { TOTAL_CHAOS_DURATION: 3 } }]);
    const error = await planError(buildPlan(config, 'k', { load: 'k6' }));
    const text = error.issues.map((i) => `${i.path}: ${i.expected}`).join('\n');
    expect(text).toContain('pod-network-partition is not installed on the kind target');
    expect(text).toContain('--load: the embedded engine on the kind target');
  });

  it('rejects a bad kind target field naming it', () => {
    expect(() => kindConfig({ cluster: 'Bad_Name' }, [])).toThrow(/suites\.k\.target\.cluster/);
  });
});

describe('the chaos objects and namespace labels the plan checks against', () => {
  it('creates a privileged chaos namespace and binds litmus-admin in the app namespace', () => {
    const target = kindConfig({}, []).suites.k!.target;
    if (target.type !== 'kind') throw new Error('expected a kind target');
    const objects = kindChaosObjects(target);
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)).toEqual(
      expect.arrayContaining(['Namespace /hastecrm-chaos', 'ServiceAccount hastecrm-chaos/litmus-admin', 'ChaosExperiment hastecrm-chaos/pod-delete', 'RoleBinding hastecrm-production/litmus-admin-target']),
    );
    const labels = plannedNamespaceLabels(target);
    expect(labels['hastecrm-production']?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(labels['hastecrm-chaos']?.['pod-security.kubernetes.io/enforce']).toBe('privileged');
  });
});

describe('resilience plan with the kind cluster answering', () => {
  let fake: FakeKubeApiServer;
  beforeEach(async () => {
    fake = await FakeKubeApiServer.start();
  });
  afterEach(async () => {
    await fake.stop();
  });

  it('lists the pods each experiment can hit, and how many Litmus picks, with reads only', async () => {
    for (const name of ['hastecrm-api-7c9f-fghij', 'hastecrm-api-7c9f-abcde']) fake.seed(apiPod(name));
    fake.seed(apiPod('hastecrm-api-7c9f-other', 'elsewhere'));
    // KUBECONFIG as kubectl reads it: a missing file is skipped, the first one holding the context is used.
    process.env.KUBECONFIG = [path.join(dir, 'missing'), writeKubeconfig('kc', 'kind-hastecrm', fake.url)].join(path.delimiter);
    const config = await loadConfig(path.join(FIXTURES, 'resilience.config.ts'));
    const text = formatPlan(await buildPlan(config, 'kind-api'));
    expect(text).toContain(
      'hits: 1 of 2 pods matching app=hastecrm-api in hastecrm-production (picked by Litmus at run time): hastecrm-api-7c9f-abcde, hastecrm-api-7c9f-fghij (running now in kind-hastecrm)',
    );
    expect(fake.requests.length).toBeGreaterThan(0);
    expect(fake.requests.every((r) => r.method === 'GET')).toBe(true);
    // The pod lists, plus the client's API discovery to find the pods' path: reads of this cluster only.
    expect(new Set(fake.requests.map((r) => r.path))).toEqual(new Set(['/api/v1', '/api/v1/namespaces/hastecrm-production/pods']));
    expect(fake.requests.filter((r) => r.path.endsWith('/pods')).map((r) => r.query.labelSelector ?? '(probe)')).toEqual(['(probe)', 'app=hastecrm-api']);
  });

  it('says "every one" when PODS_AFFECTED_PERC covers all matching pods', async () => {
    fake.seed(apiPod('hastecrm-api-a'));
    const config = kindConfig({}, [{ experiment: 'pod-delete', startAfter: '1s', env: { TOTAL_CHAOS_DURATION: 4, CHAOS_INTERVAL: 2, PODS_AFFECTED_PERC: 50 } }]);
    const target = config.suites.k!.target;
    if (target.type !== 'kind') throw new Error('expected a kind target');
    const planned = await planKindTargets(config.suites.k!.chaos, target, { kubeconfigFiles: [writeKubeconfig('kc', 'kind-hastecrm', fake.url)] });
    expect([...planned.values()]).toEqual([{ ok: true, text: '1 of 1 pods matching app=hastecrm-api in hastecrm-production (every one): hastecrm-api-a (running now in kind-hastecrm)' }]);
  });

  it("keeps today's text, with why, when the cluster answers but no pod matches yet", async () => {
    fake.seed({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hastecrm-web-a', namespace: 'hastecrm-production', labels: { app: 'hastecrm-web' } } });
    const text = await onlyText({ kubeconfigFiles: [writeKubeconfig('kc', 'kind-hastecrm', fake.url)] });
    expect(text).toMatch(/^decided at run time by Litmus: .*\(1 of 2 if the overlay's 2 replicas are running; picked at random\); not listed from kind-hastecrm: no pods in namespace hastecrm-production match app=hastecrm-api/);
  });

  it('names the refusal when the API server answers the pod list with an error', async () => {
    fake.failRequest = () => ({ code: 403, message: 'pods is forbidden' });
    const text = await onlyText({ kubeconfigFiles: [writeKubeconfig('kc', 'kind-hastecrm', fake.url)] });
    expect(text).toContain('; no cluster answers at kind-hastecrm: GET /api/v1/namespaces/hastecrm-production/pods answered HTTP 403: pods is forbidden');
  });
});

describe("resilience plan with no kind cluster answering keeps today's text and says why", () => {
  it('when the kubeconfig has no kind-<cluster> context, listing the ones it has', async () => {
    const file = writeKubeconfig('kc', 'kind-other', 'http://127.0.0.1:1');
    const text = await onlyText({ kubeconfigFiles: [file] });
    expect(text).toMatch(/^decided at run time by Litmus: PODS_AFFECTED_PERC 50 % /);
    expect(text).toContain(`; no cluster answers at kind-hastecrm: no context kind-hastecrm in ${file} (contexts: kind-other); create the cluster with \`resilience cluster up\``);
  });

  it('when the kubeconfig does not parse, naming the file', async () => {
    const file = path.join(dir, 'broken');
    writeFileSync(file, 'clusters: [unclosed');
    expect(await onlyText({ kubeconfigFiles: [file] })).toContain(`; no cluster answers at kind-hastecrm: kubeconfig ${file} does not load (`);
  });

  it('when nothing listens at the cluster address', async () => {
    const port = await closedPort();
    const text = await onlyText({ kubeconfigFiles: [writeKubeconfig('kc', 'kind-hastecrm', `http://127.0.0.1:${port}`)] });
    expect(text).toContain(`; no cluster answers at kind-hastecrm: GET http://127.0.0.1:${port}/api/v1/namespaces/hastecrm-production/pods failed: connect ECONNREFUSED`);
  });

  it('when the address accepts connections but never answers, within the bound', async () => {
    // A server that holds every request open: the plan gives up at its bound instead of waiting.
    const held: Socket[] = [];
    const silent: Server = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const text = await onlyText({ kubeconfigFiles: [writeKubeconfig('kc', 'kind-hastecrm', `http://127.0.0.1:${port}`)], timeoutMs: 300 });
      expect(text).toContain(`; no cluster answers at kind-hastecrm: http://127.0.0.1:${port} did not answer GET /api/v1/namespaces/hastecrm-production/pods within 0.3 s`);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('reads KUBECONFIG like kubectl, else ~/.kube/config', () => {
    expect(defaultKubeconfigFiles({ KUBECONFIG: ['/a', '', '/b'].join(path.delimiter) })).toEqual(['/a', '/b']);
    expect(defaultKubeconfigFiles({})[0]).toMatch(/\.kube[/\\]config$/);
  });
});

/** The one experiment's text for the fixture's 2-replica kind suite (pod-delete, 50 %). */
async function onlyText(options: Parameters<typeof planKindTargets>[2]): Promise<string> {
  const config = kindConfig({}, [{ experiment: 'pod-delete', startAfter: '1s', env: { TOTAL_CHAOS_DURATION: 4, CHAOS_INTERVAL: 2, PODS_AFFECTED_PERC: 50 } }]);
  const target = config.suites.k!.target;
  if (target.type !== 'kind') throw new Error('expected a kind target');
  const planned = [...(await planKindTargets(config.suites.k!.chaos, target, options)).values()];
  expect(planned).toHaveLength(1);
  const only = planned[0];
  if (!only?.ok) throw new Error(`expected a text, got ${JSON.stringify(only)}`);
  return only.text;
}
