import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as k8sModels from 'kubernetes-models';
import * as argoCdModels from '@kubernetes-models/argo-cd';
import * as argoRolloutsModels from '@kubernetes-models/argo-rollouts';
import * as istioModels from '@kubernetes-models/istio';
import * as karpenterModels from '@kubernetes-models/karpenter';
import * as prometheusOperatorModels from '@kubernetes-models/prometheus-operator';
import { buildKustomization, ENCRYPTION_KEY_PLACEHOLDER, manifestPaths, parseManifests, type KubeObject } from './build.ts';
import { crdAddon, groupKind, supportMatrix } from './support-matrix.ts';

// Everything here is real: the YAML files, `kubectl kustomize` (offline) and kubernetes-models'
// JSON schemas. Nothing talks to a cluster.

const manifestsDir = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = path.resolve(manifestsDir, '../..');

// ---------------------------------------------------------------------------------------------
// Schema validation with kubernetes-models: every model class, found by its static apiVersion and
// kind, for the built-in API and the CRD packages that are installed.

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: unknown): { validate(): void };
}

function isModelClass(value: unknown): value is ModelClass {
  if (typeof value !== 'function') return false;
  const candidate = value as unknown as Record<string, unknown>;
  return typeof candidate.apiVersion === 'string' && typeof candidate.kind === 'string';
}

function collectModels(module: unknown, into: Map<string, ModelClass>, depth = 0): void {
  if (depth > 3 || typeof module !== 'object' || module === null) return;
  for (const value of Object.values(module)) {
    if (isModelClass(value)) into.set(`${value.apiVersion}/${value.kind}`, value);
    else collectModels(value, into, depth + 1);
  }
}

const builtInModels = new Map<string, ModelClass>();
collectModels(k8sModels, builtInModels);
const models = new Map<string, ModelClass>(builtInModels);
for (const module of [argoCdModels, argoRolloutsModels, istioModels, karpenterModels, prometheusOperatorModels]) collectModels(module, models);

/** The schema errors of an object, or [] when it is valid; undefined when no model knows its kind. */
function schemaErrors(object: KubeObject): string[] | undefined {
  const Model = models.get(`${object.apiVersion}/${object.kind}`);
  if (!Model) return undefined;
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${object.kind}/${object.metadata.name}: ${error instanceof Error ? error.message : String(error)}`];
  }
}

// ---------------------------------------------------------------------------------------------
// Pod specs and the `restricted` Pod Security Standard (the fields this set relies on).

interface Container {
  name: string;
  image?: string;
  args?: string[];
  ports?: { hostPort?: number }[];
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
    seccompProfile?: { type?: string };
  };
}

interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type?: string } };
  containers?: Container[];
  initContainers?: Container[];
  volumes?: { name: string; hostPath?: unknown }[];
  restartPolicy?: string;
  serviceAccountName?: string;
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec?: PodSpec;
}

const workloadKinds = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Rollout']);

function podTemplate(object: KubeObject): PodTemplate | undefined {
  const spec = object.spec as { template?: PodTemplate; jobTemplate?: { spec?: { template?: PodTemplate } } } | undefined;
  if (object.kind === 'CronJob') return spec?.jobTemplate?.spec?.template;
  return workloadKinds.has(object.kind) ? spec?.template : undefined;
}

/** What the `restricted` Pod Security Standard refuses in a pod spec, one line per problem. */
function restrictedViolations(pod: PodSpec): string[] {
  const problems: string[] = [];
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push('host namespaces');
  for (const volume of pod.volumes ?? []) if (volume.hostPath !== undefined) problems.push(`hostPath volume ${volume.name}`);
  for (const container of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    const sc = container.securityContext ?? {};
    const where = `container ${container.name}`;
    if (sc.privileged) problems.push(`${where}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: capabilities must drop ALL`);
    for (const added of sc.capabilities?.add ?? []) if (added !== 'NET_BIND_SERVICE') problems.push(`${where}: adds capability ${added}`);
    const runAsNonRoot = sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
    if (runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot must be true (pod or container)`);
    if ((sc.runAsUser ?? pod.securityContext?.runAsUser) === 0) problems.push(`${where}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${where}: seccompProfile must be RuntimeDefault or Localhost`);
    for (const port of container.ports ?? []) if (port.hostPort) problems.push(`${where}: hostPort ${port.hostPort}`);
  }
  return problems;
}

