import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { appliedObjects, orderForApply, stageOf, type ApplyAction } from './apply-order.ts';
import { asKubeObject, describeObject, type KubeObject } from './objects.ts';

const obj = (apiVersion: string, kind: string, name: string, namespace?: string): KubeObject => ({ apiVersion, kind, metadata: namespace ? { name, namespace } : { name } });

/** The repo's own manifests (real files), so the order is checked on what will really be applied. */
function repoManifests(): KubeObject[] {
  const files = ['canary.yaml', 'rollout.yaml', 'analysis-template-success-rate.yaml'].map((f) => new URL(`../../manifests/base/hastecrm-api/${f}`, import.meta.url));
  return files.flatMap((file) => parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc, i) => {
      const js: unknown = doc.toJS();
      return js === null ? [] : [asKubeObject(js, `${file.pathname}#${i}`)];
    }));
}

const label = (a: ApplyAction): string => (a.type === 'apply' ? `apply ${describeObject(a.object)}` : `wait ${a.condition} ${a.target.kind} ${a.target.namespace ? `${a.target.namespace}/` : ''}${a.target.name}`);

// Deliberately shuffled: the worst order a user's folder could give.
const shuffled: KubeObject[] = [
  obj('policy/v1', 'PodDisruptionBudget', 'hastecrm-api-pdb', 'hastecrm'),
  obj('flagger.app/v1beta1', 'Canary', 'hastecrm-api', 'hastecrm'),
  obj('constraints.gatekeeper.sh/v1beta1', 'K8sRequiredSecurityContext', 'must-run-as-non-root'),
  obj('templates.gatekeeper.sh/v1', 'ConstraintTemplate', 'k8srequiredsecuritycontext'),
  obj('apps/v1', 'Deployment', 'hastecrm-api', 'hastecrm'),
  obj('apps/v1', 'StatefulSet', 'postgres', 'hastecrm'),
  obj('batch/v1', 'CronJob', 'dr-test', 'velero'),
  obj('v1', 'Service', 'hastecrm-api', 'hastecrm'),
  obj('rbac.authorization.k8s.io/v1', 'RoleBinding', 'litmus-admin', 'hastecrm'),
  obj('v1', 'ServiceAccount', 'litmus-admin', 'hastecrm'),
  obj('v1', 'ResourceQuota', 'quota', 'hastecrm'),
  obj('v1', 'ConfigMap', 'api-config', 'hastecrm'),
  obj('v1', 'LimitRange', 'limits', 'hastecrm'),
  obj('autoscaling/v2', 'HorizontalPodAutoscaler', 'hastecrm-api', 'hastecrm'),
  obj('v1', 'Namespace', 'hastecrm'),
  obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'canaries.flagger.app'),
  obj('litmuschaos.io/v1alpha1', 'ChaosEngine', 'hastecrm-chaos', 'hastecrm'),
  obj('networking.k8s.io/v1', 'Ingress', 'hastecrm', 'hastecrm'),
  obj('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', 'gatekeeper-validating'),
];

