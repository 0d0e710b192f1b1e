import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { importChaosEngine, renderChaosEngine, renderStopPatch, scheduleSequentially } from './chaos-engine.ts';
import { defineExperiment, parseLabelSelector } from './experiments.ts';
import { checkPolicyConflicts } from './policy.ts';

const seedYaml = readFileSync(new URL('./fixtures/hastecrm-chaos.yaml', import.meta.url), 'utf8');
const api = { app: 'hastecrm-api' };

describe('experiment definitions', () => {
  it('fills Litmus defaults and parses Litmus string values', () => {
    const hog = defineExperiment('pod-cpu-hog', api, { CPU_CORES: '2' });
    expect(hog.env).toMatchObject({ CPU_CORES: 2, CPU_LOAD: 100, TOTAL_CHAOS_DURATION: 60, RAMP_TIME: 0, PODS_AFFECTED_PERC: 0, SEQUENCE: 'parallel' });
    const del = defineExperiment('pod-delete', api, { FORCE: 'true' });
    expect(del.env).toMatchObject({ TOTAL_CHAOS_DURATION: 15, CHAOS_INTERVAL: 5, FORCE: true });
  });

  it('names the invalid field, the value and what is allowed', () => {
    expect(() => defineExperiment('pod-cpu-hog', api, { CPU_LOAD: '150' })).toThrow(/pod-cpu-hog\.env\.CPU_LOAD: got "150"; expected a percentage 0–100/);
    expect(() => defineExperiment('pod-network-latency', api, { NETWORK_LATENCY: '200ms' })).toThrow(/NETWORK_LATENCY: got "200ms"; expected a whole number of ms/);
    expect(() => defineExperiment('pod-cpu-hog', api, { CHAOS_INTERVAL: 5 })).toThrow(/pod-cpu-hog has no tunable CHAOS_INTERVAL/);
    expect(() => defineExperiment('pod-delete', api, { TOTAL_CHAOS_DURATION: 10, CHAOS_INTERVAL: 20 })).toThrow(/CHAOS_INTERVAL: got 20; at most TOTAL_CHAOS_DURATION \(10 s\)/);
    expect(() => defineExperiment('node-drain', api, {})).toThrow(/node-drain needs TARGET_NODE or NODE_LABEL/);
    expect(() => defineExperiment('pod-dns-chaos', api)).toThrow(/got "pod-dns-chaos"; expected one of pod-delete, container-kill/);
  });
});

