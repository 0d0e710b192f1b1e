import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { API_VERSION_NOTICES } from './api-versions.ts';
import { HAND_WRITTEN_SCHEMAS, handWrittenValidator } from './schema/crd-schemas.ts';
import type { ManifestFinding } from './types.ts';
import { formatFindings, hasFailures, validateManifests } from './validate.ts';

const testdata = fileURLToPath(new URL('./testdata/', import.meta.url));

/** [documentIndex, rule, fieldPath, severity if a warning] of each finding. */
type Expected = [number, string, string, 'warning'?];

function summarize(findings: readonly ManifestFinding[]): Expected[] {
  return findings.map((f) => (f.severity === 'warning' ? [f.documentIndex, f.rule, f.fieldPath, 'warning'] : [f.documentIndex, f.rule, f.fieldPath]));
}

/**
 * Each folder of testdata/ holds broken.yaml (real-world mistakes, each giving exactly the listed
 * findings, no more) and good.yaml (the same objects written correctly, giving none). The good
 * files keep the checks honest: a rule that fires on correct manifests fails here.
 */
const CASES: Record<string, Expected[]> = {
  'yaml-syntax': [
    [0, 'yaml-syntax', ''],
    [1, 'yaml-syntax', ''],
  ],
  'api-versions': [
    [0, 'removed-api', 'apiVersion'],
    [1, 'removed-api', 'apiVersion'],
    [2, 'removed-api', 'apiVersion'],
    [3, 'removed-api', 'apiVersion'],
    [4, 'removed-api', 'apiVersion'],
    [5, 'unknown-kind', 'apiVersion'],
    [6, 'unknown-kind', 'apiVersion'],
    [7, 'deprecated-api', 'apiVersion', 'warning'],
  ],
  'schema-core': [
    [0, 'schema', 'spec.replicas'],
    [0, 'schema', 'spec.template.spec.containers[0].env[0].value'],
    [0, 'schema', 'spec.template.spec.containers[0].ports[0].containerPort'],
    [1, 'schema', 'spec.selector'],
  ],
  'unknown-fields': [
    [0, 'unknown-field', 'spec.template.spec.containers[0].resource'],
    [0, 'unknown-field', 'spec.template.spec.containers[0].livenessProbe.initialDelay'],
    [1, 'unknown-field', 'spec.http[0].route[0].timeout'],
    [1, 'unknown-field', 'spec.http[0].route[0].retries'],
  ],
  'crd-schemas': [
    [0, 'schema', 'spec.targetRef'],
    [0, 'schema', 'spec.analysis.interval'],
    [0, 'unknown-field', 'spec.analysis.metrics[0].thresholdRange.minimum'],
    [0, 'schema', 'spec.analysis.webhooks[0].type'],
    [1, 'schema', 'spec.appinfo.appkind'],
    [1, 'schema', 'spec.engineState'],
    [2, 'schema', 'spec.template.ttl'],
    [3, 'schema', 'spec.config.s3ForcePathStyle'],
    [4, 'schema', 'spec.updatePolicy.updateMode'],
    [5, 'schema', 'spec.crd.spec.names.kind'],
    [6, 'deprecated-api', 'apiVersion', 'warning'],
    [6, 'schema', 'spec.template.spec.template'],
    [7, 'schema', 'spec.replicas'],
    [7, 'schema', 'spec.template.spec.containers[0].imagePullPolicy'],
  ],
  'api-server': [
    [0, 'invalid-name', 'metadata.name'],
    [0, 'invalid-label', 'spec.template.metadata.labels.version'],
    [0, 'selector-mismatch', 'spec.selector'],
    [0, 'restart-policy', 'spec.template.spec.restartPolicy'],
    [0, 'invalid-name', 'spec.template.spec.containers[0].ports[0].name'],
    [0, 'requests-exceed-limits', 'spec.template.spec.containers[0].resources.requests.cpu'],
    [0, 'duplicate-container-name', 'spec.template.spec.containers[1].name'],
    [1, 'restart-policy', 'spec.template.spec.restartPolicy'],
    [2, 'invalid-schedule', 'spec.schedule'],
    [2, 'missing-containers', 'spec.jobTemplate.spec.template.spec.containers'],
    [3, 'invalid-name', 'metadata.name'],
    [3, 'service-ports', 'spec.ports[0]'],
    [3, 'service-ports', 'spec.ports[1]'],
    [3, 'service-ports', 'spec.ports[1].port'],
    [4, 'constraint-template-name', 'metadata.name'],
  ],
  'pod-security': [
    [2, 'pod-security', 'spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation'],
    [2, 'pod-security', 'spec.template.spec.containers[0].securityContext.runAsNonRoot'],
    [2, 'pod-security', 'spec.template.spec.containers[0].securityContext.seccompProfile.type'],
    [2, 'pod-security', 'spec.template.spec.containers[0].securityContext.capabilities.drop'],
    [3, 'pod-security', 'spec.template.spec.hostNetwork'],
    [3, 'pod-security', 'spec.template.spec.volumes[0].hostPath'],
    [3, 'pod-security', 'spec.template.spec.containers[0].securityContext.privileged'],
    [3, 'pod-security', 'spec.template.spec.containers[0].ports[0].hostPort'],
    [3, 'pod-security', 'spec.template.spec.containers[0].securityContext.capabilities.add[0]'],
    [3, 'pod-security', 'spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation', 'warning'],
    [3, 'pod-security', 'spec.template.spec.containers[0].securityContext.runAsNonRoot', 'warning'],
    [3, 'pod-security', 'spec.template.spec.containers[0].securityContext.seccompProfile.type', 'warning'],
    [3, 'pod-security', 'spec.template.spec.containers[0].securityContext.capabilities.drop', 'warning'],
  ],
  'quota': [
    [0, 'quota-exceeded', 'spec.hard["requests.cpu"]'],
    [0, 'quota-exceeded', 'spec.hard["limits.memory"]'],
    [0, 'quota-exceeded', 'spec.hard.pods'],
    [5, 'quota-missing-resource', 'spec.template.spec.containers[0].resources.limits.cpu'],
  ],
  'disruption-budgets': [
    [3, 'pdb-blocks-eviction', 'spec.minAvailable'],
    [4, 'pdb-blocks-eviction', 'spec.minAvailable'],
    [5, 'pdb-blocks-eviction', 'spec.maxUnavailable'],
    [6, 'pdb-selects-nothing', 'spec.selector', 'warning'],
  ],
  'references': [
    [1, 'service-selects-nothing', 'spec.selector', 'warning'],
    [2, 'dangling-reference', 'spec.ports[0].targetPort'],
    [3, 'dangling-reference', 'spec.scaleTargetRef.name'],
    [5, 'dangling-reference', 'spec.strategy.blueGreen.activeService'],
    [5, 'dangling-reference', 'spec.strategy.blueGreen.prePromotionAnalysis.args'],
    [5, 'dangling-reference', 'spec.strategy.blueGreen.prePromotionAnalysis.templates[1].templateName'],
    [6, 'dangling-reference', 'spec.rules[0].http.paths[0].backend.service.name'],
    [8, 'dangling-reference', 'spec.gateways[0]'],
    [8, 'dangling-reference', 'spec.http[0].route[0].destination.host'],
    [10, 'dangling-reference', 'kind'],
    [11, 'dangling-reference', 'spec.appinfo'],
  ],
  'duplicates': [
    [1, 'duplicate-object', 'metadata.name'],
  ],

};

