import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../chaos/ledger.ts';
import type { ExperimentRecord } from '../../chaos/types.ts';
import { UnsafeContextError } from '../../cluster/targets/kind/context-safety.ts';
import type { KubeObject } from '../../cluster/targets/kind/objects.ts';
import { FakeKubeApiServer } from '../../cluster/targets/kind/testing/fake-kube-api-server.ts';
import { apiSlos } from '../../slo/api.ts';
import type { Progress } from '../cli/progress.ts';
import { resolveConfig } from '../config/resolve.ts';
import { ExitCode } from '../exit-codes.ts';
import { kindRunTasks, renderHostPrometheusConfig, type KindRunOptions } from './kind-stages.ts';
import { buildPlan } from './plan.ts';
import { classifyError } from './run.ts';
import type { RunContext } from './run-context.ts';
import { runTasks, type RunOutcome } from './task-runner.ts';

// TEST DOUBLES (no kind cluster can run here: no image registry is reachable):
// - FakeKubeApiServer stands for the cluster's API server; the test simulates the Deployment
//   controller (pods appear Ready) and Litmus's chaos-operator ("fake operator": ChaosResults and
//   the stop), as chaos/litmus/runner.test.ts does.
// - `kind` is a shell script on a private PATH that keeps a "cluster exists" file and writes a
//   kubeconfig pointing at the double.
// - The ingress is a real HTTP server on 127.0.0.1 that, like ingress-nginx, answers only requests
//   whose Host is the API's; the in-cluster Prometheus is a real HTTP server serving /federate.
// The embedded load engine and the host Prometheus are the real ones.

const APP_NS = 'hastecrm-production';
const CHAOS_NS = 'hastecrm-chaos';
const API_HOST = 'api.hastecrm.com';
const RUN_ID = 'kind-run-1';
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/kind/', import.meta.url));
const MANIFESTS: KubeObject[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: APP_NS, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'hastecrm-api', namespace: APP_NS },
    spec: { replicas: 2, template: { metadata: { labels: { app: 'hastecrm-api' } }, spec: { containers: [{ name: 'api', image: 'hastecrm/api:dev' }] } } },
  },
];

let root: string;
let bin: string;
let fake: FakeKubeApiServer;
let ingress: Server;
let clusterPrometheus: Server;
const servers: Server[] = [];
const hosts = { api: 0, other: 0 };
const events: string[] = [];
let engineAppliedAt: number | undefined;
let ledger: Ledger | undefined;

function listen(handler: RequestListener): Promise<Server> {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
const portOf = (server: Server): number => (server.address() as AddressInfo).port;

function fakeKind(): void {
  const state = path.join(root, 'cluster-exists');
  const source = path.join(root, 'kubeconfig.source');
  writeFileSync(source, fake.kubeConfig('kind-hastecrm').exportConfig());
  writeFileSync(
    path.join(bin, 'kind'),
    `#!/bin/sh
echo "$@" >> ${path.join(root, 'kind-calls')}
case "$1 $2" in
  "get clusters") [ -f ${state} ] && echo hastecrm; exit 0 ;;
  "create cluster") touch ${state}; while [ $# -gt 0 ]; do [ "$1" = --kubeconfig ] && cp ${source} "$2"; shift; done; exit 0 ;;
  "delete cluster") rm -f ${state}; exit 0 ;;
  "load docker-image") exit 0 ;;
esac
echo "fake kind: unexpected $*" >&2; exit 1
`,
  );
  chmodSync(path.join(bin, 'kind'), 0o755);
}

function kindCalls(): string[] {
  const file = path.join(root, 'kind-calls');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' ')) : [];
}

