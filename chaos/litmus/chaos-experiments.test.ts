import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyManifests } from '../../cluster/targets/kind/apply.ts';
import { FakeKubeApiServer } from '../../cluster/targets/kind/testing/fake-kube-api-server.ts';
import { GO_RUNNER_IMAGE, INSTALLED_EXPERIMENTS, installLitmusExperiments } from './chaos-experiments.ts';
import { EXPERIMENTS } from './experiments.ts';

describe('installLitmusExperiments', () => {
  it('renders a ChaosExperiment per experiment the way the Litmus charts do, plus litmus-admin RBAC', () => {
    const objects = installLitmusExperiments('hastecrm');
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'ServiceAccount hastecrm/litmus-admin',
      'Role hastecrm/litmus-admin',
      'RoleBinding hastecrm/litmus-admin',
      ...INSTALLED_EXPERIMENTS.map((e) => `ChaosExperiment hastecrm/${e}`),
    ]);
    expect(GO_RUNNER_IMAGE).toBe('litmuschaos/go-runner:3.0.0');
    for (const o of objects.filter((x) => x.kind === 'ChaosExperiment')) {
      const def = (o.spec as { definition: { image: string; command: string[]; args: string[]; scope: string; env: { name: string; value: string }[]; labels: Record<string, string> } }).definition;
      expect(o.apiVersion).toBe('litmuschaos.io/v1alpha1');
      expect(def).toMatchObject({ image: GO_RUNNER_IMAGE, command: ['/bin/bash'], args: ['-c', `./experiments -name ${o.metadata.name}`], scope: 'Namespaced' });
      // Every tunable the harness renders has a default in the CR, so Litmus accepts the engine's env.
      const names = def.env.map((e) => e.name);
      for (const tunable of Object.keys(EXPERIMENTS[o.metadata.name as keyof typeof EXPERIMENTS].tunables)) expect(names, `${o.metadata.name} ${tunable}`).toContain(tunable);
      expect(def.labels['app.kubernetes.io/version']).toBe('3.0.0');
    }
    const cpuHog = objects.find((o) => o.metadata.name === 'pod-cpu-hog')?.spec as { definition: { env: { name: string; value: string }[]; labels: Record<string, string> } };
    expect(cpuHog.definition.env).toEqual(expect.arrayContaining([{ name: 'CPU_CORES', value: '1' }, { name: 'CPU_LOAD', value: '100' }, { name: 'PODS_AFFECTED_PERC', value: '' }, { name: 'LIB_IMAGE', value: GO_RUNNER_IMAGE }]));
    expect(cpuHog.definition.labels['app.kubernetes.io/runtime-api-usage']).toBe('true');
    const podDelete = objects.find((o) => o.metadata.name === 'pod-delete')?.spec as { definition: { env: { name: string }[]; labels: Record<string, string> } };
    expect(podDelete.definition.env.map((e) => e.name)).not.toContain('LIB_IMAGE');
    expect(podDelete.definition.labels['app.kubernetes.io/runtime-api-usage']).toBeUndefined();
  });

  it('rejects a namespace that is not a DNS label', () => {
    expect(() => installLitmusExperiments('HasteCRM')).toThrow('installLitmusExperiments: namespace "HasteCRM" is not a namespace name (DNS label: lowercase letters, digits, "-")');
  });

  describe('with applyManifests', () => {
    // FakeKubeApiServer (test double): a real HTTP server speaking the Kubernetes API slice the
    // kind target uses; no cluster can run here.
    let fake: FakeKubeApiServer;
    beforeEach(async () => {
      fake = await FakeKubeApiServer.start();
    });
    afterEach(async () => {
      await fake.stop();
    });

    it('applies as is once the Litmus CRDs are served: RBAC first, then the custom resources', async () => {
      fake.seed({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'chaosexperiments.litmuschaos.io' }, spec: { group: 'litmuschaos.io', scope: 'Namespaced', names: { kind: 'ChaosExperiment', plural: 'chaosexperiments' }, versions: [{ name: 'v1alpha1', served: true, storage: true }] } });
      fake.setStatus('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'chaosexperiments.litmuschaos.io', undefined, { conditions: [{ type: 'Established', status: 'True' }] });
      const result = await applyManifests({ kubeConfig: fake.kubeConfig(), objects: installLitmusExperiments('hastecrm'), runId: 'run-1' });
      expect(result.applied.map((a) => a.ref.kind)).toEqual(['ServiceAccount', 'Role', 'RoleBinding', ...INSTALLED_EXPERIMENTS.map(() => 'ChaosExperiment')]);
      expect(fake.get('litmuschaos.io/v1alpha1', 'ChaosExperiment', 'pod-network-latency', 'hastecrm')).toBeDefined();
    });
  });
});
