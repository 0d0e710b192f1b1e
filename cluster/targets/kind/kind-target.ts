import { request } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { selectAddons, type Addon } from '../../addons/kind/addons.ts';
import { buildKustomization, manifestPaths } from '../../manifests/build.ts';
import type { BinaryLookupOptions } from '../local/binaries.ts';
import { installAddons } from './addon-install.ts';
import { API_IMAGE_REPOSITORY, buildApiImage, kindLoad } from './api-image.ts';
import { applyManifests, deleteByLabel, formatApplyProgress } from './apply.ts';
import { assertChaosAllowed, kindContextName } from './context-safety.ts';
import { clusterDown, clusterUp } from './kind-cluster.ts';
import { resolveKindConfigOptions } from './kind-config.ts';
import type { KubeObject } from './objects.ts';
import { KindPodControl } from './pod-control.ts';

/**
 * hasteCRM on a kind cluster, with the same shape the pipeline expects from the local target
 * (baseUrl, replicaSet() as PodControl, restarts(), stop()):
 *
 * start: cluster up (or reuse) → addons installed and ready → API image built and `kind load`ed →
 * the kind overlay built, its API image replaced by the one just built, server-side applied with
 * the run's label, workloads awaited by watching → the API answering through the ingress port.
 *
 * stop: the run's objects deleted by label (addons and anything not created by this run stay),
 * and the cluster deleted when this run created it and `reuse` was not asked for. Idempotent,
 * and safe after a start that failed half way.
 */

export interface KindTargetOptions {
  runId: string;
  /** Where the kind and encryption configs are written. */
  stateDir: string;
  /** kind cluster name (context `kind-<name>`). Default `hastecrm`. */
  clusterName?: string;
  /** Use an existing cluster of that name, and keep the cluster on stop. */
  reuse?: boolean;
  workers?: number;
  ingressHostPort?: number;
  prometheusHostPort?: number;
  /** Optional addons to add to the required ones (e.g. `flagger`). */
  optionalAddons?: readonly string[];
  /** A non-kind context the user allowed with --allow-context (only with `kubeConfig`). */
  allowContext?: string;
  /** kubeconfig file kind writes and the target reads. Default: $KUBECONFIG or ~/.kube/config. */
  kubeconfigPath?: string;
  /** The namespace of the API pods chaos acts on. Default `hastecrm-production`. */
  namespace?: string;
  /** Labels of the API pods. Default `{ app: 'hastecrm-api' }`. */
  apiSelector?: Record<string, string>;
  /** Host name the Ingress routes to the API (cluster/manifests/base/ingress.yaml). Default `api.hastecrm.com`. */
  apiHost?: string;
  /** Workload readiness deadline. Default 5 min. */
  readyTimeoutMs?: number;
  log: (message: string) => void;
  lookup?: BinaryLookupOptions;
  /** Downloads addon manifests. Default global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Seams for tests and for `--image`: a ready KubeConfig, the addons, the objects, the image. */
  kubeConfig?: KubeConfig;
  addons?: readonly Addon[];
  buildManifests?: () => Promise<KubeObject[]>;
  buildImage?: () => Promise<string>;
}

export class KindTarget {
  private podControl: KindPodControl | undefined;
  private kubeConfig: KubeConfig | undefined;
  private createdCluster = false;
  private stopping: Promise<void> | undefined;
  private image: string | undefined;
  private readonly ports: { ingress: number; prometheus: number; listen: string };

  constructor(private readonly options: KindTargetOptions) {
    // Same defaults and checks as the generated kind config, so the URLs match its port mappings.
    const resolved = resolveKindConfigOptions({ encryptionConfigPath: '/unused', ...(options.clusterName ? { name: options.clusterName } : {}), ...(options.ingressHostPort ? { ingressHostPort: options.ingressHostPort } : {}), ...(options.prometheusHostPort ? { prometheusHostPort: options.prometheusHostPort } : {}) });
    this.ports = { ingress: resolved.ingressHostPort, prometheus: resolved.prometheusHostPort, listen: resolved.listenAddress };
  }

