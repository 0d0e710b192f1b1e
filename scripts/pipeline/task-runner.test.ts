import { describe, expect, it } from 'vitest';
import { runTasks, type Task } from './task-runner.ts';
import { sleep } from '../util/wait.ts';

function recorder(): { log: string[]; task: (name: string, setup?: (signal: AbortSignal) => Promise<void>, teardown?: () => Promise<void>) => Task<unknown> } {
  const log: string[] = [];
  return {
    log,
    task: (name, setup, teardown) => ({
      title: name,
      async setup(_ctx, signal) {
        log.push(`setup ${name}`);
        await setup?.(signal);
      },
      async teardown() {
        log.push(`teardown ${name}`);
        await teardown?.();
      },
    }),
  };
}

describe('runTasks', () => {
  it('runs setups in order and teardowns in reverse', async () => {
    const { log, task } = recorder();
    const outcome = await runTasks([task('a'), task('b'), task('c')], {}, new AbortController().signal);
    expect(outcome).toEqual({ status: 'completed', teardownErrors: [] });
    expect(log).toEqual(['setup a', 'setup b', 'setup c', 'teardown c', 'teardown b', 'teardown a']);
  });

  it('after a failed setup, tears down that task and the earlier ones, and reports the failure', async () => {
    const { log, task } = recorder();
    const boom = new Error('postgres did not start');
    const outcome = await runTasks([task('a'), task('b', () => Promise.reject(boom)), task('c')], {}, new AbortController().signal);
    expect(outcome).toMatchObject({ status: 'failed', task: 'b', error: boom });
    expect(log).toEqual(['setup a', 'setup b', 'teardown b', 'teardown a']);
  });

  it('on abort stops waiting for the running setup, lets it settle, then tears down', async () => {
    const { log, task } = recorder();
    const controller = new AbortController();
    const slow = (signal: AbortSignal): Promise<void> => sleep(60_000, signal).finally(() => log.push('slow setup settled'));
    setTimeout(() => controller.abort(new Error('SIGINT')), 50);
    const started = Date.now();
    const outcome = await runTasks([task('a'), task('b', slow), task('c')], {}, controller.signal);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(outcome).toMatchObject({ status: 'aborted', task: 'b' });
    expect(log).toEqual(['setup a', 'setup b', 'slow setup settled', 'teardown b', 'teardown a']);
  });

  it('runs every teardown even when one fails, and collects the failures', async () => {
    const { log, task } = recorder();
    const outcome = await runTasks([task('a'), task('b', undefined, () => Promise.reject(new Error('kill failed'))), task('c')], {}, new AbortController().signal);
    expect(outcome.status).toBe('completed');
    expect(outcome.teardownErrors).toEqual([{ task: 'b', error: new Error('kill failed') }]);
    expect(log).toContain('teardown a');
  });

  it('starts nothing when the signal is already aborted', async () => {
    const { log, task } = recorder();
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    const outcome = await runTasks([task('a')], {}, controller.signal);
    expect(outcome).toMatchObject({ status: 'aborted', task: 'a' });
    expect(log).toEqual([]);
  });
});
