import { matchesLabelSelector } from '../../../chaos/litmus/experiments.ts';
import { ApiException, CoreV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';
import type { PodControl } from '../../../chaos/types.ts';
import type { Pod } from '../local/replica-set.ts';
import { assertChaosAllowed } from './context-safety.ts';

/**
 * PodControl (chaos/types.ts) over the Kubernetes API, so the pod-delete injector written for the
 * local target runs unchanged against a kind cluster.
 *
 * `pods()` is synchronous in the contract, so this keeps an in-memory view of the namespace's pods
 * the way an informer does: one list (for the current state and its resourceVersion), then a watch
 * from that resourceVersion that applies every ADDED/MODIFIED/DELETED event. Waiting for a deletion
 * or a replacement is done on those events, never by polling, always with a deadline.
 *
 * Mapping to the local Pod shape: `pid` is 0 (a container's pid is not visible through the API),
 * `port` is the first container port, `slot` is the pod's position among its siblings by creation
 * time (stable for a pod while it lives; a replacement takes a new one).
 */

export interface KindPodControlOptions {
  kubeConfig: KubeConfig;
  /** The namespace whose pods are controlled, e.g. `hastecrm-production`. */
  namespace: string;
  /** Only pods with these labels are tracked (e.g. `{ app: 'hastecrm-api' }`). Default: all. */
  selector?: Record<string, string>;
  /** A non-kind context the user allowed with --allow-context. */
  allowContext?: string;
  /** How long `deletePod` waits for the pod to be gone. Default 60 s (30 s grace + margin). */
  deleteTimeoutMs?: number;
  /** How long `start` waits for the first list. Default 15 s. */
  listTimeoutMs?: number;
}

/** One pod as the watch last reported it. */
interface PodRecord {
  name: string;
  uid: string;
  labels: Record<string, string>;
  ready: boolean;
  deleting: boolean;
  createdAt: number;
  startedAt: number;
  port: number;
  restarts: number;
}

/** A wait on the pod view did not finish in time; names what was awaited and what was seen. */
export class PodWaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, seen: string) {
    super(`${what} did not happen within ${timeoutMs} ms; pods seen: ${seen || 'none'}`);
    this.name = 'PodWaitTimeoutError';
  }
}

export class KindPodControl implements PodControl {
  private readonly view = new Map<string, PodRecord>();
  /** Called after every change to the view; waits re-check their condition here. */
  private readonly listeners = new Set<() => void>();
  /** Names of sibling pods alive when a pod was deleted: none of them is its replacement. */
  private readonly siblingsAtDelete = new Map<string, Set<string>>();
  private readonly core: CoreV1Api;
  private watchController: AbortController | undefined;
  private closed = false;
  private watchError: Error | undefined;
  private deletedPods = 0;

  private constructor(private readonly options: KindPodControlOptions) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  /**
   * Lists the namespace's pods and starts watching them. Rejects before any request when the
   * current context is not kind-* (or the allowed one), and with the API's message when the list fails.
   */
  static async start(options: KindPodControlOptions): Promise<KindPodControl> {
    assertChaosAllowed(options.kubeConfig.getCurrentContext(), { allowContext: options.allowContext });
    const control = new KindPodControl(options);
    await control.sync();
    return control;
  }

  /**
   * Ready or not, every tracked pod matching `selector` that is not being deleted. Throws once the
   * watch failed or was closed: a stale view would let chaos act on pods that no longer exist.
   */
  pods(selector: Record<string, string>): Pod[] {
    this.assertUsable();
    return this.live()
      .filter((p) => matchesLabelSelector(p.labels, selector))
      .map((p) => this.toPod(p));
  }

  /** Pods that went away while watched (deleted by chaos or evicted) plus container restarts. */
  restartCount(): number {
    return this.deletedPods + [...this.view.values()].reduce((sum, p) => sum + p.restarts, 0);
  }

  /**
   * Deletes the pod (with its grace period, or at once with `force`: gracePeriodSeconds=0) and
   * resolves once the watch reports it gone. Rejects naming the pod when the API refuses (404
   * included: a pod already gone cannot be the proof of a deletion) or on the deadline.
   */
  async deletePod(name: string, force: boolean): Promise<Pod> {
    this.assertUsable();
    const record = this.view.get(name);
    if (!record) throw new Error(`pod ${this.options.namespace}/${name} is not among the watched pods (${this.names()}): pick one from pods()`);
    const before = this.toPod(record);
    this.siblingsAtDelete.set(name, new Set(this.live().filter((p) => p.name !== name && sameOwner(p.labels, record.labels)).map((p) => p.name)));
    const gone = this.waitFor(() => (this.view.get(name)?.uid === record.uid ? undefined : true), `pod ${this.options.namespace}/${name} to be gone`, this.options.deleteTimeoutMs ?? 60_000);
    try {
      await this.core.deleteNamespacedPod({ name, namespace: this.options.namespace, ...(force ? { gracePeriodSeconds: 0 } : {}) });
    } catch (error) {
      gone.cancel();
      throw new Error(`deleting pod ${this.options.namespace}/${name} failed: ${describeTypedApiError(error)}`, { cause: error });
    }
    await gone.promise;
    return before;
  }

