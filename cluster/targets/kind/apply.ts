import type { KubeConfig } from '@kubernetes/client-node';
import { APPLY_STAGES, orderForApply, refOf, stageOf, type ApplyStage, type ObjectRef, type WaitCondition } from './apply-order.ts';
import { assertChaosAllowed } from './context-safety.ts';
import { describeApiError, ObjectClient } from './object-client.ts';
import { describeObject, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_LABEL, withLabels, type KubeObject } from './objects.ts';
import { refName, waitForCondition } from './watch-ready.ts';

/**
 * Applies a manifest set to a cluster the way a run needs it: server-side apply in dependency
 * order (apply-order.ts), every object labelled with the run that created it, readiness awaited
 * by watching with deadlines, progress reported as it goes. `deleteByLabel` is the teardown.
 *
 * Ownership rule (why an existing cluster is safe): an object that already existed and was not
 * created by the harness is applied without the harness's labels and reported as `adopted`, so no
 * teardown ever deletes it. Objects the harness created (in this run or an earlier `--reuse` run)
 * carry `app.kubernetes.io/managed-by=hastecrm-resilience` and `resilience.hastecrm.io/run=<runId>`.
 */

export interface ApplyOptions {
  kubeConfig: KubeConfig;
  objects: readonly KubeObject[];
  /** Names this run; objects it creates are labelled with it. */
  runId: string;
  /** Server-side-apply field manager. Default `hastecrm-resilience`. */
  fieldManager?: string;
  signal?: AbortSignal;
  onProgress?: (event: ApplyProgress) => void;
  /** How long a CRD may take to be Established. Default 60 s. */
  establishedTimeoutMs?: number;
  /** How long a workload may take to become ready. Default 5 min. */
  readyTimeoutMs?: number;
  /** Wait for workloads before custom resources. Default true. */
  waitForWorkloads?: boolean;
  /** A non-kind context the user allowed with --allow-context. */
  allowContext?: string;
}

export type ApplyProgress =
  | { type: 'applied'; stage: ApplyStage; object: string; created: boolean; adopted: boolean; index: number; total: number }
  | { type: 'waiting'; stage: ApplyStage; object: string; condition: WaitCondition; timeoutMs: number }
  | { type: 'status'; object: string; condition: WaitCondition; detail: string }
  | { type: 'ready'; object: string; condition: WaitCondition; elapsedMs: number };

export interface AppliedObject {
  ref: ObjectRef;
  stage: ApplyStage;
  /** It did not exist before this apply. */
  created: boolean;
  /** It existed and was not the harness's: applied without labels, never deleted by teardown. */
  adopted: boolean;
}

export interface ApplyResult {
  applied: AppliedObject[];
}

/** Applying one object failed; names it. The objects applied before it are in `applied`. */
export class ApplyError extends Error {
  constructor(
    message: string,
    readonly applied: AppliedObject[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApplyError';
  }
}

export const DEFAULT_FIELD_MANAGER = MANAGED_BY_VALUE;

/** The label selector of everything one run created. */
export function runSelector(runId: string): string {
  return `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${RUN_LABEL}=${runId}`;
}

/**
 * Applies `objects` in dependency order. Rejects before any request when the current context is
 * not kind-* (or the allowed one); with ApplyError naming the object when an apply fails; with
 * ReadinessTimeoutError/ReadinessFailedError naming the object when a wait fails; with the
 * signal's reason when aborted. Never sleeps: every wait is a watch with a deadline.
 */
export async function applyManifests(options: ApplyOptions): Promise<ApplyResult> {
  assertChaosAllowed(options.kubeConfig.getCurrentContext(), { allowContext: options.allowContext });
  assertRunId(options.runId);
  const fieldManager = options.fieldManager ?? DEFAULT_FIELD_MANAGER;
  const client = ObjectClient.fromKubeConfig(options.kubeConfig);
  const actions = orderForApply(options.objects, { waitForWorkloads: options.waitForWorkloads ?? true });
  const total = actions.filter((a) => a.type === 'apply').length;
  const applied: AppliedObject[] = [];
  const progress = options.onProgress ?? (() => undefined);

  for (const action of actions) {
    options.signal?.throwIfAborted();
    if (action.type === 'apply') {
      const { object, stage } = action;
      let result: AppliedObject;
      try {
        result = await applyOne(client, object, stage, options.runId, fieldManager);
      } catch (error) {
        throw new ApplyError(`applying ${describeApiError(error, object)}`, applied, { cause: error });
      }
      applied.push(result);
      progress({ type: 'applied', stage, object: describeObject(object), created: result.created, adopted: result.adopted, index: applied.length, total });
    } else {
      const timeoutMs = action.condition === 'established' ? (options.establishedTimeoutMs ?? 60_000) : (options.readyTimeoutMs ?? 300_000);
      const name = refName(action.target);
      progress({ type: 'waiting', stage: action.stage, object: name, condition: action.condition, timeoutMs });
      const started = Date.now();
      await waitForCondition({
        kubeConfig: options.kubeConfig,
        client,
        target: action.target,
        condition: action.condition,
        timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
        onStatus: (detail) => progress({ type: 'status', object: name, condition: action.condition, detail }),
      });
      progress({ type: 'ready', object: name, condition: action.condition, elapsedMs: Date.now() - started });
    }
  }
  return { applied };
}

async function applyOne(client: ObjectClient, object: KubeObject, stage: ApplyStage, runId: string, fieldManager: string): Promise<AppliedObject> {
  const ref = refOf(object);
  // Resolve the namespace the server will use, so the ref names the real object.
  if (ref.namespace === undefined && (await client.isNamespaced(ref.apiVersion, ref.kind))) ref.namespace = client.contextNamespace;
  const existing = await client.getObject(ref);
  const ours = existing?.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
  const adopted = existing !== undefined && !ours;
  const toApply = adopted ? object : withLabels(object, { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_LABEL]: runId });
  await client.serverSideApply(ref.namespace === undefined ? toApply : { ...toApply, metadata: { ...toApply.metadata, namespace: ref.namespace } }, { fieldManager, force: true });
  return { ref, stage, created: existing === undefined, adopted };
}

