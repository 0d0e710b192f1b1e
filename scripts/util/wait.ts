/**
 * Readiness by polling with a deadline, never a fixed sleep.
 *
 * `waitUntil` calls `probe` until it returns a value other than `undefined`/`false`, or the
 * deadline passes, or `signal` aborts. The last probe error is kept so the timeout message can say
 * why the thing never became ready.
 */
export class WaitTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastError: unknown,
  ) {
    const why = lastError instanceof Error ? `: last error: ${lastError.message}` : typeof lastError === 'string' ? `: ${lastError}` : '';
    super(`${what} was not ready within ${timeoutMs} ms${why}`);
    this.name = 'WaitTimeoutError';
  }
}

export interface WaitOptions {
  /** What is being waited for, used in the timeout message ("PostgreSQL on 127.0.0.1:5433"). */
  what: string;
  timeoutMs: number;
  /** Delay between probes; grows by half each round up to 4× this value. Default 50 ms. */
  intervalMs?: number;
  signal?: AbortSignal;
}

export async function waitUntil<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const baseInterval = options.intervalMs ?? 50;
  let interval = baseInterval;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new WaitTimeoutError(options.what, options.timeoutMs, lastError);
    await sleep(Math.min(interval, left), options.signal);
    interval = Math.min(interval * 1.5, baseInterval * 4);
  }
}

/** A sleep that ends early (rejecting with the abort reason) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
