import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { execa } from 'execa';
import { requireBinary, findBinary, type BinaryLookupOptions } from '../local/binaries.ts';
import { checkEncryptionConfig, writeEncryptionConfig } from './encryption-config.ts';
import { kindContextName } from './context-safety.ts';
import { renderKindConfig, type KindConfigOptions } from './kind-config.ts';

/**
 * The library behind `resilience cluster up|down|status`: the `kind` CLI driven through execa.
 * A missing `kind` is a MissingBinaryError naming the install page (exit code 4), raised before
 * anything is written or started.
 */

export interface ClusterUpOptions extends Omit<KindConfigOptions, 'encryptionConfigPath'> {
  /** Keep using an existing cluster of that name instead of failing. */
  reuse?: boolean;
  /** Where the generated kind config and encryption config are written (`<stateDir>/kind/<name>/`). */
  stateDir: string;
  /** An EncryptionConfiguration to use instead of a generated one; checked before kind starts. */
  encryptionConfigPath?: string;
  /** How long kind waits for the control plane (`kind create cluster --wait`). Default `180s`. */
  wait?: string;
  /** Write the kubeconfig here instead of $KUBECONFIG / ~/.kube/config. */
  kubeconfig?: string;
  /** Where binaries are looked up (tests point it at a fake `kind`). Default: PATH. */
  lookup?: BinaryLookupOptions;
  signal?: AbortSignal;
  /** Lines kind prints while it works. */
  onOutput?: (line: string) => void;
}

export interface ClusterUpResult {
  name: string;
  /** The kube context to use: `kind-<name>`. */
  context: string;
  /** False when an existing cluster was reused. */
  created: boolean;
  /** The generated kind config (not written when reused). */
  configFile: string | undefined;
}

/** A cluster of that name exists and `--reuse` was not given. Maps to exit code 2 (usage). */
export class ClusterExistsError extends Error {
  constructor(readonly clusterName: string) {
    super(`a kind cluster named "${clusterName}" already exists: pass --reuse to keep using it, or remove it first with \`resilience cluster down --name ${clusterName}\``);
    this.name = 'ClusterExistsError';
  }
}

/** The encryption config handed to `cluster up` would stop the API server from starting. Exit code 2. */
export class InvalidEncryptionConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`the encryption config would stop the API server from starting:\n  ${problems.join('\n  ')}`);
    this.name = 'InvalidEncryptionConfigError';
  }
}

/** The `kind create cluster` arguments for a config file (exported for `resilience plan`). */
export function kindCreateArgs(name: string, configFile: string, options: { wait?: string; kubeconfig?: string } = {}): string[] {
  return ['create', 'cluster', '--name', name, '--config', configFile, '--wait', options.wait ?? '180s', ...(options.kubeconfig ? ['--kubeconfig', options.kubeconfig] : [])];
}

/** Creates the kind cluster (or reuses it with `reuse`). Idempotent with `reuse`. */
export async function clusterUp(options: ClusterUpOptions): Promise<ClusterUpResult> {
  const kind = requireBinary('kind', options.lookup);
  const name = options.name ?? 'hastecrm';
  const context = kindContextName(name);
  if ((await listClusters(kind, options.signal)).includes(name)) {
    if (options.reuse) return { name, context, created: false, configFile: undefined };
    throw new ClusterExistsError(name);
  }
  const dir = resolve(join(options.stateDir, 'kind', name));
  mkdirSync(dir, { recursive: true });
  let encryptionConfigPath: string;
  if (options.encryptionConfigPath !== undefined) {
    encryptionConfigPath = resolve(options.encryptionConfigPath);
    const problems = checkEncryptionConfig(encryptionConfigPath);
    if (problems.length > 0) throw new InvalidEncryptionConfigError(problems);
  } else {
    encryptionConfigPath = writeEncryptionConfig(dir);
  }
  const { stateDir: _stateDir, reuse: _reuse, wait, kubeconfig, lookup: _lookup, signal, onOutput, encryptionConfigPath: _given, ...configOptions } = options;
  const configFile = join(dir, 'kind-config.yaml');
  writeFileSync(configFile, renderKindConfig({ ...configOptions, name, encryptionConfigPath }));
  await runKind(kind, kindCreateArgs(name, configFile, { ...(wait ? { wait } : {}), ...(kubeconfig ? { kubeconfig } : {}) }), signal, onOutput);
  return { name, context, created: true, configFile };
}

