import type { ExperimentRecord } from '../../chaos/types.ts';
import type { LoadSummary } from '../../scenarios/engine/results.ts';
import type { SloPhaseResult, Verdict } from '../../slo/types.ts';
import { ExitCode, type ExitCodeValue } from '../exit-codes.ts';
import type { RunOutcome } from './task-runner.ts';

/** Why a run was stopped from outside: Ctrl-C / SIGTERM, or its deadline. */
export class RunAbort extends Error {
  constructor(readonly kind: 'interrupted' | 'deadline', message: string) {
    super(message);
    this.name = 'RunAbort';
  }
}

export interface RunDecision {
  verdict: Verdict;
  reason: string;
  exitCode: ExitCodeValue;
  status: 'completed' | 'failed' | 'interrupted' | 'deadline';
}

export interface DecisionInput {
  outcome: RunOutcome;
  slos: readonly SloPhaseResult[];
  /** A critical SLO that failed while the load ran, which stopped the load early. */
  breach?: SloPhaseResult | undefined;
  /** Canary replays that gate the run (a suite's `canary.gate`); report-only replays are not passed. */
  canary?: readonly { tool: string; name: string; verdict: string; reason: string }[];
  load: LoadSummary | undefined;
  experiments: readonly ExperimentRecord[];
  /** Errors that mean something the run started or injected may still be there. */
  cleanupProblems: readonly string[];
  /** Maps a stage's error to an exit code (config → 2, environment → 4 …). */
  classifyError: (error: unknown) => ExitCodeValue;
}

/**
 * The run's verdict and exit code. Fail closed: only a completed run in which every judged SLO
 * passed, the load generator kept up and every fault proved its effect is `pass`.
 */
export function decideRun(input: DecisionInput): RunDecision {
  const base = decideBeforeCleanup(input);
  if (input.cleanupProblems.length === 0) return base;
  return {
    ...base,
    exitCode: ExitCode.CleanupFailed,
    reason: `${base.reason} Cleanup failed, faults or processes may remain: ${input.cleanupProblems.join('; ')}. Run \`resilience cleanup\`.`,
  };
}

function decideBeforeCleanup(input: DecisionInput): RunDecision {
  const { outcome } = input;
  if (outcome.status === 'aborted') {
    const abort = outcome.reason instanceof RunAbort ? outcome.reason : undefined;
    if (abort?.kind === 'deadline') return { verdict: 'inconclusive', reason: `${abort.message} during "${outcome.task}".`, exitCode: ExitCode.Inconclusive, status: 'deadline' };
    return { verdict: 'inconclusive', reason: `Interrupted during "${outcome.task}"${abort ? ` (${abort.message})` : ''}; everything was cleaned up.`, exitCode: ExitCode.Interrupted, status: 'interrupted' };
  }
  if (outcome.status === 'failed') {
    const message = outcome.error instanceof Error ? outcome.error.message.split('\n')[0] : String(outcome.error);
    return { verdict: 'inconclusive', reason: `"${outcome.task}" failed: ${message}`, exitCode: input.classifyError(outcome.error), status: 'failed' };
  }
  if (input.breach) {
    return {
      verdict: 'fail',
      reason: `Critical SLO ${describe(input.breach)} failed while the load ran, so the load was stopped early (abort on fail).`,
      exitCode: ExitCode.SloFailed,
      status: 'completed',
    };
  }
  const judged = input.slos.filter((s) => s.severity !== 'warning');
  const failed = judged.filter((s) => s.verdict === 'fail');
  const rolledBack = (input.canary ?? []).filter((c) => c.verdict === 'rollback' || c.verdict === 'failed');
  if (rolledBack.length > 0 && failed.length === 0) {
    return { verdict: 'fail', reason: `The release analysis would not ship this: ${rolledBack.map((c) => `${c.tool} ${c.name}: ${c.reason}`).join('; ')}.`, exitCode: ExitCode.SloFailed, status: 'completed' };
  }
  if (failed.length > 0) {
    return { verdict: 'fail', reason: `${failed.length} SLO check(s) failed: ${failed.map(describe).join('; ')}.`, exitCode: ExitCode.SloFailed, status: 'completed' };
  }
  const reasons: string[] = [];
  if (judged.length === 0) reasons.push('no SLO of severity error or critical was evaluated, so nothing could have failed');
  const unsure = judged.filter((s) => s.verdict === 'inconclusive');
  if (unsure.length > 0) reasons.push(`${unsure.length} SLO check(s) inconclusive: ${unsure.map((s) => `${s.slo} in ${s.phase}: ${s.reason ?? 'no reason given'}`).join('; ')}`);
  if (input.load?.selfHealth.overloaded) reasons.push(`the load generator was the bottleneck: ${input.load.selfHealth.reason ?? 'overloaded'}`);
  for (const c of input.canary ?? []) if (c.verdict === 'halt' || c.verdict === 'inconclusive') reasons.push(`the ${c.tool} analysis ${c.name} could not decide: ${c.reason}`);
  for (const x of input.experiments) if (!x.tookEffect) reasons.push(`experiment ${x.name} did not prove its effect: ${x.reason ?? 'no evidence'}`);
  if (reasons.length > 0) return { verdict: 'inconclusive', reason: `${capitalize(reasons.join('; '))}.`, exitCode: ExitCode.Inconclusive, status: 'completed' };
  return { verdict: 'pass', reason: `All ${judged.length} SLO checks passed in every phase.`, exitCode: ExitCode.Pass, status: 'completed' };
}

function describe(s: SloPhaseResult): string {
  const value = s.value === null ? 'no value' : s.threshold.includes('%') ? `${(s.value * 100).toFixed(2)}%` : s.threshold.includes('ms') ? `${s.value.toFixed(0)} ms` : String(s.value);
  return `${s.slo} in phase ${s.phase}: ${value} (objective ${s.threshold})`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
