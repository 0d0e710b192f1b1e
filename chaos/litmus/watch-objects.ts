import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { ObjectClient } from '../../cluster/targets/kind/object-client.ts';
import type { KubeObject } from '../../cluster/targets/kind/objects.ts';

/**
 * Watches a collection (optionally one object of it by name) until `observe` says it has what it
 * waited for, the deadline passes or the signal aborts, whichever is first. Never polls: the API
 * server's first events are the current state, later ones every change. A watch the server
 * closes (its own timeout) is re-opened at once; the deadline is ours.
 */

export interface WatchObjectsOptions<T> {
  kubeConfig: KubeConfig;
  client: ObjectClient;
  apiVersion: string;
  kind: string;
  namespace: string;
  /** Only this object (a `metadata.name` field selector). */
  name?: string;
  /** Called for every ADDED/MODIFIED/DELETED event; a value other than undefined ends the watch. */
  observe: (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject) => T | undefined;
  timeoutMs: number;
  signal?: AbortSignal;
}

const MAX_REOPENS = 100;

export type WatchOutcome<T> = { type: 'done'; value: T } | { type: 'deadline' } | { type: 'aborted'; reason: unknown };

/** Resolves with the outcome; rejects only when the watch itself fails (HTTP error, ERROR event). */
export async function watchObjects<T>(options: WatchObjectsOptions<T>): Promise<WatchOutcome<T>> {
  const { kubeConfig, client, apiVersion, kind, namespace, name, observe, timeoutMs, signal } = options;
  if (signal?.aborted) return { type: 'aborted', reason: signal.reason };
  const path = await client.collectionPath(apiVersion, kind, namespace);
  const watch = new Watch(kubeConfig);
  const what = `${kind} ${namespace}/${name ?? '*'}`;

  return new Promise<WatchOutcome<T>>((resolve, reject) => {
    let settled = false;
    let controller: AbortController | undefined;
    // Bounds re-opening: a server that closes every watch at once must not make this spin.
    let reopens = 0;
    const finish = (outcome: WatchOutcome<T> | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      controller?.abort();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const onAbort = (): void => finish({ type: 'aborted', reason: signal?.reason });
    const timer = setTimeout(() => finish({ type: 'deadline' }), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });

    const onEvent = (type: string, object: unknown): void => {
      if (settled) return;
      if (type === 'ERROR') {
        const status = object as { message?: string; code?: number } | undefined;
        finish(new Error(`watching ${what} failed: ${status?.message ?? 'watch error'}${status?.code ? ` (HTTP ${status.code})` : ''}`));
        return;
      }
      if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
      let value: T | undefined;
      try {
        value = observe(type, object as KubeObject);
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (value !== undefined) finish({ type: 'done', value });
    };

    const open = (): void => {
      if (settled) return;
      watch
        .watch(path, name === undefined ? {} : { fieldSelector: `metadata.name=${name}` }, onEvent, (error: unknown) => {
          if (settled) return;
          // A clean close is the server ending a long watch: re-open. An error is reported.
          if ((error === null || error === undefined) && reopens++ < MAX_REOPENS) open();
          else if (error === null || error === undefined) finish(new Error(`watching ${what} failed: the server closed the watch ${MAX_REOPENS} times`));
          else finish(new Error(`watching ${what} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`));
        })
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        })
        .catch((error: unknown) => finish(error instanceof Error ? error : new Error(String(error))));
    };
    open();
  });
}
