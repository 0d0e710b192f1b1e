import { readFileSync } from 'node:fs';
import type { ChaosAction, ExperimentRecord } from '../types.ts';
import type { InjectorContext } from './pod-delete.ts';
import type { ChaosTarget } from './stress.ts';
import { freezeCgroup, freezerState, HarnessCgroup, thawCgroup } from './cgroups.ts';
import { sleep, waitUntil } from '../../scripts/util/wait.ts';

/** The pause experiment: freeze the target for TOTAL_CHAOS_DURATION, as `docker pause` / Litmus's pod pause do. */
export interface PauseSpec {
  name: string;
  durationMs: number;
}

export interface PauseOptions {
  /**
   * Optional liveness probe of the target (e.g. an HTTP GET with a short timeout). When given, the
   * proof also requires that it fails while frozen; it should resolve true when the target answered.
   */
  probe?: () => Promise<boolean>;
}

/** How long the kernel may take to reach FROZEN (tasks in uninterruptible sleep delay it). */
const FREEZE_TIMEOUT_MS = 5_000;

/**
 * Pauses a replica with the cgroup v1 freezer: a harness freezer cgroup around it (ledger:
 * `cgroup-remove`), then FROZEN (ledger: `thaw`, written before the freeze), thawed and removed at
 * the end. Proof of effect: the cgroup reached FROZEN, the process state is `D` (the freezer's
 * sleep) and, with a probe, the target did not answer while frozen.
 */
export async function runPause(spec: PauseSpec, target: ChaosTarget, ctx: InjectorContext, options: PauseOptions = {}): Promise<ExperimentRecord> {
  const start = Date.now();
  const action: ChaosAction = { at: start, action: 'pause', target: `${target.name} (pid ${target.pid})`, tookEffect: false };
  let cgroup: HarnessCgroup | undefined;
  let thawId: string | undefined;
  try {
    cgroup = HarnessCgroup.create({ runId: ctx.runId, name: `${target.name}-${spec.name}`, pid: target.pid, controllers: ['freezer'], ledger: ctx.ledger });
    const dir = cgroup.dir('freezer');
    thawId = ctx.ledger.record({ runId: ctx.runId, kind: 'fault', description: `${spec.name}: freeze ${target.name} (pid ${target.pid})`, revert: { type: 'thaw', path: dir } });
    ctx.log(`${spec.name}: freezing ${target.name} (pid ${target.pid}) for ${spec.durationMs} ms`);
    freezeCgroup(dir);
    const frozenAfter = Date.now();
    await waitUntil(() => freezerState(dir) === 'FROZEN', { what: `freezer ${dir} FROZEN`, timeoutMs: FREEZE_TIMEOUT_MS, intervalMs: 10, signal: ctx.signal });
    const frozenMs = Date.now() - frozenAfter;
    const state = processState(target.pid);
    const answered = options.probe ? await options.probe().catch(() => false) : undefined;
    action.tookEffect = state === 'D' && answered !== true;
    action.evidence = `freezer FROZEN after ${frozenMs} ms, process state ${state ?? 'gone'}${answered === undefined ? '' : answered ? ', but it still answered' : ', no answer to the probe'}`;
    const end = start + spec.durationMs;
    if (end > Date.now()) await sleep(end - Date.now(), ctx.signal).catch(() => undefined);
  } catch (error) {
    action.evidence = `failed: ${(error as Error).message}`;
  } finally {
    if (cgroup !== undefined) {
      thawCgroup(cgroup.dir('freezer'));
      if (thawId !== undefined) ctx.ledger.remove(thawId);
      await cgroup.remove();
    }
  }
  const record: ExperimentRecord = { name: spec.name, experiment: 'pause', start, end: Date.now(), actions: [action], tookEffect: action.tookEffect };
  if (!action.tookEffect) record.reason = `${action.target}: ${action.evidence ?? 'not measured'}`;
  return record;
}

/** The one-letter state of a process from /proc (R, S, D, T, Z …), undefined if it is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}
