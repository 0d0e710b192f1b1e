import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApiServer } from '../../cluster/targets/kind/testing/fake-kube-api-server.ts';
import { renderChaosEngine } from './chaos-engine.ts';
import { defineExperiment } from './experiments.ts';
import { affectedPodCount, plannedTargets } from './planned-targets.ts';

// Lists pods from FakeKubeApiServer (test double: a real HTTP server speaking the Kubernetes API
// slice used here); no cluster can run on this machine.

let fake: FakeKubeApiServer;
beforeEach(async () => {
  fake = await FakeKubeApiServer.start();
});
afterEach(async () => {
  await fake.stop();
});

const pod = (name: string, labels: Record<string, string>, namespace = 'hastecrm'): Parameters<FakeKubeApiServer['seed']>[0] => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels } });

function engine(perc: Record<string, number | undefined>) {
  return renderChaosEngine({
    name: 'plan',
    namespace: 'hastecrm',
    appns: 'hastecrm',
    applabel: 'app=hastecrm-api',
    appkind: 'deployment',
    experiments: Object.entries(perc).map(([e, p]) => defineExperiment(e, { app: 'hastecrm-api' }, p === undefined ? {} : { PODS_AFFECTED_PERC: p })),
  }).object;
}

describe('affectedPodCount', () => {
  it("is Litmus's max(1, ⌊min(perc, 100) × n / 100⌋)", () => {
    expect([0, 1, 33, 34, 50, 66, 67, 100].map((p) => affectedPodCount(p, 3))).toEqual([1, 1, 1, 1, 1, 1, 2, 3]);
    expect(affectedPodCount(50, 4)).toBe(2);
    expect(affectedPodCount(100, 0)).toBe(0);
  });
});

describe('plannedTargets', () => {
  it('lists the matching pods of appns and how many each experiment hits', async () => {
    for (const name of ['hastecrm-api-b', 'hastecrm-api-a', 'hastecrm-api-c']) fake.seed(pod(name, { app: 'hastecrm-api' }));
    fake.seed(pod('hastecrm-web-a', { app: 'hastecrm-web' }));
    fake.seed(pod('hastecrm-api-x', { app: 'hastecrm-api' }, 'other'));
    fake.seed(pod('pod-delete-helper', { app: 'hastecrm-api', chaosUID: 'u1' }));
    const plan = await plannedTargets({ kubeConfig: fake.kubeConfig(), engine: engine({ 'pod-delete': undefined, 'pod-cpu-hog': 100 }) });
    expect(plan.map((p) => [p.experiment, p.count, p.exact, p.candidates])).toEqual([
      ['pod-delete', 1, false, ['hastecrm-api-a', 'hastecrm-api-b', 'hastecrm-api-c']],
      ['pod-cpu-hog', 3, true, ['hastecrm-api-a', 'hastecrm-api-b', 'hastecrm-api-c']],
    ]);
    expect(plan[0]?.summary).toBe('pod-delete: 1 of 3 pods, picked at random by Litmus from hastecrm-api-a, hastecrm-api-b, hastecrm-api-c (hastecrm, app=hastecrm-api, PODS_AFFECTED_PERC 0)');
    expect(plan[1]?.summary).toBe('pod-cpu-hog: all 3 pods hastecrm-api-a, hastecrm-api-b, hastecrm-api-c (hastecrm, app=hastecrm-api)');
    // Only reads: a pod list, nothing written.
    expect(fake.requests.every((r) => r.method === 'GET')).toBe(true);
    expect(fake.requests.find((r) => r.path === '/api/v1/namespaces/hastecrm/pods')?.query.labelSelector).toBe('app=hastecrm-api');
  });

  it('fails the plan when nothing matches, naming namespace and selector', async () => {
    fake.seed(pod('hastecrm-web-a', { app: 'hastecrm-web' }));
    await expect(plannedTargets({ kubeConfig: fake.kubeConfig(), engine: engine({ 'pod-delete': 50 }) })).rejects.toThrow('no pods in namespace hastecrm match app=hastecrm-api: the experiments of ChaosEngine plan would fail target selection; check spec.appinfo.appns and applabel');
  });

  it('names the failed list when the API server refuses it', async () => {
    fake.failRequest = () => ({ code: 403, message: 'pods is forbidden' });
    await expect(plannedTargets({ kubeConfig: fake.kubeConfig(), engine: engine({ 'pod-delete': 50 }) })).rejects.toThrow('listing the pods of hastecrm with app=hastecrm-api failed: HTTP 403: pods is forbidden');
  });

  it('rejects a PODS_AFFECTED_PERC Litmus could not read', async () => {
    fake.seed(pod('hastecrm-api-a', { app: 'hastecrm-api' }));
    const broken = engine({ 'pod-delete': 50 });
    const env = broken.spec.experiments[0]?.spec.components.env.find((e) => e.name === 'PODS_AFFECTED_PERC');
    if (env) env.value = 'half';
    await expect(plannedTargets({ kubeConfig: fake.kubeConfig(), engine: broken })).rejects.toThrow('ChaosEngine plan: pod-delete PODS_AFFECTED_PERC: got "half"; expected a percentage 0–100');
  });
});