function namespacesEnforcing(objects: KubeObject[], level: string): Set<string> {
  return new Set(objects.filter((o) => o.kind === 'Namespace' && o.metadata.labels?.['pod-security.kubernetes.io/enforce'] === level).map((o) => o.metadata.name));
}

function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/** Each PDB with the workloads it selects, their replica counts and HPA minimums. */
function pdbProblems(objects: KubeObject[]): string[] {
  const problems: string[] = [];
  for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
    const spec = pdb.spec as { minAvailable?: number | string; selector?: { matchLabels?: Record<string, string> } };
    const selector = spec.selector?.matchLabels ?? {};
    const targets = objects.filter((o) => o.metadata.namespace === pdb.metadata.namespace && selects(selector, podTemplate(o)?.metadata?.labels));
    if (targets.length === 0) problems.push(`${pdb.metadata.name}: selects no workload`);
    if (typeof spec.minAvailable !== 'number') {
      problems.push(`${pdb.metadata.name}: minAvailable should be a number (got ${String(spec.minAvailable)})`);
      continue;
    }
    for (const target of targets) {
      const replicas = (target.spec as { replicas?: number }).replicas ?? 1;
      if (spec.minAvailable >= replicas) problems.push(`${pdb.metadata.name}: minAvailable ${spec.minAvailable} blocks every eviction of ${target.kind}/${target.metadata.name} (${replicas} replicas)`);
      const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.namespace === target.metadata.namespace && (o.spec as { scaleTargetRef?: { kind?: string; name?: string } }).scaleTargetRef?.name === target.metadata.name);
      const minReplicas = (hpa?.spec as { minReplicas?: number } | undefined)?.minReplicas;
      if (minReplicas !== undefined && spec.minAvailable >= minReplicas) problems.push(`${pdb.metadata.name}: minAvailable ${spec.minAvailable} blocks every eviction when ${hpa?.metadata.name} scales to ${minReplicas}`);
    }
  }
  return problems;
}

function find(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`expected ${kind}/${name} in the build`);
  return found;
}

function readYamlDocuments(relativePath: string): unknown[] {
  const text = readFileSync(path.join(manifestsDir, relativePath), 'utf8');
  return text.split(/^---$/m).map((doc) => parse(doc) as unknown).filter((doc) => doc !== null && doc !== undefined);
}

// ---------------------------------------------------------------------------------------------

let base: KubeObject[] = [];
let kind: KubeObject[] = [];
let argoVariant: KubeObject[] = [];
let scratch = '';