  /**
   * Resolves with a ready pod of the same owner (same labels, pod-template-hash included) that did
   * not exist when `previous` was deleted; rejects with PodWaitTimeoutError after `timeoutMs`, or
   * with the signal's reason.
   */
  async waitForReplacement(previous: Pod, timeoutMs: number, signal?: AbortSignal): Promise<Pod> {
    this.assertUsable();
    const excluded = this.siblingsAtDelete.get(previous.name);
    const wait = this.waitFor(
      () => {
        const candidate = this.live().find((p) => p.ready && p.name !== previous.name && sameOwner(p.labels, previous.labels) && (excluded ? !excluded.has(p.name) : p.createdAt >= previous.startedAt));
        return candidate ? this.toPod(candidate) : undefined;
      },
      `a ready replacement for pod ${this.options.namespace}/${previous.name}`,
      timeoutMs,
      signal,
    );
    const replacement = await wait.promise;
    this.siblingsAtDelete.delete(previous.name);
    return replacement;
  }

  /** Stops the watch. Pending waits reject. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watchController?.abort();
    this.notify();
  }

  private async sync(): Promise<void> {
    const labelSelector = selectorString(this.options.selector);
    const list = await withTimeout(
      this.core.listNamespacedPod({ namespace: this.options.namespace, ...(labelSelector ? { labelSelector } : {}) }),
      this.options.listTimeoutMs ?? 15_000,
      `listing pods in namespace ${this.options.namespace}`,
    ).catch((error: unknown) => {
      throw new Error(`listing pods in namespace ${this.options.namespace} failed: ${describeTypedApiError(error)}`, { cause: error });
    });
    this.view.clear();
    for (const item of list.items) this.upsert(item);
    this.notify();
    this.watchFrom(list.metadata?.resourceVersion);
  }

  private watchFrom(resourceVersion: string | undefined): void {
    if (this.closed) return;
    const labelSelector = selectorString(this.options.selector);
    const query: Record<string, string | boolean> = { allowWatchBookmarks: true };
    if (resourceVersion) query.resourceVersion = resourceVersion;
    if (labelSelector) query.labelSelector = labelSelector;
    let lastVersion = resourceVersion;
    const watch = new Watch(this.options.kubeConfig);
    // Not awaited: the request resolves when the server flushes headers, which may be with the
    // first event; events from `resourceVersion` on are replayed, so nothing is missed meanwhile.
    const opening = watch.watch(
      `/api/v1/namespaces/${this.options.namespace}/pods`,
      query,
      (type: string, object: unknown) => {
        const version = (object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
        if (type === 'ERROR') {
          // 410 Gone: our resourceVersion is too old; a fresh list starts over (informer behaviour).
          const status = object as { code?: number; message?: string };
          if (status.code === 410) lastVersion = undefined;
          else this.fail(new Error(`watching pods in ${this.options.namespace} failed: ${status.message ?? 'watch error'}`));
          return;
        }
        if (version) lastVersion = version;
        if (type === 'BOOKMARK') return;
        const name = (object as { metadata?: { name?: string } }).metadata?.name;
        if (type === 'DELETED' && name !== undefined) {
          if (this.view.delete(name)) this.deletedPods += 1;
        } else this.upsert(object);
        this.notify();
      },
      (error: unknown) => {
        if (this.closed) return;
        // The server ends long watches on its own: resume from the last version seen (or relist).
        if (error === null || error === undefined) {
          if (lastVersion) this.watchFrom(lastVersion);
          else this.sync().catch((e: unknown) => this.fail(e instanceof Error ? e : new Error(String(e))));
        } else this.fail(new Error(`watching pods in ${this.options.namespace} failed: ${describeUnknown(error)}`));
      },
    );
    opening
      .then((controller) => {
        this.watchController = controller;
        if (this.closed) controller.abort();
      })
      .catch((error: unknown) => this.fail(new Error(`watching pods in ${this.options.namespace} failed: ${error instanceof Error ? error.message : String(error)}`)));
  }

  private fail(error: Error): void {
    this.watchError = error;
    this.notify();
  }

  private upsert(raw: unknown): void {
    const record = toRecord(raw);
    if (record) this.view.set(record.name, record);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private assertUsable(): void {
    if (this.closed) throw new Error('this KindPodControl was closed (the kind target stopped)');
    if (this.watchError) throw this.watchError;
  }

  /** Not being deleted, oldest first. */
  private live(): PodRecord[] {
    return [...this.view.values()].filter((p) => !p.deleting).sort((a, b) => a.createdAt - b.createdAt || a.name.localeCompare(b.name));
  }