describe('orderForApply', () => {
  const plan = orderForApply(shuffled).map(label);

  it('applies CRDs first and waits for them to be Established before anything else', () => {
    expect(plan.slice(0, 3)).toEqual([
      'apply CustomResourceDefinition canaries.flagger.app',
      'wait established CustomResourceDefinition canaries.flagger.app',
      'apply Namespace hastecrm',
    ]);
  });

  it('orders namespaces, RBAC (accounts before bindings), config (LimitRange/quota before workloads), services, workloads', () => {
    const applies = plan.filter((l) => l.startsWith('apply ')).map((l) => l.slice('apply '.length));
    expect(applies.slice(0, 13)).toEqual([
      'CustomResourceDefinition canaries.flagger.app',
      'Namespace hastecrm',
      'ServiceAccount hastecrm/litmus-admin',
      'RoleBinding hastecrm/litmus-admin',
      'LimitRange hastecrm/limits',
      'ResourceQuota hastecrm/quota',
      'ConfigMap hastecrm/api-config',
      'Service hastecrm/hastecrm-api',
      'Ingress hastecrm/hastecrm',
      'Deployment hastecrm/hastecrm-api',
      'StatefulSet hastecrm/postgres',
      'CronJob velero/dr-test',
      'ValidatingWebhookConfiguration gatekeeper-validating',
    ]);
    // Custom resources keep the input order among themselves.
    expect(applies.slice(13, 16)).toEqual(['Canary hastecrm/hastecrm-api', 'ConstraintTemplate k8srequiredsecuritycontext', 'ChaosEngine hastecrm/hastecrm-chaos']);
  });

  it('waits for Deployments and StatefulSets (not CronJobs) before custom resources act on them', () => {
    const waitApi = plan.indexOf('wait ready Deployment hastecrm/hastecrm-api');
    const waitPg = plan.indexOf('wait ready StatefulSet hastecrm/postgres');
    expect(waitApi, plan.join('\n')).toBeGreaterThan(plan.indexOf('apply CronJob velero/dr-test'));
    expect(waitPg).toBeGreaterThan(waitApi);
    expect(plan.indexOf('apply Canary hastecrm/hastecrm-api')).toBeGreaterThan(waitPg);
    expect(plan.indexOf('apply ChaosEngine hastecrm/hastecrm-chaos')).toBeGreaterThan(waitPg);
    expect(plan.some((l) => l.includes('wait ready CronJob'))).toBe(false);
  });

  it('applies a Gatekeeper constraint only after its template, waiting for the CRD Gatekeeper generates', () => {
    const template = plan.indexOf('apply ConstraintTemplate k8srequiredsecuritycontext');
    const wait = plan.indexOf('wait established CustomResourceDefinition k8srequiredsecuritycontext.constraints.gatekeeper.sh');
    const constraint = plan.indexOf('apply K8sRequiredSecurityContext must-run-as-non-root');
    expect(template).toBeGreaterThan(-1);
    expect(wait).toBeGreaterThan(template);
    expect(constraint).toBe(wait + 1);
  });

  it('applies HPAs and PDBs last', () => {
    expect(plan.slice(-2).sort()).toEqual(['apply HorizontalPodAutoscaler hastecrm/hastecrm-api', 'apply PodDisruptionBudget hastecrm/hastecrm-api-pdb']);
  });

  it('applies every object exactly once and is deterministic', () => {
    const applied = appliedObjects(orderForApply(shuffled));
    expect(applied).toHaveLength(shuffled.length);
    expect(new Set(applied)).toEqual(new Set(shuffled));
    expect(orderForApply([...shuffled]).map(label)).toEqual(plan);
  });

  it('can skip the workload waits', () => {
    expect(orderForApply(shuffled, { waitForWorkloads: false }).some((a) => a.type === 'wait' && a.condition === 'ready')).toBe(false);
  });

  it('rejects two documents naming the same object', () => {
    expect(() => orderForApply([obj('v1', 'ConfigMap', 'x', 'a'), obj('v1', 'ConfigMap', 'x', 'a')])).toThrow(/ConfigMap a\/x appears twice/);
    expect(() => orderForApply([obj('v1', 'ConfigMap', 'x', 'a'), obj('v1', 'ConfigMap', 'x', 'b')])).not.toThrow();
  });

  it("classifies the repo's own Canary, Rollout and AnalysisTemplate as custom resources, their Services as services", () => {
    const manifests = repoManifests();
    const kinds = new Set(manifests.map((m) => m.kind));
    for (const kind of ['AnalysisTemplate', 'Canary', 'Rollout']) expect(kinds.has(kind), `${kind} in cluster/manifests/base/hastecrm-api`).toBe(true);
    for (const m of manifests) expect(stageOf(m), describeObject(m)).toBe(m.kind === 'Service' ? 'services' : 'custom-resources');
  });
});