  get clusterName(): string {
    return this.options.clusterName ?? 'hastecrm';
  }

  /** The ingress on the host (kind's port mapping). Requests need `Host: <apiHost>` (see apiHost). */
  get baseUrl(): string {
    return `http://${this.ports.listen}:${this.ports.ingress}`;
  }

  /** The Host header the Ingress routes to the API. */
  get apiHost(): string {
    return this.options.apiHost ?? 'api.hastecrm.com';
  }

  /** The in-cluster Prometheus (NodePort mapped to the host): query it for the SLOs. */
  get prometheusUrl(): string {
    return `http://${this.ports.listen}:${this.ports.prometheus}`;
  }

  /** The API image this run built and loaded. */
  get apiImage(): string | undefined {
    return this.image;
  }

  async start(signal: AbortSignal): Promise<void> {
    const { log } = this.options;
    const name = this.clusterName;
    const kubeConfig = this.options.kubeConfig ?? (await this.clusterUp(signal));
    this.kubeConfig = kubeConfig;
    // Before the first write: only kind-* contexts (or the one explicitly allowed).
    assertChaosAllowed(kubeConfig.getCurrentContext(), { allowContext: this.options.allowContext });

    const addons = this.options.addons ?? selectAddons(this.options.optionalAddons ?? []);
    log(`installing ${addons.length} addon(s): ${addons.map((a) => a.name).join(', ') || 'none'}`);
    await installAddons({ kubeConfig, addons, log, signal, ...(this.options.fetch ? { fetch: this.options.fetch } : {}), ...(this.options.allowContext ? { allowContext: this.options.allowContext } : {}), ...(this.options.readyTimeoutMs ? { readyTimeoutMs: this.options.readyTimeoutMs } : {}) });

    log('building the API image');
    const image = await (this.options.buildImage ?? (() => buildApiImage({ ...(this.options.lookup ? { lookup: this.options.lookup } : {}), signal, onOutput: log })))();
    this.image = image;
    log(`loading ${image} into kind cluster ${name}`);
    await kindLoad(image, name, { ...(this.options.lookup ? { lookup: this.options.lookup } : {}), signal });

    const objects = withApiImage(await (this.options.buildManifests ?? (() => buildKustomization(manifestPaths.kindOverlay)))(), image);
    log(`applying ${objects.length} objects of the kind overlay (run ${this.options.runId})`);
    await applyManifests({
      kubeConfig,
      objects,
      runId: this.options.runId,
      signal,
      readyTimeoutMs: this.options.readyTimeoutMs ?? 300_000,
      ...(this.options.allowContext ? { allowContext: this.options.allowContext } : {}),
      onProgress: (event) => log(formatApplyProgress(event)),
    });

    this.podControl = await KindPodControl.start({ kubeConfig, namespace: this.options.namespace ?? 'hastecrm-production', selector: this.options.apiSelector ?? { app: 'hastecrm-api' }, ...(this.options.allowContext ? { allowContext: this.options.allowContext } : {}) });
    await waitForIngress(this.baseUrl, this.apiHost, this.options.readyTimeoutMs ?? 120_000, signal);
    log(`hasteCRM API at ${this.baseUrl} (Host: ${this.apiHost}), Prometheus at ${this.prometheusUrl}`);
  }

  /** The API pods, for pod-delete chaos. */
  replicaSet(): KindPodControl {
    if (!this.podControl) throw new Error('the kind target has not started');
    return this.podControl;
  }

  /** API pods replaced or restarted so far. */
  restarts(): number {
    return this.podControl?.restartCount() ?? 0;
  }