describe('validateManifests on one case per folder', () => {
  it('has a fixture folder for every case and a case for every fixture folder', () => {
    const folders = readdirSync(testdata, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    expect(folders.filter((f) => f !== 'seed' && f !== 'kustomize').sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const [name, expected] of Object.entries(CASES)) {
    it(`${name}: broken.yaml gives exactly the expected findings`, async () => {
      const findings = await validateManifests([path.join(testdata, name, 'broken.yaml')]);
      expect(summarize(findings)).toEqual(expected);
      for (const f of findings) expect(f.message.length, `a message that says what to do: ${f.message}`).toBeGreaterThan(30);
    });

    it(`${name}: good.yaml gives no finding`, async () => {
      const findings = await validateManifests([path.join(testdata, name, 'good.yaml')]);
      expect(formatFindings(findings, testdata)).toBe('');
    });
  }
});

describe('the seed document\'s manifests, as written', () => {
  it('give the known findings', async () => {
    const findings = await validateManifests([path.join(testdata, 'seed')]);
    const byFile = findings.map((f) => [path.relative(path.join(testdata, 'seed'), f.file), f.documentIndex, f.rule, f.fieldPath, f.severity]);
    expect(byFile).toEqual([
      // Karpenter's v1alpha5 Provisioner is gone: NodePool + EC2NodeClass.
      ['autoscaling/karpenter.yaml', 0, 'removed-api', 'apiVersion', 'error'],
      ['availability/pdb.yaml', 1, 'pdb-selects-nothing', 'spec.selector', 'warning'],
      // The DR test's Job pod has no restartPolicy: defaulted to Always, refused for a Job.
      ['backup/dr-test-job.yaml', 0, 'restart-policy', 'spec.jobTemplate.spec.template.spec.restartPolicy', 'error'],
      // The VPA is autoscaling.k8s.io/v1, not autoscaling/v1.
      ['cost-optimization/goldilocks.yaml', 1, 'unknown-kind', 'apiVersion', 'error'],
      // The blue/green Rollout has no security context in a namespace enforcing restricted.
      ['deployments/blue-green.yaml', 0, 'pod-security', 'spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation', 'error'],
      ['deployments/blue-green.yaml', 0, 'pod-security', 'spec.template.spec.containers[0].securityContext.runAsNonRoot', 'error'],
      ['deployments/blue-green.yaml', 0, 'pod-security', 'spec.template.spec.containers[0].securityContext.seccompProfile.type', 'error'],
      ['deployments/blue-green.yaml', 0, 'pod-security', 'spec.template.spec.containers[0].securityContext.capabilities.drop', 'error'],
      // The encryption config is a kube-apiserver file, and its key a placeholder.
      ['encryption/encryption-config.yaml', 0, 'not-an-api-object', 'kind', 'warning'],
      ['encryption/encryption-config.yaml', 0, 'schema', 'resources[0].providers[0].aescbc.keys[0].secret', 'error'],
      // KubeFed is archived, and the FederatedDeployment's pod template is only a comment.
      ['multi-region/federation.yaml', 0, 'deprecated-api', 'apiVersion', 'warning'],
      ['multi-region/federation.yaml', 0, 'schema', 'spec.template.spec.template', 'error'],
      ['security/opa-policies.yaml', 0, 'deprecated-api', 'apiVersion', 'warning'],
      // The namespace is defined twice; the Goldilocks copy drops the Pod Security labels.
      ['security/pod-security-standards.yaml', 0, 'duplicate-object', 'metadata.name', 'error'],
      // The VirtualService puts timeout and retries under the route destination.
      ['service-mesh/istio-gateway.yaml', 1, 'unknown-field', 'spec.http[0].route[0].timeout', 'error'],
      ['service-mesh/istio-gateway.yaml', 1, 'unknown-field', 'spec.http[0].route[0].retries', 'error'],
    ]);
  });

  it('locates each finding on its line and formats it as file#doc kind/name fieldPath: message', async () => {
    const findings = await validateManifests([path.join(testdata, 'seed', 'service-mesh', 'istio-gateway.yaml')]);
    const timeout = findings.find((f) => f.fieldPath === 'spec.http[0].route[0].timeout');
    expect(timeout?.line).toBe(41);
    expect(formatFindings(findings, testdata).split('\n')[0]).toBe(
      '✖ seed/service-mesh/istio-gateway.yaml#1 VirtualService/hastecrm-routes spec.http[0].route[0].timeout: unknown field timeout: timeout belongs on the HTTP route, not on a route destination: move it to spec.http[0].timeout (Istio ignores or rejects it here) [unknown-field]',
    );
  });
});

describe('kustomizations', () => {
  it('are rendered with kubectl kustomize: partial patch files are not validated on their own', async () => {
    expect(await validateManifests([path.join(testdata, 'kustomize', 'good')])).toEqual([]);
  });

  it('report a failed build on the kustomization file', async () => {
    const findings = await validateManifests([path.join(testdata, 'kustomize', 'broken')]);
    expect(summarize(findings)).toEqual([[0, 'kustomize-build', '']]);
    expect(findings[0]?.file).toBe(path.join(testdata, 'kustomize', 'broken', 'kustomization.yaml'));
    expect(findings[0]?.message).toContain('service.yaml');
  });

  it('validate the rendered objects (a patch that breaks the selector)', async () => {
    const findings = await validateManifests([path.join(testdata, 'kustomize', 'rendered-error', 'kustomization.yaml')]);
    expect(summarize(findings)).toEqual([[0, 'selector-mismatch', 'spec.selector']]);
    expect(findings[0]?.line).toBeUndefined();
  });
});

describe('strict mode and failure', () => {
  it('fails on errors, and on warnings only with strict', async () => {
    const file = path.join(testdata, 'disruption-budgets', 'broken.yaml');
    const warningsOnly = (await validateManifests([file])).filter((f) => f.severity === 'warning');
    expect(warningsOnly.length).toBeGreaterThan(0);
    expect(hasFailures(warningsOnly)).toBe(false);
    expect(hasFailures(warningsOnly, { strict: true })).toBe(true);
    const strict = await validateManifests([file], { strict: true });
    expect(strict.every((f) => f.severity === 'error')).toBe(true);
  });

  it('rejects a path that does not exist', async () => {
    await expect(validateManifests([path.join(testdata, 'no-such-folder')])).rejects.toThrow('does not exist');
  });
});

describe('crd-schemas', () => {
  it('every hand-written schema compiles under ajv strict mode', () => {
    for (const schema of HAND_WRITTEN_SCHEMAS) expect(() => handWrittenValidator(schema.file)).not.toThrow();
  });
});

describe('the README', () => {
  it('lists every deprecated and removed API version of api-versions.ts', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const rows = readme.split('\n').filter((line) => /^\| `[^`]+` \| .* \| (removed|deprecated) \|/.test(line));
    expect(rows).toHaveLength(API_VERSION_NOTICES.length);
    for (const notice of API_VERSION_NOTICES) {
      expect(rows.some((row) => row.startsWith(`| \`${notice.apiVersion}\``) && row.includes(`| ${notice.status} | ${notice.since} |`)), `${notice.apiVersion} ${String(notice.kinds)}`).toBe(true);
    }
  });
});