beforeAll(async () => {
  // The Argo Rollouts variant is a component used from an overlay; build it the way a user would.
  // kustomize refuses absolute paths in `resources`, hence the relative ones.
  scratch = mkdtempSync(path.join(tmpdir(), 'hastecrm-manifests-'));
  const relative = (to: string): string => path.relative(scratch, to);
  writeFileSync(path.join(scratch, 'kustomization.yaml'), `resources: [${relative(manifestPaths.base)}]\ncomponents: [${relative(manifestPaths.argoRolloutsComponent)}]\n`);
  [base, kind, argoVariant] = await Promise.all([buildKustomization(manifestPaths.base), buildKustomization(manifestPaths.kindOverlay), buildKustomization(scratch)]);
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('kubectl kustomize builds', () => {
  it('builds the base, the kind overlay and the Argo Rollouts variant into named objects', () => {
    // parseManifests (inside buildKustomization) throws on any document without apiVersion, kind
    // or metadata.name, so reaching this point means every document has them.
    expect(base.length).toBeGreaterThan(50);
    expect(kind.length).toBeGreaterThan(40);
    expect(argoVariant.length).toBeGreaterThan(50);
  });

  it('rejects a document without metadata.name (the check the builds rely on)', () => {
    expect(() => parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n', 'inline')).toThrow(/document 0: ConfigMap: metadata.name missing/);
  });

  it('holds no object twice', () => {
    for (const [name, objects] of [['base', base], ['kind', kind], ['argo', argoVariant]] as const) {
      const ids = objects.map((o) => `${groupKind(o)} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      expect(ids.filter((id, i) => ids.indexOf(id) !== i), `duplicate objects in ${name}`).toEqual([]);
    }
  });
});

describe('schemas (kubernetes-models)', () => {
  it('every built-in object, and every custom object with an installed model, passes validate()', () => {
    const errors = [...base, ...kind, ...argoVariant].flatMap((o) => schemaErrors(o) ?? []);
    expect(errors).toEqual([]);
  });

  it('knows every kind: built into Kubernetes, or a custom resource whose addon is known', () => {
    const unknown = [...base, ...argoVariant].filter((o) => !builtInModels.has(`${o.apiVersion}/${o.kind}`) && crdAddon[groupKind(o)] === undefined);
    expect(unknown.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([]);
    const used = new Set([...base, ...argoVariant].map(groupKind));
    expect(Object.keys(crdAddon).filter((key) => !used.has(key)), 'crdAddon entries for kinds the set does not use').toEqual([]);
  });

  it('catches a schema error (so the check above can fail)', () => {
    const broken = structuredClone(find(base, 'Deployment', 'hastecrm-api')) as KubeObject & { spec: { template: { spec: { containers: { ports: unknown[] }[] } } } };
    broken.spec.template.spec.containers[0]!.ports = [{ containerPort: 'four thousand' }];
    expect(schemaErrors(broken)?.join('\n')).toMatch(/containerPort/);
  });
});

describe('the kind overlay', () => {
  const cloudOnlyKinds = supportMatrix.filter((e) => e.support.on === 'validated-only').flatMap((e) => e.kinds);

  it('leaves out the cloud-only and multi-cluster kinds the base has', () => {
    expect(cloudOnlyKinds.sort()).toEqual(['ApplicationSet', 'BackupStorageLocation', 'EC2NodeClass', 'FederatedDeployment', 'NodePool', 'Schedule']);
    for (const k of cloudOnlyKinds) {
      expect(base.some((o) => o.kind === k), `base should hold a ${k}`).toBe(true);
      expect(kind.some((o) => o.kind === k), `the kind overlay should leave out ${k}`).toBe(false);
    }
  });

  it('keeps every object of the files applied on kind or through an addon', () => {
    const expected = supportMatrix.filter((e) => (e.support.on === 'kind' || e.support.on === 'addon') && !e.alternativeTo);
    for (const entry of expected) {
      const objects = parseManifests(readFileSync(path.join(manifestsDir, entry.path), 'utf8'), entry.path);
      for (const object of objects) expect(kind.some((o) => o.kind === object.kind && o.metadata.name === object.metadata.name), `${entry.path}: ${object.kind}/${object.metadata.name} on kind`).toBe(true);
    }
  });

  it('runs fewer API replicas with smaller resources and overridable images', () => {
    const api = (objects: KubeObject[]): { replicas: number; image: string; memory: string } => {
      const spec = find(objects, 'Deployment', 'hastecrm-api').spec as { replicas: number; template: { spec: { containers: { image: string; resources: { limits: { memory: string } } }[] } } };
      const container = spec.template.spec.containers[0]!;
      return { replicas: spec.replicas, image: container.image, memory: container.resources.limits.memory };
    };
    expect(api(base)).toEqual({ replicas: 5, image: 'hastecrm/api:1.0.0', memory: '512Mi' });
    expect(api(kind)).toEqual({ replicas: 3, image: 'hastecrm/api:dev', memory: '256Mi' });
  });

  it('suspends the DR test and drops TLS from the ingress', () => {
    expect((find(kind, 'CronJob', 'dr-test').spec as { suspend?: boolean }).suspend).toBe(true);
    expect((find(kind, 'Ingress', 'hastecrm').spec as { tls?: unknown }).tls).toBeUndefined();
    expect((find(base, 'Ingress', 'hastecrm').spec as { tls?: unknown }).tls).toBeDefined();
  });
});

describe('Pod Security Standard `restricted`', () => {
  it('every workload in a namespace enforcing restricted meets it (base, kind, Argo variant)', () => {
    for (const [name, objects] of [['base', base], ['kind', kind], ['argo', argoVariant]] as const) {
      const restricted = namespacesEnforcing(objects, 'restricted');
      expect([...restricted].sort(), `${name}: namespaces enforcing restricted`).toEqual(['hastecrm-data', 'hastecrm-production']);
      const workloads = objects.filter((o) => podTemplate(o) && restricted.has(o.metadata.namespace ?? ''));
      expect(workloads.length, `${name}: workloads in restricted namespaces`).toBeGreaterThanOrEqual(6);
      const problems = workloads.flatMap((o) => restrictedViolations(podTemplate(o)?.spec ?? {}).map((p) => `${name} ${o.kind}/${o.metadata.name}: ${p}`));
      expect(problems).toEqual([]);
    }
  });

  it('hasteCRM’s own containers in hastecrm-production have a read-only root filesystem', () => {
    const deployments = kind.filter((o) => o.kind === 'Deployment' && o.metadata.namespace === 'hastecrm-production');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['hastecrm-api', 'hastecrm-web', 'hastecrm-workers']);
    for (const deployment of deployments) {
      for (const container of podTemplate(deployment)?.spec?.containers ?? []) expect(container.securityContext?.readOnlyRootFilesystem, `${deployment.metadata.name}/${container.name}`).toBe(true);
    }
  });

  it('the DR test job meets restricted too, has a restart policy and its own service account', () => {
    const pod = podTemplate(find(base, 'CronJob', 'dr-test'))?.spec ?? {};
    expect(restrictedViolations(pod)).toEqual([]);
    expect(['Never', 'OnFailure']).toContain(pod.restartPolicy);
    expect(pod.serviceAccountName).toBe('dr-test');
    expect(base.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'dr-test' && o.metadata.namespace === 'velero')).toBe(true);
  });

  it('flags the seed’s pod (no security context), so the check above can fail', () => {
    const seedPod: PodSpec = { containers: [{ name: 'api', image: 'hastecrm/api:latest' }] };
    expect(restrictedViolations(seedPod)).toEqual([
      'container api: allowPrivilegeEscalation must be false',
      'container api: capabilities must drop ALL',
      'container api: runAsNonRoot must be true (pod or container)',
      'container api: seccompProfile must be RuntimeDefault or Localhost',
    ]);
  });
});

describe('PodDisruptionBudgets', () => {
  it('select a workload and leave at least one pod evictable (replicas and HPA minimum above minAvailable)', () => {
    expect(pdbProblems(base)).toEqual([]);
    expect(pdbProblems(kind)).toEqual([]);
    expect(pdbProblems(argoVariant)).toEqual([]);
  });

  it('report a budget that blocks every eviction (so the check above can fail)', () => {
    const blocking = structuredClone(kind).map((o) => (o.kind === 'Deployment' && o.metadata.name === 'hastecrm-web' ? { ...o, spec: { ...(o.spec as object), replicas: 1 } } : o));
    expect(pdbProblems(blocking)).toContain('hastecrm-web-pdb: minAvailable 1 blocks every eviction of Deployment/hastecrm-web (1 replicas)');
  });
});

describe('the seed’s objects, corrected', () => {
  it('PrometheusRule holds exactly the rules of cluster/addons/prometheus/hastecrm-alerts.yaml', () => {
    const ruleFile = parse(readFileSync(path.join(repoRoot, 'cluster/addons/prometheus/hastecrm-alerts.yaml'), 'utf8')) as { groups: unknown };
    expect((find(base, 'PrometheusRule', 'hastecrm-alerts').spec as { groups: unknown }).groups).toEqual(ruleFile.groups);
  });

  it('VirtualService sets timeout and retries on HTTP routes, never under a destination', () => {
    const vs = find(base, 'VirtualService', 'hastecrm-routes').spec as { hosts: string[]; http: { name: string; timeout?: string; retries?: { attempts: number; perTryTimeout: string }; route: { destination: Record<string, unknown> }[] }[] };
    const api = vs.http.find((route) => route.name === 'api');
    expect(api?.timeout).toBe('30s');
    expect(api?.retries).toMatchObject({ attempts: 3, perTryTimeout: '10s' });
    for (const route of vs.http) for (const target of route.route) expect(Object.keys(target.destination).sort()).toEqual(['host', 'port']);
    // Flagger's Canary owns api.hastecrm.com.
    expect(vs.hosts).toEqual(['app.hastecrm.com']);
  });

  it('ApplicationSet uses Go templates throughout and names clusters by name', () => {
    const spec = find(base, 'ApplicationSet', 'hastecrm-environments').spec as { goTemplate?: boolean; template: unknown };
    expect(spec.goTemplate).toBe(true);
    const templates = JSON.stringify(spec.template).match(/\{\{[^}]*\}\}/g) ?? [];
    expect(templates.length).toBeGreaterThan(0);
    expect(templates.filter((t) => !/^\{\{\s*\./.test(t))).toEqual([]);
    expect((spec.template as { spec: { destination: Record<string, string> } }).spec.destination).toEqual({ name: '{{.cluster}}', namespace: '{{.namespace}}' });
  });

  it('ChaosEngine targets the API from the litmus namespace as litmus-admin, which exists', () => {
    const engine = find(base, 'ChaosEngine', 'hastecrm-chaos');
    expect(engine.metadata.namespace).toBe('litmus');
    expect(engine.spec).toMatchObject({ appinfo: { appns: 'hastecrm-production', applabel: 'app=hastecrm-api', appkind: 'deployment' }, annotationCheck: 'false', chaosServiceAccount: 'litmus-admin' });
    expect(base.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'litmus-admin' && o.metadata.namespace === 'litmus')).toBe(true);
    expect(find(base, 'ClusterRoleBinding', 'litmus-admin').subjects).toEqual([{ kind: 'ServiceAccount', name: 'litmus-admin', namespace: 'litmus' }]);
  });

  it('FederatedDeployment carries the API Deployment’s pod spec (no placeholder template)', () => {
    const federated = (find(base, 'FederatedDeployment', 'hastecrm-api').spec as { template: { spec: { template: { spec: Record<string, unknown> } } } }).template.spec.template.spec;
    const deployment = podTemplate(find(base, 'Deployment', 'hastecrm-api'))?.spec as unknown as Record<string, unknown> & { containers: Record<string, unknown>[] };
    const fedContainers = federated.containers as Record<string, unknown>[];
    for (const key of ['image', 'ports', 'securityContext', 'readinessProbe', 'livenessProbe', 'resources', 'envFrom']) expect(fedContainers[0]?.[key], key).toEqual(deployment.containers[0]?.[key]);
    expect(federated.securityContext).toEqual(deployment.securityContext);
  });

  it('VPA uses the VPA project’s API group and there is one hastecrm-production Namespace with PSS and Goldilocks labels', () => {
    expect(find(base, 'VerticalPodAutoscaler', 'hastecrm-api').apiVersion).toBe('autoscaling.k8s.io/v1');
    const namespaces = base.filter((o) => o.kind === 'Namespace' && o.metadata.name === 'hastecrm-production');
    expect(namespaces).toHaveLength(1);
    expect(namespaces[0]?.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted', 'goldilocks.fairwinds.com/enabled': 'true' });
  });

  it('Karpenter uses karpenter.sh/v1 NodePool and karpenter.k8s.aws/v1 EC2NodeClass, no v1alpha5', () => {
    expect(find(base, 'NodePool', 'hastecrm').apiVersion).toBe('karpenter.sh/v1');
    expect(find(base, 'EC2NodeClass', 'hastecrm').apiVersion).toBe('karpenter.k8s.aws/v1');
    expect(base.filter((o) => o.apiVersion.endsWith('v1alpha5'))).toEqual([]);
  });

  it('the DR test script is valid bash, waits for the restore instead of sleeping, and quotes its expansions', async () => {
    const script = podTemplate(find(base, 'CronJob', 'dr-test'))?.spec?.containers?.[0]?.args?.[0] ?? '';
    expect(script).toContain('--wait');
    expect(script).not.toMatch(/\bsleep\b/);
    expect(script).not.toMatch(/[^"]\$\(velero/); // no unquoted command substitution of the CLI
    const file = path.join(scratch, 'dr-test.sh');
    writeFileSync(file, script);
    await expect(promisify(execFile)('bash', ['-n', file])).resolves.toBeDefined();
  });

  it('OpenTelemetry config exports traces over OTLP (no removed jaeger exporter), memory_limiter first', () => {
    const configMap = find(base, 'ConfigMap', 'otel-collector-config') as KubeObject & { data: Record<string, string> };
    const config = parse(configMap.data['otel-collector-config.yaml'] ?? '') as { exporters: Record<string, unknown>; service: { pipelines: Record<string, { processors: string[]; exporters: string[] }> } };
    expect(Object.keys(config.exporters)).not.toContain('jaeger');
    expect(config.service.pipelines.traces?.exporters).toEqual(['otlp/jaeger']);
    for (const pipeline of Object.values(config.service.pipelines)) expect(pipeline.processors[0]).toBe('memory_limiter');
  });

  it('the encryption config is an API-server file with a marked placeholder key that no API server accepts', () => {
    const [config] = readYamlDocuments('apiserver/encryption-config.yaml') as { kind: string; resources: { providers: Record<string, { keys?: { secret: string }[] }>[] }[] }[];
    expect(config?.kind).toBe('EncryptionConfiguration');
    const providers = config?.resources[0]?.providers ?? [];
    expect(Object.keys(providers[0] ?? {})).toEqual(['secretbox']);
    expect(Object.keys(providers.at(-1) ?? {})).toEqual(['identity']);
    const key = providers[0]?.secretbox?.keys?.[0]?.secret ?? '';
    expect(key).toBe(ENCRYPTION_KEY_PLACEHOLDER);
    expect(Buffer.from(key, 'base64').toString('base64')).not.toBe(key); // not valid base64
    // It is not part of any build: kubectl would refuse it as an object.
    expect(base.some((o) => o.kind === 'EncryptionConfiguration')).toBe(false);
  });

  it('the Argo Rollouts variant replaces the Canary and the Deployment, and the HPA follows the Rollout', () => {
    expect(argoVariant.some((o) => o.kind === 'Canary')).toBe(false);
    expect(argoVariant.some((o) => o.kind === 'Deployment' && o.metadata.name === 'hastecrm-api')).toBe(false);
    expect(find(argoVariant, 'AnalysisTemplate', 'success-rate')).toBeDefined();
    expect((find(argoVariant, 'HorizontalPodAutoscaler', 'hastecrm-api').spec as { scaleTargetRef: unknown }).scaleTargetRef).toEqual({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'hastecrm-api-rollout' });
    expect(base.some((o) => o.kind === 'Rollout')).toBe(false);
  });
});

describe('support matrix', () => {
  it('lists every resource of the base kustomization and the Argo component, and only files that exist', () => {
    const listed = (dir: string): string[] => {
      const kustomization = parse(readFileSync(path.join(manifestsDir, dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
      return kustomization.resources.map((r) => path.posix.join(dir, r));
    };
    const resources = [...listed('base'), ...listed('base/hastecrm-api'), 'apiserver/encryption-config.yaml'];
    expect(supportMatrix.map((e) => e.path).sort()).toEqual([...new Set(resources)].sort());
    for (const entry of supportMatrix) expect(existsSync(path.join(manifestsDir, entry.path)), entry.path).toBe(true);
  });

  it('declares the kinds each file really holds', () => {
    for (const entry of supportMatrix) {
      const kinds = readYamlDocuments(entry.path).map((doc) => (doc as { kind: string }).kind);
      expect([...new Set(kinds)].sort(), entry.path).toEqual([...entry.kinds].sort());
    }
  });

  it('is written down in docs/manifests.md, one row per file', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs/manifests.md'), 'utf8');
    for (const entry of supportMatrix) expect(doc, `docs/manifests.md should have a row for ${entry.path}`).toContain(`| \`${entry.path}\``);
  });
});