describe('renderChaosEngine', () => {
  const experiments = [defineExperiment('pod-delete', api, { TOTAL_CHAOS_DURATION: 30, CHAOS_INTERVAL: 10 }), defineExperiment('pod-network-loss', api, { NETWORK_PACKET_LOSS_PERCENTAGE: 20 })];

  it('renders appinfo, engine fields and every tunable as a string', () => {
    const { object, yaml } = renderChaosEngine({ name: 'api-chaos', namespace: 'litmus', appns: 'hastecrm-production', applabel: 'app=hastecrm-api', appkind: 'deployment', experiments, jobCleanUpPolicy: 'delete' });
    expect(object.spec).toMatchObject({ appinfo: { appns: 'hastecrm-production', applabel: 'app=hastecrm-api', appkind: 'deployment' }, engineState: 'active', annotationCheck: 'false', chaosServiceAccount: 'litmus-admin', jobCleanUpPolicy: 'delete' });
    expect(object.spec.experiments[0]?.spec.components.env).toContainEqual({ name: 'CHAOS_INTERVAL', value: '10' });
    expect(object.spec.experiments[1]?.spec.components.env).toContainEqual({ name: 'NETWORK_PACKET_LOSS_PERCENTAGE', value: '20' });
    // Empty tunables (TARGET_CONTAINER …) are left out: Litmus treats them as unset anyway.
    expect(object.spec.experiments[0]?.spec.components.env.some((e) => e.name === 'TARGET_CONTAINER')).toBe(false);
    for (const e of object.spec.experiments.flatMap((x) => x.spec.components.env)) expect(typeof e.value).toBe('string');
    expect(parse(yaml)).toEqual(object);
  });

  it('refuses what Litmus cannot run, naming the field', () => {
    const pause = defineExperiment('pod-pause', api);
    expect(() => renderChaosEngine({ name: 'x', namespace: 'litmus', appns: 'a', applabel: api, appkind: 'deployment', experiments: [pause] })).toThrow(/experiments\.0\.experiment: got "pod-pause"; pod-pause has no Litmus ChaosExperiment/);
    const web = defineExperiment('pod-delete', { app: 'hastecrm-web' });
    expect(() => renderChaosEngine({ name: 'Bad_Name', namespace: 'litmus', appns: 'a', applabel: api, appkind: 'deployment', experiments: [web] })).toThrow(/name: got "Bad_Name"[\s\S]*experiments\.0\.target: got "app=hastecrm-web"/);
  });

  it('takes equality label selectors only', () => {
    expect(parseLabelSelector('app=hastecrm-api, expected=x')).toEqual({ ok: true, labels: { app: 'hastecrm-api', expected: 'x' } });
    expect(() => renderChaosEngine({ name: 'x', namespace: 'litmus', appns: 'a', applabel: 'app in (a,b)', appkind: 'deployment', experiments })).toThrow(/applabel: got "app in \(a,b\)"; expected key=value pairs/);
  });

  it('renders the stop patch for an abort', () => {
    expect(renderStopPatch('api-chaos')).toEqual({ name: 'api-chaos', patchType: 'application/merge-patch+json', body: { spec: { engineState: 'stop' } } });
  });
});

describe("the seed's hastecrm-chaos", () => {
  it('imports as written', () => {
    const engine = importChaosEngine(seedYaml);
    expect(engine).toMatchObject({ name: 'hastecrm-chaos', namespace: 'hastecrm-production', appns: 'hastecrm-production', applabel: api, appkind: 'deployment', chaosServiceAccount: 'litmus-admin', engineState: 'active' });
    expect(engine.experiments.map((e) => e.experiment)).toEqual(['pod-cpu-hog', 'pod-network-latency']);
    expect(engine.experiments[0]?.env).toMatchObject({ CPU_CORES: 1, CPU_LOAD: 50, TOTAL_CHAOS_DURATION: 60 });
    expect(engine.experiments[1]?.env).toMatchObject({ NETWORK_LATENCY: 200, NETWORK_INTERFACE: 'eth0', TOTAL_CHAOS_DURATION: 60, JITTER: 0 });
  });

  it('maps to a sequential schedule, as the chaos-operator runs an engine', () => {
    const schedule = scheduleSequentially(importChaosEngine(seedYaml).experiments, { startAfterMs: 30_000 });
    expect(schedule.map(({ name, startAfterMs, faultStartMs, durationMs, endMs }) => ({ name, startAfterMs, faultStartMs, durationMs, endMs }))).toEqual([
      { name: 'pod-cpu-hog', startAfterMs: 30_000, faultStartMs: 30_000, durationMs: 60_000, endMs: 90_000 },
      { name: 'pod-network-latency', startAfterMs: 90_000, faultStartMs: 90_000, durationMs: 60_000, endMs: 150_000 },
    ]);
    const ramped = scheduleSequentially([defineExperiment('pod-delete', api, { RAMP_TIME: 5 }), defineExperiment('pod-delete', api)], { gapMs: 10_000 });
    expect(ramped.map((s) => [s.name, s.startAfterMs, s.faultStartMs, s.endMs])).toEqual([
      ['pod-delete', 0, 5_000, 25_000],
      ['pod-delete-2', 35_000, 35_000, 50_000],
    ]);
  });

  it('round-trips through renderChaosEngine', () => {
    const engine = importChaosEngine(seedYaml);
    const { yaml } = renderChaosEngine({ ...engine, experiments: engine.experiments });
    expect(importChaosEngine(yaml).experiments).toEqual(engine.experiments);
  });

  it('reports unknown experiments and env with their YAML path', () => {
    const bad = seedYaml.replace('name: pod-cpu-hog', 'name: pod-cpu-hogg').replace('name: NETWORK_LATENCY', 'name: NETWORK_DELAY');
    expect(() => importChaosEngine(bad, 'litmus-chaos.yaml')).toThrow(/litmus-chaos\.yaml[\s\S]*spec\.experiments\.0\.name: got "pod-cpu-hogg"; expected one of[\s\S]*spec\.experiments\.1\.spec\.components\.env\.1 \(NETWORK_DELAY\): got "200"; pod-network-latency has no tunable NETWORK_DELAY/);
    expect(() => importChaosEngine(seedYaml.replace("value: '50'", "value: 'half'"))).toThrow(/spec\.experiments\.0\.spec\.components\.env\.2 \(CPU_LOAD\): got "half"; expected a percentage/);
    expect(() => importChaosEngine('kind: ConfigMap\n')).toThrow(/expected exactly one ChaosEngine/);
  });
});

