import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { MissingBinaryError } from '../local/binaries.ts';
import { checkEncryptionConfig, renderEncryptionConfig } from './encryption-config.ts';
import { ClusterExistsError, clusterDown, clusterStatus, clusterUp, formatClusterStatus, InvalidEncryptionConfigError, loadImage } from './kind-cluster.ts';

// kind itself cannot run here (no Docker engine, no image registry). FakeKind (test double) is a
// shell script named `kind` on a private PATH: it appends its argv to a log, answers
// `get clusters` from a file, and "creates" or "deletes" clusters in that file. What is tested
// is what the harness asks kind to do, and that a missing kind fails with the install link.

const root = mkdtempSync(join(tmpdir(), 'kind-cluster-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
let bin: string;
let argvLog: string;
let clustersFile: string;
let stateDir: string;

function installFakeKind(): void {
  n += 1;
  bin = join(root, `bin-${n}`);
  mkdirSync(bin);
  argvLog = join(root, `argv-${n}.log`);
  clustersFile = join(root, `clusters-${n}.txt`);
  stateDir = join(root, `state-${n}`);
  writeFileSync(clustersFile, '');
  const script = `#!/bin/sh
# FakeKind (test double): records argv, keeps a list of clusters in a file.
printf '%s\\n' "$*" >> '${argvLog}'
case "$1 $2" in
  "get clusters") cat '${clustersFile}' ;;
  "create cluster") shift 2; while [ $# -gt 0 ]; do [ "$1" = --name ] && echo "$2" >> '${clustersFile}'; [ "$1" = --config ] && cp "$2" '${root}/last-config-${n}.yaml'; shift; done; echo "Creating cluster ..." ;;
  "delete cluster") grep -vx "$4" '${clustersFile}' > '${clustersFile}.tmp'; mv '${clustersFile}.tmp' '${clustersFile}' ;;
  "load docker-image") echo "Image loaded" ;;
  *) echo "fake kind: unexpected $*" >&2; exit 1 ;;
esac
`;
  writeFileSync(join(bin, 'kind'), script);
  chmodSync(join(bin, 'kind'), 0o755);
}

const argv = (): string[] => readFileSync(argvLog, 'utf8').trim().split('\n');

beforeEach(() => installFakeKind());

describe('clusterUp', () => {
  it('fails with MissingBinaryError naming the install page when kind is not on PATH, before writing anything', async () => {
    const emptyPath = join(root, 'empty');
    mkdirSync(emptyPath, { recursive: true });
    const error = await clusterUp({ stateDir, lookup: { path: emptyPath } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingBinaryError);
    expect((error as Error).message).toContain('https://kind.sigs.k8s.io/docs/user/quick-start/#installation');
    expect(existsSync(stateDir)).toBe(false);
  });

  it('writes the kind config and a valid encryption config, then runs kind create cluster with them', async () => {
    const lines: string[] = [];
    const result = await clusterUp({ stateDir, workers: 3, ingressHostPort: 18080, lookup: { path: bin }, onOutput: (l) => lines.push(l) });
    const configFile = join(stateDir, 'kind', 'hastecrm', 'kind-config.yaml');
    expect(result).toEqual({ name: 'hastecrm', context: 'kind-hastecrm', created: true, configFile });
    expect(argv()).toEqual(['get clusters', `create cluster --name hastecrm --config ${configFile} --wait 180s`]);
    expect(lines).toEqual(['Creating cluster ...']);
    // kind received the config we generated, pointing at the encryption config we wrote.
    const config = parse(readFileSync(join(root, `last-config-${n}.yaml`), 'utf8')) as { nodes: { role: string; extraMounts?: { hostPath: string }[] }[] };
    expect(config.nodes.map((node) => node.role)).toEqual(['control-plane', 'worker', 'worker', 'worker']);
    const encryptionFile = config.nodes[0]?.extraMounts?.[0]?.hostPath ?? '';
    expect(encryptionFile).toBe(join(stateDir, 'kind', 'hastecrm', 'encryption-config.yaml'));
    expect(checkEncryptionConfig(encryptionFile)).toEqual([]);
  });

  it('reuses an existing cluster with reuse, and refuses to touch it without', async () => {
    writeFileSync(clustersFile, 'hastecrm\n');
    await expect(clusterUp({ stateDir, lookup: { path: bin } })).rejects.toThrow(ClusterExistsError);
    await expect(clusterUp({ stateDir, lookup: { path: bin }, reuse: true })).resolves.toEqual({ name: 'hastecrm', context: 'kind-hastecrm', created: false, configFile: undefined });
    expect(argv().filter((l) => l.startsWith('create'))).toEqual([]);
  });

  it("rejects the seed's placeholder encryption key before starting kind", async () => {
    const seedConfig = join(root, `seed-encryption-${n}.yaml`);
    writeFileSync(seedConfig, renderEncryptionConfig('<base64-encoded-secret>'));
    await expect(clusterUp({ stateDir, encryptionConfigPath: seedConfig, lookup: { path: bin } })).rejects.toThrow(InvalidEncryptionConfigError);
    expect(argv()).toEqual(['get clusters']);
  });

  it('passes the cluster name, wait and kubeconfig through', async () => {
    await clusterUp({ stateDir, name: 'nightly', wait: '5m', kubeconfig: '/tmp/kc', lookup: { path: bin } });
    expect(argv()[1]).toBe(`create cluster --name nightly --config ${join(stateDir, 'kind', 'nightly', 'kind-config.yaml')} --wait 5m --kubeconfig /tmp/kc`);
  });

  it('reports kind failing with its output', async () => {
    writeFileSync(join(bin, 'kind'), '#!/bin/sh\n[ "$1" = get ] && exit 0\necho "ERROR: failed to create cluster: could not pull kindest/node" >&2\nexit 1\n');
    await expect(clusterUp({ stateDir, lookup: { path: bin } })).rejects.toThrow(/kind create cluster .* failed \(exit 1\):\nERROR: failed to create cluster: could not pull kindest\/node/);
  });
});

describe('clusterDown, clusterStatus, loadImage', () => {
  it('deletes the cluster when it exists, and is a no-op when it does not', async () => {
    writeFileSync(clustersFile, 'other\nhastecrm\n');
    await expect(clusterDown({ lookup: { path: bin } })).resolves.toEqual({ name: 'hastecrm', deleted: true });
    await expect(clusterDown({ lookup: { path: bin } })).resolves.toEqual({ name: 'hastecrm', deleted: false });
    expect(argv().filter((l) => l.startsWith('delete'))).toEqual(['delete cluster --name hastecrm']);
    expect(readFileSync(clustersFile, 'utf8').trim()).toBe('other');
  });

  it('reports kind, the clusters and the current context without changing anything', async () => {
    writeFileSync(clustersFile, 'hastecrm\n');
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:6443' }], users: [{ name: 'u' }], contexts: [{ name: 'kind-hastecrm', cluster: 'c', user: 'u' }], currentContext: 'kind-hastecrm' });
    const status = await clusterStatus({ lookup: { path: bin }, kubeConfig: kc });
    expect(status).toMatchObject({ exists: true, clusters: ['hastecrm'], context: 'kind-hastecrm', currentContext: 'kind-hastecrm' });
    expect(formatClusterStatus(status)).toContain('kube context: kind-hastecrm (this cluster)');
    expect(argv()).toEqual(['get clusters']);

    const missing = await clusterStatus({ lookup: { path: join(root, 'empty') }, kubeConfig: kc });
    expect(missing).toMatchObject({ kindBinary: undefined, exists: false, clusters: [] });
    expect(formatClusterStatus(missing)).toContain('kind: not installed (see https://kind.sigs.k8s.io/docs/user/quick-start/#installation)');
  });

  it('loads a locally built image into the cluster', async () => {
    await loadImage({ image: 'hastecrm/api:dev', lookup: { path: bin } });
    expect(argv()).toEqual(['load docker-image hastecrm/api:dev --name hastecrm']);
  });
});
