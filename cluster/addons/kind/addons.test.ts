import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { orderForApply } from '../../targets/kind/apply-order.ts';
import { PROMETHEUS_NODE_PORT } from '../../targets/kind/kind-config.ts';
import type { KubeObject } from '../../targets/kind/objects.ts';
import { ADDONS, addonServing, selectAddons } from './addons.ts';
import { renderLitmusAdminRbac } from './litmus-rbac.ts';
import { ALERT_RULES_FILE, renderPrometheusAddon } from './prometheus.ts';

const tmp = mkdtempSync(join(tmpdir(), 'addons-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Validates against Kubernetes' own schemas (kubernetes-models), one model per kind. */
function validate(object: KubeObject): void {
  const models: Record<string, new (o: never) => { validate(): void }> = { Namespace, ServiceAccount, ConfigMap, Service, Deployment, ClusterRole, ClusterRoleBinding, Role, RoleBinding };
  const Model = models[object.kind];
  if (!Model) throw new Error(`no model for ${object.kind}`);
  new Model(object as never).validate();
}

const find = (objects: KubeObject[], kind: string, name: string): KubeObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind} ${name} not rendered`);
  return found;
};

describe('prometheus addon', () => {
  const objects = renderPrometheusAddon({ appNamespaces: ['hastecrm'] });

  it('renders objects valid against the Kubernetes schemas, applicable in one pass', () => {
    for (const o of objects) expect(() => validate(o), `${o.kind} ${o.metadata.name}`).not.toThrow();
    expect(() => orderForApply(objects)).not.toThrow();
  });

  it("loads the seed's alert rules, unchanged, as the prometheus-alerts ConfigMap mounted as the rules folder", () => {
    const alerts = find(objects, 'ConfigMap', 'prometheus-alerts') as KubeObject & { data: Record<string, string> };
    expect(alerts.data['hastecrm-alerts.yaml']).toBe(readFileSync(ALERT_RULES_FILE, 'utf8'));
    const deployment = find(objects, 'Deployment', 'prometheus') as unknown as { spec: { template: { spec: { containers: { volumeMounts: { name: string; mountPath: string }[] }[]; volumes: { name: string; configMap?: { name: string } }[] } } } };
    const pod = deployment.spec.template.spec;
    expect(pod.volumes.find((v) => v.name === 'rules')?.configMap?.name).toBe('prometheus-alerts');
    expect(pod.containers[0]?.volumeMounts.find((m) => m.name === 'rules')?.mountPath).toBe('/etc/prometheus/rules');
  });

  it('passes promtool check config with the rules beside it, and scrapes the API under job hastecrm-api', async () => {
    const config = (find(objects, 'ConfigMap', 'prometheus-config') as KubeObject & { data: Record<string, string> }).data['prometheus.yml'] ?? '';
    const dir = join(tmp, 'prometheus');
    mkdirSync(join(dir, 'rules'), { recursive: true });
    // Debian builds Prometheus without Kubernetes service discovery, so its promtool rejects
    // `kubernetes_sd_configs` as an unknown field. Everything else (relabelling, TLS,
    // authorization, rule files) is checked by swapping the discovery for a static target.
    // The pod's service-account files exist only in the pod: point them at stand-ins.
    const saDir = join(dir, 'serviceaccount');
    mkdirSync(saDir, { recursive: true });
    writeFileSync(join(saDir, 'token'), 'token');
    writeFileSync(join(saDir, 'ca.crt'), '');
    const local = config.replaceAll('/var/run/secrets/kubernetes.io/serviceaccount', saDir);
    const scrapeConfigs = (parse(local) as { scrape_configs: Record<string, unknown>[] }).scrape_configs;
    expect(scrapeConfigs.every((job) => Array.isArray(job.kubernetes_sd_configs))).toBe(true);
    const checkable = { ...(parse(local) as object), scrape_configs: scrapeConfigs.map(({ kubernetes_sd_configs: _sd, ...job }) => ({ ...job, static_configs: [{ targets: ['127.0.0.1:4000'] }] })) };
    writeFileSync(join(dir, 'prometheus.yml'), stringify(checkable));
    writeFileSync(join(dir, 'rules', 'hastecrm-alerts.yaml'), readFileSync(ALERT_RULES_FILE, 'utf8'));
    const result = await execa('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { reject: false, all: true, timeout: 30_000 });
    expect(result.exitCode, result.all).toBe(0);
    expect(result.all).toContain('SUCCESS: 4 rules found');
    const jobs = (parse(config) as { scrape_configs: { job_name: string }[] }).scrape_configs.map((j) => j.job_name);
    expect(jobs).toEqual(['hastecrm-api', 'kubernetes-pods', 'kubernetes-cadvisor', 'kubelet']);
  });

  it('is reachable through the NodePort the kind config maps, and runs under the restricted Pod Security Standard', () => {
    const service = find(objects, 'Service', 'prometheus') as unknown as { spec: { type: string; ports: { nodePort: number }[] } };
    expect(service.spec.type).toBe('NodePort');
    expect(service.spec.ports[0]?.nodePort).toBe(PROMETHEUS_NODE_PORT);
    const pod = (find(objects, 'Deployment', 'prometheus') as unknown as { spec: { template: { spec: { securityContext: Record<string, unknown>; containers: { securityContext: Record<string, unknown> }[] } } } }).spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0]?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(find(objects, 'Namespace', 'monitoring').metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });
});

describe('litmus-admin RBAC', () => {
  it("creates the seed's chaosServiceAccount in the ChaosEngine's namespace, bound to a Role there", () => {
    const objects = renderLitmusAdminRbac('hastecrm-production');
    for (const o of objects) expect(() => validate(o), `${o.kind} ${o.metadata.name}`).not.toThrow();
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)).toEqual(['ServiceAccount hastecrm-production/litmus-admin', 'Role hastecrm-production/litmus-admin', 'RoleBinding hastecrm-production/litmus-admin']);
    const role = objects[1] as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    expect(role.rules.find((r) => r.resources.includes('pods'))?.verbs).toContain('delete');
  });
});

describe('addon catalogue', () => {
  it('installs ingress, Prometheus, metrics-server, Litmus and k6-operator by default; Flagger, Argo Rollouts, Gatekeeper and Istio on request', () => {
    expect(selectAddons().map((a) => a.name)).toEqual(['ingress-nginx', 'prometheus', 'metrics-server', 'litmus', 'k6-operator']);
    expect(selectAddons(['flagger', 'istio']).map((a) => a.name)).toEqual(['ingress-nginx', 'prometheus', 'metrics-server', 'litmus', 'k6-operator', 'istio', 'flagger']);
    expect(() => selectAddons(['linkerd'])).toThrow(/unknown optional addon\(s\): linkerd; optional addons are istio, flagger, argo-rollouts, gatekeeper/);
  });

  it('pins every download to a version (no latest, main or master)', () => {
    for (const addon of ADDONS) {
      const refs = addon.source.type === 'manifests' ? addon.source.urls : addon.source.type === 'helm' ? [`${addon.source.chart}@${addon.source.version}`] : [];
      for (const ref of refs) {
        expect(ref, addon.name).not.toMatch(/\/(latest|main|master)\//);
        expect(ref, addon.name).toContain(addon.version.replace(/^controller-/, ''));
      }
      expect(addon.readiness.length, `${addon.name} says what to wait for`).toBeGreaterThan(0);
    }
  });

  it("says which addon serves each of the seed's custom resources", () => {
    const cases: [string, string, string | undefined][] = [
      ['flagger.app/v1beta1', 'Canary', 'flagger'],
      ['argoproj.io/v1alpha1', 'Rollout', 'argo-rollouts'],
      ['litmuschaos.io/v1alpha1', 'ChaosEngine', 'litmus'],
      ['networking.istio.io/v1beta1', 'VirtualService', 'istio'],
      ['templates.gatekeeper.sh/v1', 'ConstraintTemplate', 'gatekeeper'],
      ['constraints.gatekeeper.sh/v1beta1', 'K8sRequiredSecurityContext', 'gatekeeper'],
      ['k6.io/v1alpha1', 'TestRun', 'k6-operator'],
      ['apps/v1', 'Deployment', undefined],
      ['karpenter.sh/v1alpha5', 'Provisioner', undefined],
    ];
    for (const [apiVersion, kind, addon] of cases) expect(addonServing(apiVersion, kind)?.name, `${apiVersion} ${kind}`).toBe(addon);
  });
});
