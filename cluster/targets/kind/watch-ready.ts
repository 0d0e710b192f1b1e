import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { ObjectRef, WaitCondition } from './apply-order.ts';
import type { ObjectClient } from './object-client.ts';
import { judgeReadiness, type ReadinessVerdict } from './readiness.ts';

/**
 * Waits for one object to reach a condition by watching it (a watch on its collection with a
 * `metadata.name` field selector), never by polling: the API server's first events are the
 * current state, later ones every change, so readiness is seen the moment the controller reports
 * it. A watch the server closes (its own timeout) is re-opened at once; the deadline is ours.
 */

/** The object did not reach its condition before the deadline. Names the object and its last status. */
export class ReadinessTimeoutError extends Error {
  constructor(
    readonly target: ObjectRef,
    readonly condition: WaitCondition,
    readonly timeoutMs: number,
    readonly lastDetail: string,
  ) {
    super(`${refName(target)} did not become ${condition === 'established' ? 'Established' : 'ready'} within ${formatMs(timeoutMs)}; last seen: ${lastDetail}`);
    this.name = 'ReadinessTimeoutError';
  }
}

/** The controller reported a state waiting cannot fix (e.g. ProgressDeadlineExceeded). */
export class ReadinessFailedError extends Error {
  constructor(
    readonly target: ObjectRef,
    readonly detail: string,
  ) {
    super(`${refName(target)} cannot become ready: ${detail}`);
    this.name = 'ReadinessFailedError';
  }
}

export interface WaitOptions {
  kubeConfig: KubeConfig;
  client: ObjectClient;
  target: ObjectRef;
  condition: WaitCondition;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with every status change seen (not with repeats). */
  onStatus?: (detail: string) => void;
}

export function refName(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms} ms`;
}

/** Resolves when ready; rejects with ReadinessTimeoutError, ReadinessFailedError, a watch error, or the signal's reason. */
export async function waitForCondition(options: WaitOptions): Promise<void> {
  const { kubeConfig, client, target, condition, timeoutMs, signal, onStatus } = options;
  signal?.throwIfAborted();
  const path = await client.collectionPath(target.apiVersion, target.kind, target.namespace);
  const watch = new Watch(kubeConfig);

  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let lastDetail = 'not seen yet (the object does not exist)';
    let controller: AbortController | undefined;

    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      controller?.abort();
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error(describeUnknown(error)));
    };
    const onAbort = (): void => finish(signal?.reason ?? new Error('aborted'));
    const timer = setTimeout(() => finish(new ReadinessTimeoutError(target, condition, timeoutMs, lastDetail)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });

    const observe = (type: string, object: unknown): void => {
      if (settled) return;
      if (type === 'ERROR') {
        const status = object as { message?: string; code?: number } | undefined;
        finish(new Error(`watching ${refName(target)} failed: ${status?.message ?? 'watch error'}${status?.code ? ` (HTTP ${status.code})` : ''}`));
        return;
      }
      if (type === 'BOOKMARK') return;
      const verdict: ReadinessVerdict = type === 'DELETED' ? { ready: false, detail: 'deleted' } : judgeReadiness(target.kind, condition, object);
      if (verdict.detail !== lastDetail) {
        lastDetail = verdict.detail;
        onStatus?.(verdict.detail);
      }
      if (verdict.failed) finish(new ReadinessFailedError(target, verdict.detail));
      else if (verdict.ready) finish();
    };

    const open = (): void => {
      if (settled) return;
      watch
        .watch(path, { fieldSelector: `metadata.name=${target.name}` }, observe, (error: unknown) => {
          if (settled) return;
          // A clean close is the server ending a long watch: re-open. An error is reported.
          if (error === null || error === undefined) open();
          else finish(new Error(`watching ${refName(target)} failed: ${error instanceof Error ? error.message : describeUnknown(error)}`));
        })
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        })
        .catch((error: unknown) => finish(error));
    };
    open();
  });
}

function describeUnknown(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return 'unknown error';
  }
}