  private names(): string {
    return [...this.view.keys()].join(', ') || 'none';
  }

  private toPod(record: PodRecord): Pod {
    const siblings = this.live().filter((p) => sameOwner(p.labels, record.labels));
    const slot = Math.max(0, siblings.findIndex((p) => p.name === record.name));
    return { name: record.name, labels: { ...record.labels }, slot, port: record.port, pid: 0, ready: record.ready, startedAt: record.startedAt, restarts: record.restarts };
  }

  /** Resolves with `check()`'s first defined value, re-checked on every view change, with a deadline. */
  private waitFor<T>(check: () => T | undefined, what: string, timeoutMs: number, signal?: AbortSignal): { promise: Promise<T>; cancel: () => void } {
    let cancel: () => void = () => undefined;
    const promise = new Promise<T>((resolve, reject) => {
      const finish = (error: unknown, value?: T): void => {
        clearTimeout(timer);
        this.listeners.delete(onChange);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve(value as T);
        else reject(error instanceof Error ? error : new Error(describeUnknown(error)));
      };
      const onChange = (): void => {
        if (this.closed) return finish(new Error(`stopped waiting for ${what}: the pod watch was closed`));
        if (this.watchError) return finish(this.watchError);
        const value = check();
        if (value !== undefined) finish(undefined, value);
      };
      const onAbort = (): void => finish(signal?.reason ?? new Error('aborted'));
      const timer = setTimeout(() => finish(new PodWaitTimeoutError(what, timeoutMs, this.describeView())), timeoutMs);
      cancel = () => finish(new Error('cancelled'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.listeners.add(onChange);
      onChange();
    });
    // A cancelled wait's rejection is expected; keep it from being reported as unhandled.
    promise.catch(() => undefined);
    return { promise, cancel };
  }

  private describeView(): string {
    return [...this.view.values()].map((p) => `${p.name} (${p.deleting ? 'terminating' : p.ready ? 'ready' : 'not ready'})`).join(', ');
  }
}

/** The labels that say "same controller": all of them (pod-template-hash ties a pod to its ReplicaSet). */
function sameOwner(a: Record<string, string>, b: Record<string, string>): boolean {
  return matchesLabelSelector(a, b) && matchesLabelSelector(b, a);
}


function selectorString(selector: Record<string, string> | undefined): string {
  return Object.entries(selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Raw watch JSON and typed list models both reach here: timestamps may be strings or Dates. */
function toRecord(raw: unknown): PodRecord | undefined {
  const pod = raw as {
    metadata?: { name?: string; uid?: string; labels?: Record<string, string>; deletionTimestamp?: unknown; creationTimestamp?: unknown };
    spec?: { containers?: { ports?: { containerPort?: number }[] }[] };
    status?: { phase?: string; startTime?: unknown; conditions?: { type?: string; status?: string }[]; containerStatuses?: { restartCount?: number }[] };
  };
  const name = pod.metadata?.name;
  if (name === undefined) return undefined;
  const createdAt = timeOf(pod.metadata?.creationTimestamp) ?? Date.now();
  return {
    name,
    uid: pod.metadata?.uid ?? name,
    labels: pod.metadata?.labels ?? {},
    ready: pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    deleting: pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
    createdAt,
    startedAt: timeOf(pod.status?.startTime) ?? createdAt,
    port: pod.spec?.containers?.[0]?.ports?.[0]?.containerPort ?? 0,
    restarts: (pod.status?.containerStatuses ?? []).reduce((sum, c) => sum + (c.restartCount ?? 0), 0),
  };
}

function timeOf(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The typed APIs (CoreV1Api) keep the server's Status as a JSON string: show its message. */
function describeTypedApiError(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = error.body;
    let message: string | undefined;
    if (typeof body === 'string') {
      try {
        message = (JSON.parse(body) as { message?: string }).message ?? body;
      } catch {
        message = body;
      }
    } else message = (body as { message?: string } | undefined)?.message;
    return `HTTP ${error.code}${message ? `: ${message}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function describeUnknown(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return 'unknown error';
  }
}