describe('checkPolicyConflicts', () => {
  const seed = importChaosEngine(seedYaml);
  const namespaceLabels = {
    'hastecrm-production': { 'pod-security.kubernetes.io/enforce': 'restricted' },
    litmus: { 'pod-security.kubernetes.io/enforce': 'privileged' },
  };
  const nonRoot = { name: 'gatekeeper K8sPSPAllowedUsers/must-run-as-nonroot', requires: ['runAsNonRoot' as const], excludedNamespaces: ['litmus', 'kube-system'] };

  it("rejects the seed's engine in its restricted namespace, with the fix", () => {
    const findings = checkPolicyConflicts({ experiments: seed.experiments, chaosNamespace: 'hastecrm-production', appNamespace: 'hastecrm-production', namespaceLabels, admissionPolicies: [nonRoot] });
    const errors = findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => [f.experiment, f.rule])).toEqual([
      ['pod-cpu-hog', 'pod-security enforce=restricted'],
      ['pod-cpu-hog', nonRoot.name],
      ['pod-network-latency', 'pod-security enforce=restricted'],
      ['pod-network-latency', nonRoot.name],
    ]);
    expect(errors[2]?.message).toMatch(/hostPID, capabilities NET_ADMIN\+SYS_ADMIN.*restricted Pod Security Standard/);
    expect(errors[0]?.fix).toMatch(/chaos namespace .*"litmus".*appinfo\.appns: hastecrm-production/);
  });

  it('passes the same experiments from a permissive chaos namespace targeting the app namespace', () => {
    const findings = checkPolicyConflicts({ experiments: seed.experiments, chaosNamespace: 'litmus', appNamespace: 'hastecrm-production', namespaceLabels, admissionPolicies: [nonRoot] });
    expect(findings).toEqual([]);
  });

  it('lets pod-delete and pod-network-partition through baseline; container-kill is refused for its hostPath socket', () => {
    const labels = { app: { 'pod-security.kubernetes.io/enforce': 'baseline' } };
    const experiments = [defineExperiment('pod-delete', api), defineExperiment('pod-network-partition', api), defineExperiment('container-kill', api)];
    const findings = checkPolicyConflicts({ experiments, chaosNamespace: 'app', appNamespace: 'app', namespaceLabels: labels });
    expect(findings.map((f) => [f.severity, f.experiment])).toEqual([['error', 'container-kill']]);
    expect(findings[0]?.message).toMatch(/hostPath volume for the container runtime socket/);
  });

  it('warns that even helper-less experiments need a compliant securityContext under restricted', () => {
    const findings = checkPolicyConflicts({ experiments: [defineExperiment('pod-delete', api)], chaosNamespace: 'hastecrm-production', appNamespace: 'hastecrm-production', namespaceLabels });
    expect(findings.map((f) => [f.severity, f.experiment])).toEqual([['warning', 'pod-delete']]);
  });
});
