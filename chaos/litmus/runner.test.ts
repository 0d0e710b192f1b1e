import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnsafeContextError } from '../../cluster/targets/kind/context-safety.ts';
import { MANAGED_BY_LABEL, RUN_LABEL } from '../../cluster/targets/kind/objects.ts';
import { FakeKubeApiServer } from '../../cluster/targets/kind/testing/fake-kube-api-server.ts';
import { Ledger } from '../ledger.ts';
import { renderChaosEngine, type ChaosEngine } from './chaos-engine.ts';
import { defineExperiment } from './experiments.ts';
import { LitmusRunError, runLitmusExperiment, type RunLitmusOptions } from './runner.ts';

// Talks to FakeKubeApiServer (test double): a real HTTP server implementing the slice of the
// Kubernetes API the runner uses. No cluster can run here (kind cannot pull its images). The
// chaos-operator is simulated by the test ("fake operator": onApply / onMergePatch + setStatus),
// writing ChaosResult and ChaosEngine statuses the way Litmus does.

const NS = 'hastecrm';
let fake: FakeKubeApiServer;
let stateDir: string;
let ledger: Ledger;

function litmusCrd(kind: string, plural: string): Parameters<FakeKubeApiServer['seed']>[0] {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.litmuschaos.io` },
    spec: { group: 'litmuschaos.io', scope: 'Namespaced', names: { kind, plural }, versions: [{ name: 'v1alpha1', served: true, storage: true }] },
  };
}

/** Installs Litmus's CRDs in the double (Established), as the litmus addon would. */
function installLitmusCrds(): void {
  for (const [kind, plural] of [['ChaosEngine', 'chaosengines'], ['ChaosResult', 'chaosresults'], ['ChaosExperiment', 'chaosexperiments']] as const) {
    fake.seed(litmusCrd(kind, plural));
    fake.setStatus('apiextensions.k8s.io/v1', 'CustomResourceDefinition', `${plural}.litmuschaos.io`, undefined, { conditions: [{ type: 'Established', status: 'True' }] });
  }
}

function engine(name = 'api-chaos', experiments = ['pod-delete']): ChaosEngine {
  return renderChaosEngine({
    name,
    namespace: NS,
    appns: NS,
    applabel: 'app=hastecrm-api',
    appkind: 'deployment',
    experiments: experiments.map((e) => defineExperiment(e, { app: 'hastecrm-api' }, { TOTAL_CHAOS_DURATION: 10, ...(e === 'pod-delete' ? { CHAOS_INTERVAL: 5 } : {}) })),
  }).object;
}

type ResultStatus = { phase: string; verdict: string; failedStep?: string; targets?: { name: string; chaosStatus: string }[] };

/**
 * The fake chaos-operator: when the engine is applied it creates each ChaosResult as Running /
 * Awaited, then (unless `final` is undefined, i.e. it hangs) reports the final status; a stop
 * patch makes it report Stopped, as Litmus's abort does.
 */
function fakeOperator(final: ResultStatus | undefined, options: { confirmStop?: boolean } = {}): void {
  fake.onApply = (object, server) => {
    if (object.kind !== 'ChaosEngine') return;
    const name = object.metadata.name;
    const experiments = (object.spec as { experiments: { name: string }[] }).experiments.map((e) => e.name);
    setTimeout(() => {
      server.setStatus(object.apiVersion, 'ChaosEngine', name, NS, { engineStatus: 'initialized', experiments: experiments.map((e) => ({ name: e, status: 'Running', verdict: 'Awaited' })) });
      for (const e of experiments) {
        server.seed({ apiVersion: 'litmuschaos.io/v1alpha1', kind: 'ChaosResult', metadata: { name: `${name}-${e}`, namespace: NS }, spec: { engine: name, experiment: e } });
        server.setStatus('litmuschaos.io/v1alpha1', 'ChaosResult', `${name}-${e}`, NS, { experimentStatus: { phase: 'Running', verdict: 'Awaited' } });
      }
      if (!final) return;
      setTimeout(() => {
        for (const e of experiments) {
          server.setStatus('litmuschaos.io/v1alpha1', 'ChaosResult', `${name}-${e}`, NS, {
            experimentStatus: { phase: final.phase, verdict: final.verdict, ...(final.failedStep ? { failureOutput: { failedStep: final.failedStep, errorCode: 'GENERIC_ERROR' } } : {}) },
            history: { passedRuns: final.verdict === 'Pass' ? 1 : 0, failedRuns: final.verdict === 'Fail' ? 1 : 0, stoppedRuns: 0, targets: final.targets ?? [] },
          });
        }
      }, 30);
    }, 20);
  };
  fake.onMergePatch = (object, server) => {
    if (object.kind !== 'ChaosEngine' || (object.spec as { engineState?: string }).engineState !== 'stop' || options.confirmStop === false) return;
    setTimeout(() => server.setStatus(object.apiVersion, 'ChaosEngine', object.metadata.name, NS, { engineStatus: 'stopped', experiments: [] }), 20);
  };
}

function options(overrides: Partial<RunLitmusOptions> = {}): RunLitmusOptions {
  return { kubeConfig: fake.kubeConfig(), namespace: NS, engine: engine(), deadlineMs: 10_000, ledger, runId: 'run-1', stopWaitMs: 5_000, ...overrides };
}

const litmusRequests = (): string[] => fake.log().filter((l) => l.includes('litmuschaos.io/v1alpha1/'));

beforeEach(async () => {
  fake = await FakeKubeApiServer.start();
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'litmus-runner-'));
  ledger = Ledger.open(stateDir);
});
afterEach(async () => {
  await fake.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('runLitmusExperiment', () => {
  it('records the ledger entry, then applies the engine, then follows the ChaosResult by watching to Pass', async () => {
    installLitmusCrds();
    fakeOperator({ phase: 'Completed', verdict: 'Pass', targets: [{ name: 'hastecrm-api-7d9f-abcde', chaosStatus: 'targeted' }] });
    const entriesAtApply: unknown[] = [];
    const operator = fake.onApply;
    fake.onApply = (object, server) => {
      entriesAtApply.push(...ledger.entries().map((e) => e.revert));
      operator(object, server);
    };
    const lines: string[] = [];
    const result = await runLitmusExperiment(options({ log: (l) => lines.push(l) }));

    expect(litmusRequests()).toEqual([
      'GET /apis/litmuschaos.io/v1alpha1/namespaces/hastecrm/chaosengines/api-chaos',
      'PATCH /apis/litmuschaos.io/v1alpha1/namespaces/hastecrm/chaosengines/api-chaos',
      'GET WATCH /apis/litmuschaos.io/v1alpha1/namespaces/hastecrm/chaosresults',
      'GET WATCH /apis/litmuschaos.io/v1alpha1/namespaces/hastecrm/chaosengines metadata.name=api-chaos',
    ]);
    // The entry was on disk before the engine reached the API server.
    expect(entriesAtApply).toEqual([{ type: 'chaos-engine-stop', context: 'kind-fake', namespace: NS, name: 'api-chaos' }]);
    const apply = fake.requests.find((r) => r.method === 'PATCH');
    expect(apply?.contentType).toBe('application/apply-patch+yaml');
    expect(apply?.query).toMatchObject({ fieldManager: 'hastecrm-resilience', force: 'true' });
    expect((apply?.body as { metadata: { labels: Record<string, string> } }).metadata.labels).toMatchObject({ [MANAGED_BY_LABEL]: 'hastecrm-resilience', [RUN_LABEL]: 'run-1' });

    expect(result.ended).toBe('verdicts');
    expect(result.records).toHaveLength(1);
    expect(result.records[0]).toMatchObject({ name: 'api-chaos-pod-delete', experiment: 'pod-delete', verdict: 'Pass', phase: 'Completed', tookEffect: true });
    expect(result.records[0]?.actions[0]?.evidence).toBe('ChaosResult api-chaos-pod-delete: phase Completed, verdict Pass; targets: hastecrm-api-7d9f-abcde (targeted)');
    // Verdicts reached: chaos is over, the entry is gone, no stop was needed.
    expect(ledger.entries()).toEqual([]);
    expect(fake.requests.some((r) => r.contentType === 'application/merge-patch+json')).toBe(false);
    expect(lines[0]).toMatch(/ChaosEngine hastecrm\/api-chaos created \(pod-delete\)/);
  });

  it('follows every experiment of an engine and reports Fail with the failed step as not taking effect', async () => {
    installLitmusCrds();
    fakeOperator({ phase: 'Completed', verdict: 'Fail', failedStep: 'ChaosInject' });
    const result = await runLitmusExperiment(options({ engine: engine('seed-chaos', ['pod-cpu-hog', 'pod-network-latency']) }));
    expect(result.records.map((r) => [r.name, r.verdict, r.tookEffect, r.failedStep])).toEqual([
      ['seed-chaos-pod-cpu-hog', 'Fail', false, 'ChaosInject'],
      ['seed-chaos-pod-network-latency', 'Fail', false, 'ChaosInject'],
    ]);
    expect(result.records[0]?.reason).toBe('Litmus verdict Fail at step "ChaosInject" (GENERIC_ERROR); ChaosResult seed-chaos-pod-cpu-hog: phase Completed, verdict Fail; targets: no targets reported');
    expect(ledger.entries()).toEqual([]);
  });

  it('at the deadline: Awaited is not proven, the engine is stopped and deleted, and nothing hangs', async () => {
    installLitmusCrds();
    fakeOperator(undefined);
    const started = Date.now();
    const result = await runLitmusExperiment(options({ deadlineMs: 600 }));
    const took = Date.now() - started;
    expect(result.ended).toBe('deadline');
    expect(result.records[0]).toMatchObject({ verdict: 'Awaited', tookEffect: false, phase: 'Running' });
    expect(result.records[0]?.reason).toMatch(/^no verdict within 1 s \(ChaosResult api-chaos-pod-delete: phase Running, verdict Awaited\): not proven, inconclusive/);
    expect(result.stop).toEqual({ confirmedStopped: true, deleted: 'deleted' });
    const stop = fake.requests.find((r) => r.contentType === 'application/merge-patch+json');
    expect(stop?.body).toEqual({ spec: { engineState: 'stop' } });
    expect(fake.get('litmuschaos.io/v1alpha1', 'ChaosEngine', 'api-chaos', NS)).toBeUndefined();
    expect(ledger.entries()).toEqual([]);
    // Generous bound: deadline 0.6 s + stop; it must not wait for stopWaitMs (5 s) or hang.
    expect(took).toBeLessThan(4_500);
  });

  it('on abort: sends engineState stop, waits for the operator to report stopped, deletes the engine, removes the entry', async () => {
    installLitmusCrds();
    fakeOperator(undefined);
    const controller = new AbortController();
    fake.onWatch = (watch) => {
      if (watch.kind === 'ChaosEngine' && watch.name === 'api-chaos') setTimeout(() => controller.abort(new Error('SIGINT received')), 100);
    };
    const result = await runLitmusExperiment(options({ signal: controller.signal }));
    expect(result.ended).toBe('aborted');
    expect(result.records[0]).toMatchObject({ verdict: 'Stopped', tookEffect: false });
    expect(result.records[0]?.reason).toMatch(/^aborted: the engine was stopped before a verdict/);
    expect(result.stop).toEqual({ confirmedStopped: true, deleted: 'deleted' });
    const sequence = fake.log().filter((l) => /^(PATCH|DELETE|GET WATCH)/.test(l) && l.includes('chaosengines'));
    expect(sequence.slice(-3)).toEqual([
      'PATCH /apis/litmuschaos.io/v1alpha1/namespaces/hastecrm/chaosengines/api-chaos',
      'GET WATCH /apis/litmuschaos.io/v1alpha1/namespaces/hastecrm/chaosengines metadata.name=api-chaos',
      'DELETE /apis/litmuschaos.io/v1alpha1/namespaces/hastecrm/chaosengines/api-chaos',
    ]);
    expect(fake.requests.filter((r) => r.contentType === 'application/merge-patch+json')).toHaveLength(1);
    expect(ledger.entries()).toEqual([]);
  });

  it('deletes the engine anyway when the operator never confirms the stop (bounded wait)', async () => {
    installLitmusCrds();
    fakeOperator(undefined, { confirmStop: false });
    const result = await runLitmusExperiment(options({ deadlineMs: 300, stopWaitMs: 300 }));
    expect(result.stop).toEqual({ confirmedStopped: false, deleted: 'deleted' });
    expect(ledger.entries()).toEqual([]);
  });

  it('ends early when the engine says the experiment never ran (ChaosExperiment Not Found)', async () => {
    installLitmusCrds();
    fake.onApply = (object, server) => {
      if (object.kind === 'ChaosEngine') setTimeout(() => server.setStatus(object.apiVersion, 'ChaosEngine', object.metadata.name, NS, { engineStatus: 'initialized', experiments: [{ name: 'pod-delete', status: 'ChaosExperiment Not Found', verdict: 'Awaited' }] }), 20);
    };
    fake.onMergePatch = (object, server) => setTimeout(() => server.setStatus(object.apiVersion, 'ChaosEngine', object.metadata.name, NS, { engineStatus: 'stopped' }), 10);
    const started = Date.now();
    const result = await runLitmusExperiment(options({ deadlineMs: 20_000 }));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.records[0]?.verdict).toBe('Awaited');
    expect(result.records[0]?.reason).toMatch(/reports "ChaosExperiment Not Found" for pod-delete: it never ran \(install its ChaosExperiment/);
  });

  it('refuses a context that is not kind-* before any request or ledger entry, unless allowed', async () => {
    await expect(runLitmusExperiment(options({ kubeConfig: fake.kubeConfig('prod-eu-west-1') }))).rejects.toThrow(UnsafeContextError);
    expect(fake.requests).toEqual([]);
    expect(ledger.entries()).toEqual([]);
    installLitmusCrds();
    fakeOperator({ phase: 'Completed', verdict: 'Pass' });
    const result = await runLitmusExperiment(options({ kubeConfig: fake.kubeConfig('staging'), allowContext: 'staging' }));
    expect(result.records[0]?.verdict).toBe('Pass');
  });

  it('rejects a contextName that is not the current context, and a non-positive deadline', async () => {
    await expect(runLitmusExperiment(options({ contextName: 'kind-other' }))).rejects.toThrow('contextName "kind-other" is not the kubeConfig\'s current context "kind-fake"');
    await expect(runLitmusExperiment(options({ deadlineMs: 0 }))).rejects.toThrow(/^deadlineMs: got 0; expected a positive number/);
    expect(fake.requests).toEqual([]);
  });

  it('never takes over an engine that already exists (a leftover of ours or someone else\'s)', async () => {
    installLitmusCrds();
    fake.seed({ apiVersion: 'litmuschaos.io/v1alpha1', kind: 'ChaosEngine', metadata: { name: 'api-chaos', namespace: NS, labels: { [MANAGED_BY_LABEL]: 'hastecrm-resilience', [RUN_LABEL]: 'run-0' } }, spec: {} });
    await expect(runLitmusExperiment(options())).rejects.toThrow('ChaosEngine hastecrm/api-chaos already exists (left by run run-0: run `resilience cleanup`)');
    fake.seed({ apiVersion: 'litmuschaos.io/v1alpha1', kind: 'ChaosEngine', metadata: { name: 'team-chaos', namespace: NS }, spec: {} });
    await expect(runLitmusExperiment(options({ engine: engine('team-chaos') }))).rejects.toThrow('ChaosEngine hastecrm/team-chaos already exists and was not created by the harness: give the engine another name');
    expect(fake.requests.some((r) => r.method !== 'GET')).toBe(false);
    expect(ledger.entries()).toEqual([]);
  });

  it('a 409 on apply: names the engine, cleans up by name and leaves no ledger entry', async () => {
    installLitmusCrds();
    fake.failRequest = (r) => (r.method === 'PATCH' && r.contentType === 'application/apply-patch+yaml' ? { code: 409, message: 'Operation cannot be fulfilled: the object has been modified' } : undefined);
    const error = await runLitmusExperiment(options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LitmusRunError);
    expect((error as Error).message).toBe('creating ChaosEngine hastecrm/api-chaos failed: HTTP 409: Operation cannot be fulfilled: the object has been modified: another client changed it at the same time; run again');
    // The clean-up by name found nothing (404 on the stop patch = nothing to revert).
    expect(fake.requests.some((r) => r.contentType === 'application/merge-patch+json')).toBe(true);
    expect(ledger.entries()).toEqual([]);
  });

  it('says Litmus is not installed when its CRDs are not served', async () => {
    const error = await runLitmusExperiment(options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LitmusRunError);
    expect((error as Error).message).toMatch(/^ChaosEngine hastecrm\/api-chaos: cannot read it \(.+\)\. Is Litmus installed\? Install the litmus addon/);
    expect(ledger.entries()).toEqual([]);
  });

  it('a watch the server refuses: stops the engine, removes the entry and names the failure', async () => {
    installLitmusCrds();
    fakeOperator(undefined);
    fake.failRequest = (r) => (r.query.watch === 'true' && r.path.endsWith('/chaosresults') ? { code: 500, message: 'etcd unavailable' } : undefined);
    const error = await runLitmusExperiment(options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LitmusRunError);
    expect((error as Error).message).toMatch(/^following ChaosEngine hastecrm\/api-chaos failed: /);
    expect(fake.get('litmuschaos.io/v1alpha1', 'ChaosEngine', 'api-chaos', NS)).toBeUndefined();
    expect(ledger.entries()).toEqual([]);
  });
});
