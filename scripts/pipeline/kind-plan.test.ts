import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatPlan } from '../cli/plan-printer.ts';
import { ConfigError } from '../config/errors.ts';
import { loadConfig } from '../config/load.ts';
import { resolveConfig } from '../config/resolve.ts';
import { apiSlos } from '../../slo/api.ts';
import { kindChaosObjects, plannedNamespaceLabels } from './kind-chaos.ts';
import { buildPlan } from './plan.ts';

// No cluster: the plan of a kind suite is computed from the config and the manifests alone.
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/kind/', import.meta.url));

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