export interface DeleteOptions {
  kubeConfig: KubeConfig;
  runId: string;
  /**
   * The kinds to look in. Default: every kind the server serves that can be listed and deleted
   * (from discovery), so a teardown after a crash finds everything the run created.
   */
  kinds?: readonly { apiVersion: string; kind: string }[];
  signal?: AbortSignal;
  onProgress?: (event: { type: 'deleted' | 'gone'; object: string }) => void;
  allowContext?: string;
}

export interface DeleteResult {
  deleted: ObjectRef[];
  failed: { ref: ObjectRef; error: string }[];
}

/**
 * Deletes every object labelled with this run (and managed by the harness), custom resources
 * first and CRDs last (reverse apply order). Idempotent: objects already gone are skipped.
 * One failure does not stop the others; they are returned in `failed`.
 */
export async function deleteByLabel(options: DeleteOptions): Promise<DeleteResult> {
  assertChaosAllowed(options.kubeConfig.getCurrentContext(), { allowContext: options.allowContext });
  assertRunId(options.runId);
  const client = ObjectClient.fromKubeConfig(options.kubeConfig);
  const kinds = options.kinds ?? (await discoverDeletableKinds(client));
  const selector = runSelector(options.runId);
  const found: KubeObject[] = [];
  for (const { apiVersion, kind } of kinds) {
    options.signal?.throwIfAborted();
    // A kind this server does not serve (an addon not installed) has nothing of ours.
    if ((await client.isNamespaced(apiVersion, kind).catch(() => undefined)) === undefined) continue;
    for (const item of await client.listByLabel(apiVersion, kind, selector)) {
      // Belt and braces: the selector already requires both labels.
      if (item.metadata.labels?.[RUN_LABEL] === options.runId && item.metadata.labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) found.push(item);
    }
  }
  const stageRank = (o: KubeObject): number => APPLY_STAGES.indexOf(stageOf(o));
  found.sort((a, b) => stageRank(b) - stageRank(a));
  const result: DeleteResult = { deleted: [], failed: [] };
  for (const object of found) {
    options.signal?.throwIfAborted();
    const ref = refOf(object);
    try {
      const outcome = await client.deleteObject(ref);
      if (outcome === 'deleted') result.deleted.push(ref);
      options.onProgress?.({ type: outcome, object: describeObject(object) });
    } catch (error) {
      result.failed.push({ ref, error: describeApiError(error, object) });
    }
  }
  return result;
}

/** Every kind the server serves that supports list and delete (top-level resources only). */
async function discoverDeletableKinds(client: ObjectClient): Promise<{ apiVersion: string; kind: string }[]> {
  const groupVersions = ['v1', ...(await client.listGroupVersions())];
  const kinds: { apiVersion: string; kind: string }[] = [];
  for (const apiVersion of groupVersions) {
    for (const r of await client.listResources(apiVersion)) {
      if (!r.name.includes('/') && r.verbs.includes('list') && r.verbs.includes('delete')) kinds.push({ apiVersion, kind: r.kind });
    }
  }
  return kinds;
}

function assertRunId(runId: string): void {
  // Label values: at most 63 characters, alphanumerics, '-', '_' and '.', alphanumeric at both ends.
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(runId)) throw new Error(`run id "${runId}" is not a valid label value (≤ 63 characters: letters, digits, '-', '_', '.')`);
}

/** One progress line for the console, e.g. `  [3/12] applied Deployment hastecrm/hastecrm-api (created)`. */
export function formatApplyProgress(event: ApplyProgress): string {
  switch (event.type) {
    case 'applied':
      return `  [${event.index}/${event.total}] applied ${event.object} (${event.adopted ? 'existing, not created by the harness: left unlabelled' : event.created ? 'created' : 'updated'})`;
    case 'waiting':
      return `  waiting for ${event.object} to be ${event.condition === 'established' ? 'Established' : 'ready'} (up to ${Math.round(event.timeoutMs / 1000)}s)`;
    case 'status':
      return `    ${event.object}: ${event.detail}`;
    case 'ready':
      return `  ✔ ${event.object} ${event.condition === 'established' ? 'Established' : 'ready'} after ${(event.elapsedMs / 1000).toFixed(1)}s`;
  }
}