export interface ClusterDownOptions {
  name?: string;
  kubeconfig?: string;
  lookup?: BinaryLookupOptions;
  signal?: AbortSignal;
  onOutput?: (line: string) => void;
}

/** Deletes the kind cluster; `deleted: false` when there was none (safe to call twice). */
export async function clusterDown(options: ClusterDownOptions = {}): Promise<{ name: string; deleted: boolean }> {
  const kind = requireBinary('kind', options.lookup);
  const name = options.name ?? 'hastecrm';
  if (!(await listClusters(kind, options.signal)).includes(name)) return { name, deleted: false };
  await runKind(kind, ['delete', 'cluster', '--name', name, ...(options.kubeconfig ? ['--kubeconfig', options.kubeconfig] : [])], options.signal, options.onOutput);
  return { name, deleted: true };
}

export interface ClusterStatus {
  name: string;
  /** Path of `kind`, or undefined when it is not installed. */
  kindBinary: string | undefined;
  /** Every kind cluster on this machine (empty when kind is missing). */
  clusters: string[];
  exists: boolean;
  /** The context the cluster uses: `kind-<name>`. */
  context: string;
  /** The kubeconfig's current context ('' when none). */
  currentContext: string;
}

/** What is there, without changing anything; never throws for a missing kind. */
export async function clusterStatus(options: { name?: string; lookup?: BinaryLookupOptions; kubeConfig?: KubeConfig; signal?: AbortSignal } = {}): Promise<ClusterStatus> {
  const name = options.name ?? 'hastecrm';
  const kindBinary = findBinary('kind', options.lookup);
  const clusters = kindBinary ? await listClusters(kindBinary, options.signal) : [];
  let currentContext = '';
  try {
    const kc = options.kubeConfig ?? defaultKubeConfig();
    currentContext = kc.getCurrentContext() ?? '';
  } catch {
    currentContext = '';
  }
  return { name, kindBinary, clusters, exists: clusters.includes(name), context: kindContextName(name), currentContext };
}

/** One line per fact, as `resilience cluster status` prints it. */
export function formatClusterStatus(status: ClusterStatus): string {
  const lines = [
    `kind: ${status.kindBinary ?? 'not installed (see https://kind.sigs.k8s.io/docs/user/quick-start/#installation)'}`,
    `cluster "${status.name}": ${status.exists ? 'running' : 'absent'}${status.clusters.length > 0 ? ` (kind clusters here: ${status.clusters.join(', ')})` : ''}`,
    `kube context: ${status.currentContext || '(none)'}${status.currentContext === status.context ? ' (this cluster)' : status.exists ? ` (this cluster's is ${status.context})` : ''}`,
  ];
  return lines.join('\n');
}

/** The arguments of `kind load docker-image`, for the reference API image built on the host. */
export function kindLoadImageArgs(name: string, image: string): string[] {
  return ['load', 'docker-image', image, '--name', name];
}

/** Loads a locally built image into the cluster's nodes (no registry needed). */
export async function loadImage(options: { name?: string; image: string; lookup?: BinaryLookupOptions; signal?: AbortSignal; onOutput?: (line: string) => void }): Promise<void> {
  const kind = requireBinary('kind', options.lookup);
  await runKind(kind, kindLoadImageArgs(options.name ?? 'hastecrm', options.image), options.signal, options.onOutput);
}

function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

async function listClusters(kind: string, signal: AbortSignal | undefined): Promise<string[]> {
  // `kind get clusters` prints one name per line, and "No kind clusters found." on stderr when none.
  const result = await execa(kind, ['get', 'clusters'], { ...(signal ? { cancelSignal: signal } : {}), reject: false });
  if (result.failed) throw new Error(`\`kind get clusters\` failed (exit ${String(result.exitCode)}): ${String(result.stderr).trim() || result.message}`);
  return String(result.stdout)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

async function runKind(kind: string, args: string[], signal: AbortSignal | undefined, onOutput: ((line: string) => void) | undefined): Promise<void> {
  const child = execa(kind, args, { ...(signal ? { cancelSignal: signal } : {}), reject: false, all: true, lines: false });
  if (onOutput) {
    child.all?.setEncoding('utf8');
    child.all?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim() !== '') onOutput(line);
    });
  }
  const result = await child;
  if (result.failed) throw new Error(`\`kind ${args.join(' ')}\` failed (exit ${String(result.exitCode)}):\n${String(result.all ?? '').trim().split('\n').slice(-20).join('\n') || result.message}`);
}