  /** Deletes this run's objects, then the cluster if this run created it (unless reuse). Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const errors: string[] = [];
      this.podControl?.close();
      if (this.kubeConfig) {
        try {
          const result = await deleteByLabel({ kubeConfig: this.kubeConfig, runId: this.options.runId, ...(this.options.allowContext ? { allowContext: this.options.allowContext } : {}), onProgress: (e) => this.options.log(`  ${e.type} ${e.object}`) });
          errors.push(...result.failed.map((f) => f.error));
        } catch (error) {
          errors.push(error instanceof Error ? error.message : String(error));
        }
      }
      if (this.createdCluster && !this.options.reuse) {
        try {
          await clusterDown({ name: this.clusterName, ...(this.options.kubeconfigPath ? { kubeconfig: this.options.kubeconfigPath } : {}), ...(this.options.lookup ? { lookup: this.options.lookup } : {}) });
        } catch (error) {
          errors.push(error instanceof Error ? error.message : String(error));
        }
      }
      if (errors.length > 0) throw new Error(`stopping the kind target left things behind: ${errors.join('; ')}`);
    })();
    return this.stopping;
  }

  private async clusterUp(signal: AbortSignal): Promise<KubeConfig> {
    const o = this.options;
    const up = await clusterUp({
      stateDir: o.stateDir,
      name: this.clusterName,
      ...(o.reuse ? { reuse: true } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ingressHostPort: this.ports.ingress,
      prometheusHostPort: this.ports.prometheus,
      ...(o.kubeconfigPath ? { kubeconfig: o.kubeconfigPath } : {}),
      ...(o.lookup ? { lookup: o.lookup } : {}),
      signal,
      onOutput: o.log,
    });
    this.createdCluster = up.created;
    o.log(up.created ? `created kind cluster ${up.name}` : `reusing kind cluster ${up.name}`);
    return loadKindKubeConfig(this.clusterName, o.kubeconfigPath);
  }
}

/**
 * The kubeconfig kind wrote, with the cluster's context selected in memory (the file's current
 * context is not changed). Rejects naming the file when the context is not there.
 */
export function loadKindKubeConfig(clusterName: string, kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromDefault();
  const context = kindContextName(clusterName);
  if (!kc.getContextObject(context)) throw new Error(`the kubeconfig ${kubeconfigPath ?? process.env.KUBECONFIG ?? '~/.kube/config'} has no context "${context}": was the cluster created with another --kubeconfig? Run \`kind export kubeconfig --name ${clusterName}\``);
  kc.setCurrentContext(context);
  return kc;
}

/** The objects with every `hastecrm/api[:tag]` container image replaced by `image`. */
export function withApiImage(objects: readonly KubeObject[], image: string): KubeObject[] {
  const isApi = (ref: unknown): boolean => typeof ref === 'string' && (ref === API_IMAGE_REPOSITORY || ref.startsWith(`${API_IMAGE_REPOSITORY}:`) || ref.startsWith(`${API_IMAGE_REPOSITORY}@`));
  return objects.map((object) => {
    const copy = structuredClone(object);
    const podSpec = (copy as { spec?: { template?: { spec?: { containers?: { image?: string }[]; initContainers?: { image?: string }[] } } } }).spec?.template?.spec;
    for (const container of [...(podSpec?.containers ?? []), ...(podSpec?.initContainers ?? [])]) {
      if (isApi(container.image)) {
        container.image = image;
        // Loaded with `kind load`, never pulled: IfNotPresent keeps the kubelet from trying a registry.
        (container as { imagePullPolicy?: string }).imagePullPolicy = 'IfNotPresent';
      }
    }
    return copy;
  });
}

/**
 * Waits until the API answers 200 on /ready through the ingress, with the Ingress's Host header
 * (which fetch cannot set: node:http is used). Polls with a deadline: the port mapping has no
 * watch to offer.
 */
export async function waitForIngress(baseUrl: string, host: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (let attempt = 0; attempt < 10_000; attempt += 1) {
    signal?.throwIfAborted();
    const status = await probe(`${baseUrl}/ready`, host).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    if (status === 200) return;
    last = typeof status === 'number' ? `HTTP ${status}` : status;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(500, 50 * 2 ** Math.min(attempt, 4))));
  }
  throw new Error(`the API did not answer 200 on ${baseUrl}/ready (Host: ${host}) within ${timeoutMs} ms; last: ${last}. Is ingress-nginx ready, and is host port ${new URL(baseUrl).port} mapped by the kind config?`);
}

function probe(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host }, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 2000 ms')));
    req.on('error', reject);
    req.end();
  });
}
