import { sleep } from '../util/wait.ts';

/**
 * Runs a run's stages as setup/teardown pairs (Playwright's task runner is the model): setups in
 * order, then teardowns in reverse for every task whose setup started — always: after success,
 * after a failure, on SIGINT/SIGTERM (the caller aborts `signal`) and on the deadline.
 *
 * Ctrl-C, deadlines and failures are handled here once, not in every stage.
 */
export interface Task<Ctx> {
  title: string;
  /** Should honour `signal`; the runner also stops waiting for it once the signal aborts. */
  setup(ctx: Ctx, signal: AbortSignal): Promise<void>;
  /** Undo what setup did. Runs even if setup threw or was aborted part way; must be idempotent. */
  teardown?(ctx: Ctx): Promise<void>;
}

export interface TaskEvents {
  onTaskStart?(title: string): void;
  onTaskEnd?(title: string, outcome: 'ok' | 'failed' | 'aborted', durationMs: number, error?: unknown): void;
  onTeardownStart?(title: string): void;
  onTeardownEnd?(title: string, durationMs: number, error?: unknown): void;
}

export type RunOutcome =
  | { status: 'completed'; teardownErrors: TeardownError[] }
  | { status: 'failed'; task: string; error: unknown; teardownErrors: TeardownError[] }
  | { status: 'aborted'; task: string; reason: unknown; teardownErrors: TeardownError[] };

export interface TeardownError {
  task: string;
  error: unknown;
}

const SETTLE_AFTER_ABORT_MS = 10_000;
const noop = (): void => undefined;

export async function runTasks<Ctx>(tasks: readonly Task<Ctx>[], ctx: Ctx, signal: AbortSignal, events: TaskEvents = {}): Promise<RunOutcome> {
  const started: Task<Ctx>[] = [];
  let outcome: { status: 'completed' } | { status: 'failed'; task: string; error: unknown } | { status: 'aborted'; task: string; reason: unknown } = { status: 'completed' };
  for (const task of tasks) {
    if (signal.aborted) {
      outcome = { status: 'aborted', task: task.title, reason: signal.reason };
      break;
    }
    started.push(task);
    events.onTaskStart?.(task.title);
    const startedAt = Date.now();
    const work = task.setup(ctx, signal);
    try {
      await raceAbort(work, signal);
      events.onTaskEnd?.(task.title, 'ok', Date.now() - startedAt);
    } catch (error) {
      if (signal.aborted) {
        // Let the interrupted setup settle (it honours the signal) so its teardown does not race
        // a process it is still starting; bounded, so a stuck setup cannot hold cleanup hostage.
        await Promise.race([work.then(noop, noop), sleep(SETTLE_AFTER_ABORT_MS)]);
        events.onTaskEnd?.(task.title, 'aborted', Date.now() - startedAt, signal.reason);
        outcome = { status: 'aborted', task: task.title, reason: signal.reason };
      } else {
        events.onTaskEnd?.(task.title, 'failed', Date.now() - startedAt, error);
        outcome = { status: 'failed', task: task.title, error };
      }
      break;
    }
  }
  const teardownErrors: TeardownError[] = [];
  for (const task of started.reverse()) {
    if (!task.teardown) continue;
    events.onTeardownStart?.(task.title);
    const startedAt = Date.now();
    try {
      await task.teardown(ctx);
      events.onTeardownEnd?.(task.title, Date.now() - startedAt);
    } catch (error) {
      teardownErrors.push({ task: task.title, error });
      events.onTeardownEnd?.(task.title, Date.now() - startedAt, error);
    }
  }
  return { ...outcome, teardownErrors };
}

/**
 * Resolves or rejects with `work`, or rejects as soon as `signal` aborts. The work's own promise
 * is still observed afterwards so its late rejection is not unhandled.
 */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the setup's own rejection through unchanged
        reject(error);
      },
    );
  });
}