/** Litmus's CRDs, Established, as the litmus addon leaves them. */
function installLitmusCrds(): void {
  for (const [kind, plural] of [['ChaosEngine', 'chaosengines'], ['ChaosResult', 'chaosresults'], ['ChaosExperiment', 'chaosexperiments']] as const) {
    fake.seed({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${plural}.litmuschaos.io` },
      spec: { group: 'litmuschaos.io', scope: 'Namespaced', names: { kind, plural }, versions: [{ name: 'v1alpha1', served: true, storage: true }] },
    });
    fake.setStatus('apiextensions.k8s.io/v1', 'CustomResourceDefinition', `${plural}.litmuschaos.io`, undefined, { conditions: [{ type: 'Established', status: 'True' }] });
  }
}

/**
 * The Deployment controller (pods Ready) and the fake chaos-operator: a ChaosEngine's result goes
 * Running, then `verdict` after 200 ms (never, when undefined); a stop patch reports it stopped.
 */
function simulateCluster(verdict: 'Pass' | undefined): void {
  fake.onApply = (object, server) => {
    if (object.kind === 'Deployment') {
      setImmediate(() => {
        for (const name of ['hastecrm-api-1', 'hastecrm-api-2']) {
          if (server.get('v1', 'Pod', name, APP_NS)) continue;
          server.seed({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: APP_NS, labels: { app: 'hastecrm-api' } } });
          server.setStatus('v1', 'Pod', name, APP_NS, { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] });
        }
        server.setStatus('apps/v1', 'Deployment', object.metadata.name, APP_NS, { observedGeneration: 1, replicas: 2, readyReplicas: 2, updatedReplicas: 2, availableReplicas: 2 });
      });
      return;
    }
    if (object.kind !== 'ChaosEngine') return;
    engineAppliedAt = Date.now();
    events.push(`engine applied ${object.metadata.namespace ?? ''}/${object.metadata.name}`);
    const name = object.metadata.name;
    const experiment = (object.spec as { experiments: { name: string }[] }).experiments[0]?.name ?? '';
    setTimeout(() => {
      server.setStatus(object.apiVersion, 'ChaosEngine', name, CHAOS_NS, { engineStatus: 'initialized', experiments: [{ name: experiment, status: 'Running', verdict: 'Awaited' }] });
      server.seed({ apiVersion: 'litmuschaos.io/v1alpha1', kind: 'ChaosResult', metadata: { name: `${name}-${experiment}`, namespace: CHAOS_NS }, spec: { engine: name, experiment } });
      server.setStatus('litmuschaos.io/v1alpha1', 'ChaosResult', `${name}-${experiment}`, CHAOS_NS, { experimentStatus: { phase: 'Running', verdict: 'Awaited' } });
      if (!verdict) return;
      setTimeout(() => {
        server.setStatus('litmuschaos.io/v1alpha1', 'ChaosResult', `${name}-${experiment}`, CHAOS_NS, {
          experimentStatus: { phase: 'Completed', verdict },
          history: { passedRuns: 1, failedRuns: 0, stoppedRuns: 0, targets: [{ name: 'hastecrm-api-1', kind: 'deployment', chaosStatus: 'targeted' }] },
        });
      }, 200);
    }, 20);
  };
  fake.onMergePatch = (object, server) => {
    if (object.kind !== 'ChaosEngine' || (object.spec as { engineState?: string }).engineState !== 'stop') return;
    events.push(`engine stop patch ${object.metadata.name}`);
    setTimeout(() => server.setStatus(object.apiVersion, 'ChaosEngine', object.metadata.name, CHAOS_NS, { engineStatus: 'stopped', experiments: [] }), 20);
  };
}

class RecordingProgress implements Progress {
  readonly stages: string[] = [];
  readonly lines: string[] = [];
  stageStart(title: string): void {
    this.stages.push(title.split(':')[0] ?? title);
  }
  stageEnd(): void {}
  info(message: string): void {
    this.lines.push(message);
  }
  warn(message: string): void {
    this.lines.push(`warn: ${message}`);
  }
  live(): void {}
  endLive(): void {}
}

async function context(chaos: unknown[] = [{ experiment: 'pod-delete', startAfter: '2s', env: { TOTAL_CHAOS_DURATION: 3, CHAOS_INTERVAL: 1, PODS_AFFECTED_PERC: 50 } }]): Promise<{ ctx: RunContext; progress: RecordingProgress }> {
  const config = resolveConfig(
    {
      stateDir: path.join(root, 'state'),
      reportsDir: path.join(root, 'reports'),
      suites: {
        'kind-api': {
          target: { type: 'kind', ingressPort: portOf(ingress), prometheusPort: portOf(clusterPrometheus), prometheus: { scrapeInterval: '1s' }, readyTimeout: '10s' },
          load: { scenario: path.join(FIXTURES, 'scenario.ts'), duration: '6s' },
          chaos,
          slos: apiSlos,
          settle: '2s',
        },
      },
    },
    path.join(root, 'resilience.config.ts'),
  );
  const plan = await buildPlan(config, 'kind-api');
  ledger = Ledger.open(config.stateDir);
  const progress = new RecordingProgress();
  const ctx: RunContext = { runId: RUN_ID, plan, runDir: path.join(root, 'reports', RUN_ID), ledger, progress, experiments: [], chaosRuns: [], phases: [], slos: [], recovery: [], divergence: [], canary: [], notes: [] };
  return { ctx, progress };
}

function seams(extra: KindRunOptions['target'] = {}): KindRunOptions {
  return {
    target: {
      kubeconfigPath: path.join(root, 'kubeconfig'),
      lookup: { path: bin },
      addons: [],
      buildImage: () => Promise.resolve('hastecrm/api:0123456789ab'),
      buildManifests: () => Promise.resolve(structuredClone(MANIFESTS)),
      ...extra,
    },
    litmusDeadlineSlackMs: 8_000,
    litmusStopWaitMs: 3_000,
  };
}

async function run(tasks: ReturnType<typeof kindRunTasks>, ctx: RunContext, signal = new AbortController().signal, onTaskStart?: (title: string) => void): Promise<RunOutcome> {
  return runTasks(tasks, ctx, signal, {
    onTaskStart: (title) => {
      ctx.progress.stageStart(title);
      onTaskStart?.(title);
    },
  });
}

beforeEach(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'kind-stages-test-'));
  bin = path.join(root, 'bin');
  mkdirSync(bin);
  hosts.api = 0;
  hosts.other = 0;
  events.length = 0;
  engineAppliedAt = undefined;
  fake = await FakeKubeApiServer.start();
  installLitmusCrds();
  fakeKind();
  ingress = await listen((req, res) => {
    if (req.headers.host !== API_HOST) {
      hosts.other += 1;
      res.writeHead(404).end('default backend - 404');
      return;
    }
    hosts.api += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  clusterPrometheus = await listen((req, res) => {
    if (!req.url?.startsWith('/federate')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`# TYPE http_requests_total untyped\nhttp_requests_total{job="hastecrm-api",instance="hastecrm-api-1",status="200"} ${hosts.api}\n`);
  });
});

