import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { accessSync, constants, statSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { execa } from 'execa';
import { stringify } from 'yaml';
import type { Addon, AddonPatch } from '../../addons/kind/addons.ts';
import { parseManifests } from '../../manifests/build.ts';
import { applyManifests, formatApplyProgress } from './apply.ts';
import { assertChaosAllowed } from './context-safety.ts';
import { ObjectClient } from './object-client.ts';
import { describeObject, type KubeObject } from './objects.ts';
import { waitForCondition } from './watch-ready.ts';

/**
 * Installs the addons a kind cluster needs (cluster/addons/kind/addons.ts) for real:
 * - `manifests`: each pinned URL downloaded, parsed, patched (RFC 6902, the addon's `patches`),
 *   then server-side applied in dependency order with applyManifests;
 * - `rendered`: the harness's own objects, applied the same way;
 * - `helm`: `helm upgrade --install` (idempotent), Helm's own `--wait` not used;
 * then every object of `addon.readiness` is awaited by watching, with a deadline.
 *
 * Addons are labelled with their own run id (`cluster-addons` by default), not the run's: a run's
 * teardown deletes the run's objects and leaves the addons of a `--reuse`d cluster in place.
 */

/** The run id addons are labelled with; `deleteByLabel({ runId: ADDONS_RUN_ID })` removes them. */
export const ADDONS_RUN_ID = 'cluster-addons';

export interface InstallAddonsOptions {
  kubeConfig: KubeConfig;
  addons: readonly Addon[];
  /** Downloads the pinned manifests. Default: global fetch. Tests serve them from 127.0.0.1. */
  fetch?: typeof globalThis.fetch;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Label value for what the addons create. Default ADDONS_RUN_ID. */
  runId?: string;
  /** A non-kind context the user allowed with --allow-context. */
  allowContext?: string;
  /** PATH-style folders where `helm` is looked up. Default: process.env.PATH. */
  helmPath?: string;
  /** Per-addon readiness deadline. Default 5 min (image pulls on a fresh kind node). */
  readyTimeoutMs?: number;
  /** Per-download deadline. Default 60 s. */
  downloadTimeoutMs?: number;
}

/** An addon could not be installed; names the addon and what failed. */
export class AddonInstallError extends Error {
  constructor(
    readonly addon: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`addon ${addon}: ${message}`, options);
    this.name = 'AddonInstallError';
  }
}

/** Installs `addons` in order (ADDONS order puts dependencies first) and awaits their readiness. */
export async function installAddons(options: InstallAddonsOptions): Promise<void> {
  assertChaosAllowed(options.kubeConfig.getCurrentContext(), { allowContext: options.allowContext });
  const runId = options.runId ?? ADDONS_RUN_ID;
  for (const addon of options.addons) {
    options.signal?.throwIfAborted();
    options.log(`addon ${addon.name} ${addon.version} (${addon.source.type})`);
    const source = addon.source;
    if (source.type === 'helm') {
      await helmInstall(addon, source, options);
    } else {
      const objects = source.type === 'rendered' ? source.render() : await downloadAll(addon, source.urls, options);
      const patched = applyPatches(addon, objects, addon.patches ?? []);
      try {
        await applyManifests({
          kubeConfig: options.kubeConfig,
          objects: patched,
          runId,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.allowContext ? { allowContext: options.allowContext } : {}),
          readyTimeoutMs: options.readyTimeoutMs ?? 300_000,
          // Readiness is awaited below, for the workloads the addon names.
          waitForWorkloads: false,
          onProgress: (event) => {
            if (event.type !== 'status') options.log(formatApplyProgress(event));
          },
        });
      } catch (error) {
        throw new AddonInstallError(addon.name, error instanceof Error ? error.message : String(error), { cause: error });
      }
    }
    await awaitReadiness(addon, options);
  }
}

