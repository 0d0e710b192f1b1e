import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Ledger } from '../../chaos/ledger.ts';
import { MissingBinaryError, ServiceStartError } from '../../cluster/targets/local/binaries.ts';
import { jsonReporter } from '../../reports/json-reporter.ts';
import { VIEW_REPORTERS } from '../../reports/render.ts';
import { writeReports } from '../../reports/reporter.ts';
import { redactSecrets } from '../../reports/redact.ts';
import { gateRun } from '../../reports/gate.ts';
import { readHistory, recordRun } from '../../reports/history.ts';
import { RESULT_SCHEMA_VERSION, type LoadResult, type RunResult } from '../../reports/result.ts';
import type { LoadSummary } from '../../scenarios/engine/results.ts';
import type { Progress } from '../cli/progress.ts';
import { ConfigError } from '../config/errors.ts';
import { ExitCode, type ExitCodeValue } from '../exit-codes.ts';
import { formatDuration } from '../util/duration.ts';
import { WaitTimeoutError } from '../util/wait.ts';
import type { RunPlan } from './plan.ts';
import type { RunContext } from './run-context.ts';
import { RunLockedError } from './run-lock.ts';
import { LeftoverCleanupError, localRunTasks } from './stages.ts';
import { runTasks } from './task-runner.ts';
import { KIND_INGRESS_POLICY, kindRunTasks } from './kind-stages.ts';
import { UnsafeContextError } from '../../cluster/targets/kind/context-safety.ts';
import { decideRun, RunAbort } from './verdict.ts';

export interface RunOptions {
  signal: AbortSignal;
  progress: Progress;
}

export interface RunReport {
  result: RunResult;
  runDir: string;
  exitCode: ExitCodeValue;
}

/**
 * Executes a plan: stages with guaranteed teardown, then the verdict, then the reports. The
 * reports are written whatever happened, so an interrupted or failed run still explains itself.
 */
