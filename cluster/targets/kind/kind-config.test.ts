import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { checkEncryptionConfig, renderEncryptionConfig, writeEncryptionConfig } from './encryption-config.ts';
import { ENCRYPTION_CONFIG_NODE_PATH, PROMETHEUS_NODE_PORT, renderKindConfig } from './kind-config.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kind-config-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const encryptionConfigPath = '/home/ci/.resilience/kind/encryption-config.yaml';

describe('renderKindConfig', () => {
  it('renders the whole cluster config (golden)', () => {
    const rendered = parse(renderKindConfig({ encryptionConfigPath, nodeImage: 'kindest/node:v1.31.0' })) as Record<string, unknown>;
    expect(rendered).toEqual({
      kind: 'Cluster',
      apiVersion: 'kind.x-k8s.io/v1alpha4',
      name: 'hastecrm',
      nodes: [
        {
          role: 'control-plane',
          image: 'kindest/node:v1.31.0',
          kubeadmConfigPatches: [
            'kind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    node-labels: ingress-ready=true\n',
            'kind: ClusterConfiguration\napiServer:\n  extraArgs:\n    encryption-provider-config: /etc/kubernetes/encryption/encryption-config.yaml\n' +
              '  extraVolumes:\n    - name: encryption-config\n      hostPath: /etc/kubernetes/encryption\n      mountPath: /etc/kubernetes/encryption\n      readOnly: true\n      pathType: DirectoryOrCreate\n',
          ],
          extraMounts: [{ hostPath: encryptionConfigPath, containerPath: '/etc/kubernetes/encryption/encryption-config.yaml', readOnly: true }],
          extraPortMappings: [
            { containerPort: 80, hostPort: 8080, listenAddress: '127.0.0.1', protocol: 'TCP' },
            { containerPort: 30090, hostPort: 9090, listenAddress: '127.0.0.1', protocol: 'TCP' },
          ],
        },
        { role: 'worker', image: 'kindest/node:v1.31.0' },
        { role: 'worker', image: 'kindest/node:v1.31.0' },
      ],
    });
  });

  it('wires the encryption config consistently: mounted into the node where the API server volume and flag point', () => {
    const config = parse(renderKindConfig({ encryptionConfigPath })) as { nodes: { role: string; kubeadmConfigPatches?: string[]; extraMounts?: { containerPath: string }[] }[] };
    const controlPlane = config.nodes.find((n) => n.role === 'control-plane');
    const patch = (controlPlane?.kubeadmConfigPatches ?? []).map((p) => parse(p) as { kind: string; apiVersion?: string; apiServer?: { extraArgs: Record<string, string>; extraVolumes: { hostPath: string; mountPath: string }[] } }).find((p) => p.kind === 'ClusterConfiguration');
    expect(patch, 'a ClusterConfiguration patch').toBeDefined();
    // Unversioned on purpose: kind translates it for kubeadm v1beta4 (see kind-config.ts).
    expect(patch?.apiVersion).toBeUndefined();
    const flag = patch?.apiServer?.extraArgs['encryption-provider-config'];
    expect(flag).toBe(ENCRYPTION_CONFIG_NODE_PATH);
    expect(controlPlane?.extraMounts?.[0]?.containerPath).toBe(flag);
    const volume = patch?.apiServer?.extraVolumes[0];
    expect(volume?.hostPath).toBe(dirname(flag ?? ''));
    expect(volume?.mountPath).toBe(dirname(flag ?? ''));
  });

  it('honours the name, worker count and host ports, and leaves the node image to kind when not pinned', () => {
    const config = parse(renderKindConfig({ name: 'nightly', workers: 0, ingressHostPort: 80, prometheusHostPort: 19090, encryptionConfigPath })) as { name: string; nodes: { role: string; image?: string; extraPortMappings?: { containerPort: number; hostPort: number }[] }[] };
    expect(config.name).toBe('nightly');
    expect(config.nodes.map((n) => n.role)).toEqual(['control-plane']);
    expect(config.nodes[0]?.image).toBeUndefined();
    expect(config.nodes[0]?.extraPortMappings?.map((m) => [m.containerPort, m.hostPort])).toEqual([[80, 80], [PROMETHEUS_NODE_PORT, 19090]]);
    expect((parse(renderKindConfig({ workers: 3, encryptionConfigPath })) as { nodes: unknown[] }).nodes).toHaveLength(4);
  });

  it('rejects options kind would reject later, naming each', () => {
    expect(() => renderKindConfig({ name: 'Haste_CRM', encryptionConfigPath })).toThrow(/name: "Haste_CRM"/);
    expect(() => renderKindConfig({ workers: -1, encryptionConfigPath })).toThrow(/workers: -1/);
    expect(() => renderKindConfig({ ingressHostPort: 70000, encryptionConfigPath })).toThrow(/ingressHostPort: 70000/);
    expect(() => renderKindConfig({ ingressHostPort: 9090, encryptionConfigPath })).toThrow(/both 9090/);
    expect(() => renderKindConfig({ encryptionConfigPath: 'encryption-config.yaml' })).toThrow(/must be absolute/);
  });
});

describe('encryption config', () => {
  it('writes a fresh 32-byte aescbc key, owner-readable only, that the API server would accept', () => {
    const a = writeEncryptionConfig(join(tmp, 'a'));
    const b = writeEncryptionConfig(join(tmp, 'b'));
    expect(checkEncryptionConfig(a)).toEqual([]);
    expect(statSync(a).mode & 0o777).toBe(0o600);
    const keyOf = (file: string): string => (parse(readFileSync(file, 'utf8')) as { resources: { providers: { aescbc?: { keys: { secret: string }[] } }[] }[] }).resources[0]?.providers[0]?.aescbc?.keys[0]?.secret ?? '';
    expect(Buffer.from(keyOf(a), 'base64')).toHaveLength(32);
    expect(keyOf(a), 'each cluster gets its own key').not.toBe(keyOf(b));
  });

  it("rejects the seed's placeholder key and keys of the wrong length, naming the field", () => {
    const placeholder = join(tmp, 'seed.yaml');
    writeFileSync(placeholder, renderEncryptionConfig('<base64-encoded-secret>'));
    expect(checkEncryptionConfig(placeholder)).toEqual([expect.stringMatching(/resources\[0\]\.providers\[0\]\.aescbc\.keys\[0\]\.secret is not base64/)]);
    const short = join(tmp, 'short.yaml');
    writeFileSync(short, renderEncryptionConfig(Buffer.from('too short').toString('base64')));
    expect(checkEncryptionConfig(short)).toEqual([expect.stringContaining('decodes to 9 bytes; aescbc needs 16, 24, 32')]);
    const wrongKind = join(tmp, 'wrong.yaml');
    writeFileSync(wrongKind, 'apiVersion: v1\nkind: ConfigMap\n');
    expect(checkEncryptionConfig(wrongKind).join('\n')).toMatch(/expected apiVersion apiserver.config.k8s.io\/v1, kind EncryptionConfiguration[\s\S]*resources is empty/);
  });
});