async function downloadAll(addon: Addon, urls: readonly string[], options: InstallAddonsOptions): Promise<KubeObject[]> {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const objects: KubeObject[] = [];
  for (const url of urls) {
    const signal = AbortSignal.any([AbortSignal.timeout(options.downloadTimeoutMs ?? 60_000), ...(options.signal ? [options.signal] : [])]);
    let text: string;
    try {
      const response = await fetchFn(url, { signal, redirect: 'follow' });
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`HTTP ${response.status} ${response.statusText}`);
      }
      text = await response.text();
    } catch (error) {
      options.signal?.throwIfAborted();
      const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
      throw new AddonInstallError(addon.name, `downloading ${url} failed (${cause}); cluster up needs network access to the addon's pinned release, or leave the addon out`, { cause: error });
    }
    try {
      objects.push(...(parseManifests(text, url) as KubeObject[]));
    } catch (error) {
      throw new AddonInstallError(addon.name, `${url} is not a Kubernetes manifest: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  return objects;
}

/** The addon's objects with its JSON patches applied (copies; the inputs are not changed). */
export function applyPatches(addon: Pick<Addon, 'name'>, objects: readonly KubeObject[], patches: readonly AddonPatch[]): KubeObject[] {
  const result = objects.map((o) => structuredClone(o));
  for (const { target, patch, why } of patches) {
    const object = result.find((o) => o.apiVersion === target.apiVersion && o.kind === target.kind && o.metadata.name === target.name && (target.namespace === undefined || o.metadata.namespace === target.namespace));
    if (!object) throw new AddonInstallError(addon.name, `patch target ${target.kind} ${target.namespace ?? ''}/${target.name} is not in the addon's manifests (the pinned release changed?); the patch was for: ${why}`);
    for (const op of patch) {
      try {
        applyOperation(object, op);
      } catch (error) {
        throw new AddonInstallError(addon.name, `patch ${op.op} ${op.path} on ${describeObject(object)}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  return result;
}

/** One RFC 6902 add/replace/remove on a JSON document, `-` appending to arrays. */
function applyOperation(document: unknown, op: AddonPatch['patch'][number]): void {
  if (!op.path.startsWith('/')) throw new Error('the path must start with "/"');
  const tokens = op.path
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
  const last = tokens.pop();
  if (last === undefined) throw new Error('the path names no member');
  let parent: unknown = document;
  for (const token of tokens) {
    parent = Array.isArray(parent) ? parent[Number(token)] : (parent as Record<string, unknown> | undefined)?.[token];
    if (parent === undefined || parent === null || typeof parent !== 'object') throw new Error(`"${token}" does not exist`);
  }
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length || (op.op !== 'add' && index >= parent.length)) throw new Error(`array index "${last}" is out of range (length ${parent.length})`);
    if (op.op === 'add') parent.splice(index, 0, op.value);
    else if (op.op === 'replace') parent[index] = op.value;
    else parent.splice(index, 1);
    return;
  }
  const record = parent as Record<string, unknown>;
  if (op.op !== 'add' && !(last in record)) throw new Error(`"${last}" does not exist`);
  if (op.op === 'remove') delete record[last];
  else record[last] = op.value;
}

/** `helm` on PATH could not be found; names the addon and how to get Helm. */
export class HelmMissingError extends AddonInstallError {
  constructor(addon: string) {
    super(addon, 'is installed with Helm, but `helm` was not found on PATH; install it (https://helm.sh/docs/intro/install/) or leave the addon out');
    this.name = 'HelmMissingError';
  }
}

/** The `helm upgrade --install` arguments for an addon (exported for `resilience plan`). */
export function helmArgs(addon: Addon, source: Extract<Addon['source'], { type: 'helm' }>, files: { kubeconfig: string; values: string }, context: string): string[] {
  return ['upgrade', '--install', source.release, source.chart, '--repo', source.repo, '--version', source.version, '--namespace', addon.namespace, '--create-namespace', '--values', files.values, '--kubeconfig', files.kubeconfig, '--kube-context', context];
}

async function helmInstall(addon: Addon, source: Extract<Addon['source'], { type: 'helm' }>, options: InstallAddonsOptions): Promise<void> {
  const helm = findOnPath('helm', options.helmPath ?? process.env.PATH ?? '');
  if (!helm) throw new HelmMissingError(addon.name);
  // Helm reads a kubeconfig file; the in-memory one (maybe built from options) is written,
  // private to us, and removed whatever happens.
  const dir = mkdtempSync(join(tmpdir(), `resilience-helm-${addon.name}-`));
  try {
    const files = { kubeconfig: join(dir, 'kubeconfig'), values: join(dir, 'values.yaml') };
    writeFileSync(files.kubeconfig, options.kubeConfig.exportConfig(), { mode: 0o600 });
    chmodSync(files.kubeconfig, 0o600);
    writeFileSync(files.values, stringify(source.values));
    const args = helmArgs(addon, source, files, options.kubeConfig.getCurrentContext());
    const result = await execa(helm, args, { reject: false, all: true, ...(options.signal ? { cancelSignal: options.signal } : {}) });
    options.signal?.throwIfAborted();
    if (result.failed) throw new AddonInstallError(addon.name, `\`helm ${args.slice(0, 4).join(' ')} …\` failed (exit ${String(result.exitCode)}):\n${String(result.all ?? '').trim().split('\n').slice(-20).join('\n') || result.message}`);
    options.log(`  helm installed ${source.chart} ${source.version} as release ${source.release} in ${addon.namespace}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function awaitReadiness(addon: Addon, options: InstallAddonsOptions): Promise<void> {
  const client = ObjectClient.fromKubeConfig(options.kubeConfig);
  for (const target of addon.readiness) {
    const timeoutMs = options.readyTimeoutMs ?? 300_000;
    options.log(`  waiting for ${target.kind} ${target.namespace ?? ''}/${target.name} (up to ${Math.round(timeoutMs / 1000)}s)`);
    try {
      await waitForCondition({ kubeConfig: options.kubeConfig, client, target, condition: 'ready', timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (error) {
      options.signal?.throwIfAborted();
      throw new AddonInstallError(addon.name, error instanceof Error ? error.message : String(error), { cause: error });
    }
  }
}

function findOnPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      if (statSync(candidate).isFile()) {
        accessSync(candidate, constants.X_OK);
        return candidate;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}