export async function executeRun(plan: RunPlan, options: RunOptions): Promise<RunReport> {
  const startedAt = new Date();
  const runId = `${plan.suite.name}-${startedAt.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')}-${randomBytes(2).toString('hex')}`;
  const runDir = path.join(plan.config.reportsDir, runId);
  const ledger = Ledger.open(plan.config.stateDir);
  const ctx: RunContext = { runId, plan, runDir, ledger, progress: options.progress, experiments: [], chaosRuns: [], phases: [], slos: [], recovery: [], divergence: [], canary: [], notes: [] };

  // The run's own deadline aborts like Ctrl-C does, but is reported as such.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new RunAbort('deadline', `The run exceeded its timeout of ${plan.suite.timeoutMs / 1000}s`)), plan.suite.timeoutMs);
  const signal = AbortSignal.any([options.signal, deadline.signal]);
  options.progress.info(`run ${runId}: suite ${plan.suite.name}, reports in ${runDir}`);
  const tasks = plan.suite.target.type === 'kind' ? kindRunTasks({ ...(plan.allowContext ? { allowContext: plan.allowContext } : {}) }) : localRunTasks();
  const outcome = await runTasks(tasks, ctx, signal, {
    onTaskStart: (title) => options.progress.stageStart(title),
    onTaskEnd: (title, result, ms, error) => options.progress.stageEnd(title, result, ms, result === 'failed' ? error : undefined),
    onTeardownEnd: (title, ms, error) => {
      if (error) options.progress.warn(`teardown of "${title}" failed: ${(error as Error).message}`);
      else if (ms >= 100) options.progress.info(`cleaned up: ${title.split(':')[0]} (${formatDuration(ms)})`);
    },
  });
  clearTimeout(timer);

  const cleanupProblems = outcome.teardownErrors.map((t) => `${t.task}: ${(t.error as Error).message}`);
  const remaining = safeEntries(ledger).filter((e) => e.runId === runId);
  if (remaining.length > 0) cleanupProblems.push(`the ledger still holds ${remaining.map((e) => e.description).join(', ')}`);

  const decision = decideRun({ outcome, slos: ctx.slos, breach: ctx.breach, canary: plan.canary?.gate ? ctx.canary : [], load: ctx.load, experiments: ctx.experiments, cleanupProblems, classifyError });
  const finishedAt = new Date();
  const errors = [...ctx.notes];
  if (outcome.status === 'failed') errors.push(outcome.error instanceof Error ? outcome.error.message : String(outcome.error));
  errors.push(...cleanupProblems);
  // Reports never hold secrets: header values, URL passwords, secret env values, kubeconfig keys.
  const result: RunResult = redactSecrets({
    schemaVersion: RESULT_SCHEMA_VERSION,
    runId,
    suite: plan.suite.name,
    description: plan.suite.description,
    target: { type: plan.suite.target.type, replicas: plan.suite.target.replicas, ingress: plan.suite.target.type === 'kind' ? KIND_INGRESS_POLICY : plan.suite.target.ingress },
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    verdict: decision.verdict,
    reason: decision.reason,
    exitCode: decision.exitCode,
    status: decision.status,
    phases: ctx.phases,
    slos: ctx.slos,
    ...(ctx.load ? { load: loadResultOf(ctx.load, plan.load.driver) } : {}),
    experiments: ctx.experiments,
    ...(ctx.breach ? { breach: ctx.breach } : {}),
    recovery: ctx.recovery,
    divergence: ctx.divergence,
    ...(ctx.alerts ? { alerts: ctx.alerts } : {}),
    canary: ctx.canary,
    ...(ctx.timeseries ? { timeseries: ctx.timeseries } : {}),
    ...(plan.canary?.gate ? { canaryGate: true } : {}),
    restarts: ctx.target?.restarts() ?? ctx.kindTarget?.restarts() ?? 0,
    ...(ctx.prometheus ? { prometheus: { url: ctx.prometheus.url, scrapeIntervalMs: plan.suite.target.prometheus.scrapeIntervalMs } } : {}),
    environment: environment(),
    errors,
  } satisfies RunResult);
  // The comparison with earlier passing runs is part of the report; recording the run is not
  // part of the verdict: a history problem is a warning, never a different exit code.
  try {
    const history = await readHistory(plan.config.historyDir);
    result.comparison = gateRun({ run: result, history: history.entries });
  } catch (error) {
    options.progress.warn(`no comparison with earlier runs: ${(error as Error).message}`);
  }
  mkdirSync(runDir, { recursive: true });
  const written = await writeReports([jsonReporter, ...VIEW_REPORTERS], result, runDir);
  for (const failure of written.failed) options.progress.warn(`the ${failure.reporter} report could not be written: ${failure.error}`);
  try {
    await recordRun(plan.config.historyDir, result);
  } catch (error) {
    options.progress.warn(`the run was not recorded in the history ${plan.config.historyDir}: ${(error as Error).message}`);
  }
  return { result, runDir, exitCode: decision.exitCode };
}

/** Stage errors to exit codes: bad input is 2, anything the environment did is 4. */
export function classifyError(error: unknown): ExitCodeValue {
  if (error instanceof ConfigError) return ExitCode.InvalidConfig;
  // A kube context that is not kind-* and was not allowed: a usage error, nothing was touched.
  if (error instanceof UnsafeContextError) return ExitCode.InvalidConfig;
  if (error instanceof LeftoverCleanupError) return ExitCode.CleanupFailed;
  if (error instanceof MissingBinaryError || error instanceof ServiceStartError || error instanceof WaitTimeoutError || error instanceof RunLockedError) return ExitCode.Environment;
  return ExitCode.Environment;
}

function safeEntries(ledger: Ledger): ReturnType<Ledger['entries']> {
  try {
    return ledger.entries();
  } catch {
    return [];
  }
}

function environment(): RunResult['environment'] {
  let gitCommit: string | undefined;
  try {
    gitCommit = execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 2_000 }).toString().trim() || undefined;
  } catch {
    gitCommit = undefined;
  }
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return { node: process.version, platform: `${os.type()} ${os.release()} ${os.arch()}`, hostname: os.hostname(), harnessVersion: pkg.version, ...(gitCommit ? { gitCommit } : {}) };
}

/** The load summary as result.json keeps it: per-scenario breakdowns stay out (the totals and checks say enough). */
function loadResultOf(summary: LoadSummary, driver: LoadResult['driver']): LoadResult {
  const { perScenario: _perScenario, ...rest } = summary;
  return { driver, ...rest };
}