afterEach(async () => {
  try {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    await fake.stop();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

describe('kindRunTasks against the test doubles', () => {
  it('runs the stages in order, applies the ChaosEngine at its offset, follows it to Pass, sends Host to the ingress and tears down by label', async () => {
    simulateCluster('Pass');
    const { ctx, progress } = await context();
    const outcome = await run(kindRunTasks(seams()), ctx);

    expect(outcome.teardownErrors).toEqual([]);
    expect(progress.stages).toEqual(['prepare', 'provision the kind target', 'start the load driver', 'start the host Prometheus', 'scenario setup', 'load and Litmus chaos', 'evaluate SLOs per phase from Prometheus', 'analyse']);
    // The engine went to the chaos namespace no earlier than its 2 s offset from the start of load.
    expect(events[0]).toBe(`engine applied ${CHAOS_NS}/pod-delete-${RUN_ID}`);
    expect(engineAppliedAt! - ctx.loadStart!).toBeGreaterThanOrEqual(2_000);
    const record = ctx.experiments[0] as ExperimentRecord & { verdict?: string };
    expect(record).toMatchObject({ name: 'pod-delete', experiment: 'pod-delete', tookEffect: true, verdict: 'Pass' });
    // Every load request carried the API's Host (the engine's default header); none fell to the default backend.
    expect(hosts.api).toBeGreaterThan(50);
    expect(hosts.other).toBe(0);
    expect(ctx.load?.requests).toBeGreaterThan(50);
    // The host Prometheus scraped the engine and federated the cluster's series.
    expect(ctx.slos.length).toBeGreaterThan(0);
    // Teardown: the run's objects (overlay, chaos namespace, ChaosExperiments, litmus-admin) are gone; the cluster this run created too.
    expect(fake.get('v1', 'Namespace', CHAOS_NS)).toBeUndefined();
    expect(fake.get('v1', 'ServiceAccount', 'litmus-admin', CHAOS_NS)).toBeUndefined();
    expect(fake.get('apps/v1', 'Deployment', 'hastecrm-api', APP_NS)).toBeUndefined();
    expect(fake.log().some((l) => l.startsWith('DELETE') && l.includes(CHAOS_NS))).toBe(true);
    expect(kindCalls()).toContain('delete cluster');
    expect(ledger!.entries().filter((e) => e.runId === RUN_ID)).toEqual([]);
  }, 40_000);

  it('on abort stops the running ChaosEngine (engineState: stop) and still deletes by label', async () => {
    simulateCluster(undefined);
    const { ctx } = await context();
    const controller = new AbortController();
    const timer = setInterval(() => {
      if (engineAppliedAt !== undefined) controller.abort(new Error('test: Ctrl-C'));
    }, 50);
    try {
      const outcome = await run(kindRunTasks(seams()), ctx, controller.signal);
      expect(outcome.status).toBe('aborted');
      expect(outcome.teardownErrors).toEqual([]);
    } finally {
      clearInterval(timer);
    }
    expect(events).toContain(`engine stop patch pod-delete-${RUN_ID}`);
    expect(fake.log().some((l) => l.startsWith('PATCH') && l.includes(`chaosengines/pod-delete-${RUN_ID}`))).toBe(true);
    expect(fake.get('litmuschaos.io/v1alpha1', 'ChaosEngine', `pod-delete-${RUN_ID}`, CHAOS_NS)).toBeUndefined();
    expect(fake.get('v1', 'Namespace', CHAOS_NS)).toBeUndefined();
    expect(ledger!.entries().filter((e) => e.runId === RUN_ID)).toEqual([]);
  }, 40_000);

  it('refuses a kube context that is not kind-* before writing anything, unless --allow-context names it', async () => {
    simulateCluster('Pass');
    const { ctx } = await context([]);
    const outcome = await run(kindRunTasks(seams({ kubeConfig: fake.kubeConfig('prod-eu') })), ctx);
    expect(outcome.status).toBe('failed');
    const error = (outcome as { error: unknown }).error;
    expect(error).toBeInstanceOf(UnsafeContextError);
    expect((error as Error).message).toContain('--allow-context prod-eu');
    expect(classifyError(error)).toBe(ExitCode.InvalidConfig);
    expect(fake.log().filter((l) => !l.startsWith('GET'))).toEqual([]);

    // Named explicitly, the same context is used (the provision stage gets past the check).
    // Stopped once provisioning is done: only the context check is in question here.
    const allowed = await context([]);
    const stopAfterProvision = new AbortController();
    const allowedOutcome = await run(kindRunTasks({ ...seams({ kubeConfig: fake.kubeConfig('prod-eu') }), allowContext: 'prod-eu' }), allowed.ctx, stopAfterProvision.signal, (title) => {
      if (title.startsWith('start the load driver')) stopAfterProvision.abort(new Error('test: provisioned'));
    });
    expect(allowedOutcome).toMatchObject({ status: 'aborted', task: 'start the load driver' });
    expect(fake.log().some((l) => !l.startsWith('GET') && l.includes(CHAOS_NS))).toBe(true);
    expect(allowedOutcome.teardownErrors).toEqual([]);
    expect(fake.get('v1', 'Namespace', CHAOS_NS)).toBeUndefined();
  }, 40_000);
});

describe('renderHostPrometheusConfig', () => {
  it('scrapes the engine as k6 and federates the cluster with honor_labels', () => {
    const text = renderHostPrometheusConfig({ scrapeIntervalSeconds: 5, engineTarget: '127.0.0.1:1234', clusterPrometheus: '127.0.0.1:9090', ruleFiles: [] });
    expect(text).toContain('job_name: k6');
    expect(text).toContain('honor_labels: true');
    expect(text).toContain('metrics_path: /federate');
    expect(text).toContain('{job="hastecrm-api"}');
  });
});
