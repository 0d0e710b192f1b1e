import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPodDelete } from '../../chaos/local/pod-delete.ts';
import type { ExperimentRecord } from '../../chaos/types.ts';
import { API_SCRAPE_JOB, LocalTarget } from '../../cluster/targets/local/local-target.ts';
import { renderPrometheusConfig, startPrometheus, waitForTargetsUp, type RunningPrometheus, type ScrapeJob } from '../../cluster/targets/local/prometheus.ts';
import { ServiceStartError } from '../../cluster/targets/local/binaries.ts';
import { freePort } from '../../cluster/targets/local/ports.ts';
import { createEmbeddedEngine } from '../../scenarios/engine/engine.ts';
import { alertTimeline } from '../../slo/alerts.ts';
import { compareClientServer } from '../../slo/divergence.ts';
import { evaluateSlos } from '../../slo/evaluate.ts';
import { PrometheusClient } from '../../slo/prometheus-client.ts';
import { measureTimeToRecover } from '../../slo/recovery.ts';
import { startWatchdog } from '../../slo/watchdog.ts';
import { replayFlaggerCanary } from '../../slo/canary/flagger.ts';
import { replayArgoAnalysis } from '../../slo/canary/argo.ts';
import { waitForScrapesAfter } from '../../slo/settle.ts';
import type { Phase } from '../../slo/types.ts';
import { sleep } from '../util/wait.ts';
import { acquireRunLock } from './run-lock.ts';
import type { RunContext } from './run-context.ts';
import type { Task } from './task-runner.ts';

export const LOAD_SCRAPE_JOB = 'k6';
export const PROMETHEUS_SCRAPE_JOB = 'prometheus';
const ALERT_RULES = fileURLToPath(new URL('../../cluster/addons/prometheus/hastecrm-alerts.yaml', import.meta.url));

/** A leftover from an earlier run could not be reverted: faults may remain (exit 5). */
export class LeftoverCleanupError extends Error {
  override name = 'LeftoverCleanupError';
}

/** The stages of a run on the local target, in order. Teardowns run in reverse, always. */
export function localRunTasks(): Task<RunContext>[] {
  let releaseLock: (() => void) | undefined;
  let workDirEntry: string | undefined;
  let prometheusLedgerId: string | undefined;
  return [
    {
      title: 'prepare: lock, revert leftovers, work directory',
      async setup(ctx) {
        releaseLock = acquireRunLock(ctx.plan.config.stateDir);
        const orphans = ctx.ledger.orphans();
        if (orphans.length > 0) {
          ctx.progress.warn(`reverting ${orphans.length} leftover(s) of an earlier run that did not clean up: ${orphans.map((o) => o.description).join('; ')}`);
          const report = await ctx.ledger.revert(orphans);
          if (report.failed.length > 0)
            throw new LeftoverCleanupError(`could not revert leftovers of an earlier run: ${report.failed.map((f) => `${f.entry.description}: ${f.error}`).join('; ')}`);
        }
        mkdirSync(ctx.runDir, { recursive: true });
        ctx.workDir = mkdtempSync(path.join(os.tmpdir(), `resilience-${ctx.runId}-`));
        workDirEntry = ctx.ledger.record({ runId: ctx.runId, kind: 'temp-dir', description: `work directory ${ctx.workDir}`, revert: { type: 'remove-dir', path: ctx.workDir } });
      },
      async teardown(ctx) {
        if (ctx.workDir) rmSync(ctx.workDir, { recursive: true, force: true });
        if (workDirEntry) ctx.ledger.remove(workDirEntry);
        releaseLock?.();
        await Promise.resolve();
      },
    },
    {
      title: 'provision the local target: PostgreSQL, Redis, API replicas, ingress',
      async setup(ctx, signal) {
        const spec = ctx.plan.suite.target;
        ctx.target = new LocalTarget({ spec, runId: ctx.runId, workDir: requireValue(ctx.workDir, 'workDir'), ledger: ctx.ledger, log: (m) => ctx.progress.info(m) });
        await ctx.target.start(signal);
        ctx.progress.info(`hasteCRM API behind the ingress at ${ctx.target.baseUrl}`);
      },
      async teardown(ctx) {
        await ctx.target?.stop();
      },
    },
    {
      title: 'start the load engine',
      async setup(ctx) {
        const target = requireValue(ctx.target, 'target');
        ctx.engine = await createEmbeddedEngine({ scenario: ctx.plan.scenarioSource.definition, overrides: ctx.plan.scenarioSource.overrides, baseUrl: target.baseUrl });
      },
      async teardown(ctx) {
        await ctx.engine?.close();
      },
    },
    {
      title: 'start Prometheus and wait until it sees every target',
      async setup(ctx, signal) {
        const target = requireValue(ctx.target, 'target');
        const engine = requireValue(ctx.engine, 'engine');
        const spec = ctx.plan.suite.target;
        const dir = path.join(requireValue(ctx.workDir, 'workDir'), 'prometheus');
        mkdirSync(dir, { recursive: true });
        // Prometheus also scrapes itself (job `prometheus`): rule evaluations are the evidence that
        // "no alert fired" was observed rather than assumed. Its config must name its own port,
        // so the port is chosen here (and chosen again if another process takes it first).
        let prometheus: RunningPrometheus | undefined;
        let jobs: ScrapeJob[] = [];
        for (let attempt = 1; !prometheus; attempt++) {
          const port = await freePort();
          jobs = [
            ...target.scrapeJobs(),
            { job: LOAD_SCRAPE_JOB, targets: [`127.0.0.1:${engine.metricsPort}`] },
            { job: PROMETHEUS_SCRAPE_JOB, targets: [`127.0.0.1:${port}`] },
          ];
          const config = renderPrometheusConfig({ scrapeIntervalSeconds: spec.prometheus.scrapeIntervalMs / 1_000, jobs, ruleFiles: [ALERT_RULES] });
          try {
            prometheus = await startPrometheus({ dir, config, port, signal, readyTimeoutMs: spec.readyTimeoutMs });
          } catch (error) {
            if (attempt >= 3 || signal.aborted || !(error instanceof ServiceStartError) || !/address already in use/i.test(error.message)) throw error;
          }
        }
        ctx.prometheus = prometheus;
        prometheusLedgerId = ctx.ledger.record({
          runId: ctx.runId,
          kind: 'process',
          description: `prometheus (pid ${prometheus.process.pid})`,
          revert: { type: 'kill-process', pid: prometheus.process.pid, startTime: prometheus.process.startTime, name: 'prometheus' },
        });
        await waitForTargetsUp(prometheus.url, { jobs: jobs.map((j) => j.job), timeoutMs: spec.readyTimeoutMs, signal });
        ctx.progress.info(`Prometheus at ${prometheus.url}`);
      },
      async teardown(ctx) {
        await ctx.prometheus?.stop();
        if (prometheusLedgerId) ctx.ledger.remove(prometheusLedgerId);
      },
    },
    {
      title: 'scenario setup',
      async setup(ctx, signal) {
        await requireValue(ctx.engine, 'engine').setup(signal);
      },
    },
    {
      title: 'load and chaos',
      setup: runLoadAndChaos,
      async teardown(ctx) {
        // Stop the schedule and wait for every experiment to finish reverting what it did.
        ctx.chaosAbort?.abort(new Error('run is ending'));
        const records = await Promise.allSettled(ctx.chaosRuns);
        if (ctx.experiments.length === 0) ctx.experiments = records.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const left = ctx.ledger.entries().filter((e) => e.runId === ctx.runId && e.kind === 'fault');
        if (left.length > 0) {
          const report = await ctx.ledger.revert(left);
          if (report.failed.length > 0) throw new Error(`faults not reverted: ${report.failed.map((f) => `${f.entry.description}: ${f.error}`).join('; ')}`);
        }
      },
    },
    {
      title: 'evaluate SLOs per phase from Prometheus',
      async setup(ctx, signal) {
        const prometheus = requireValue(ctx.prometheus, 'prometheus');
        const loadEnd = requireValue(ctx.loadEnd, 'loadEnd');
        const spec = ctx.plan.suite.target;
        const settled = await waitForScrapesAfter(prometheus.url, [LOAD_SCRAPE_JOB], loadEnd, ctx.plan.suite.settleMs + 2 * spec.prometheus.scrapeIntervalMs, signal);
        if (!settled) ctx.notes.push(`Prometheus did not scrape the load engine after the load ended (within ${ctx.plan.suite.settleMs} ms)`);
        ctx.phases = actualPhases(ctx);
        ctx.slos = await evaluateSlos({
          prometheusUrl: prometheus.url,
          slos: ctx.plan.suite.slos,
          phases: ctx.phases,
          scrapeIntervalSeconds: spec.prometheus.scrapeIntervalMs / 1_000,
          jobs: { client: LOAD_SCRAPE_JOB, server: API_SCRAPE_JOB },
        });
      },
    },
    {
      title: 'analyse: time to recover, client/server divergence, alerts, canary replay',
      setup: analyse,
    },
  ];
}

/**
 * What the verdict alone does not say. Each analysis is independent: one that fails is noted in
 * the report and the others still run; none of them can turn a verdict into a pass.
 */
async function analyse(ctx: RunContext, signal: AbortSignal): Promise<void> {
  const prometheus = requireValue(ctx.prometheus, 'prometheus');
  const client = new PrometheusClient({ url: prometheus.url });
  const loadStart = requireValue(ctx.loadStart, 'loadStart');
  const loadEnd = requireValue(ctx.loadEnd, 'loadEnd');
  const scrapeIntervalSeconds = ctx.plan.suite.target.prometheus.scrapeIntervalMs / 1_000;
  ctx.divergence = compareClientServer(ctx.slos);
  for (const d of ctx.divergence.filter((x) => x.diverged)) ctx.progress.info(`divergence in ${d.phase}: ${d.note}`);
  try {
    ctx.recovery = await measureTimeToRecover({ client, slos: ctx.plan.suite.slos, phases: ctx.phases, loadEnd, scrapeIntervalSeconds, signal });
    for (const r of ctx.recovery) ctx.progress.info(`time to recover: ${r.slo} after ${r.experiment}: ${r.reason}`);
  } catch (error) {
    ctx.notes.push(`time to recover could not be measured: ${(error as Error).message}`);
  }
  try {
    ctx.alerts = await alertTimeline({ client, start: loadStart, end: loadEnd, signal });
  } catch (error) {
    ctx.notes.push(`alerts unknown: ${(error as Error).message}`);
  }
  const canary = ctx.plan.canary;
  if (canary?.flagger) {
    try {
      const replay = await replayFlaggerCanary({ client, canary: canary.flagger, start: loadStart, end: loadEnd, scrapeIntervalSeconds, signal });
      ctx.canary.push(replay);
      ctx.progress.info(`Flagger canary ${replay.name}: would ${replay.verdict}: ${replay.reason}`);
    } catch (error) {
      ctx.notes.push(`the Flagger canary replay failed: ${(error as Error).message}`);
    }
  }
  if (canary?.argo) {
    try {
      const replay = await replayArgoAnalysis({ client, template: canary.argo.template, args: canary.argo.args, start: loadStart, end: loadEnd, scrapeIntervalSeconds, signal });
      ctx.canary.push(replay);
      ctx.progress.info(`Argo Rollouts analysis ${replay.name}: ${replay.verdict}: ${replay.reason}`);
    } catch (error) {
      ctx.notes.push(`the Argo Rollouts analysis replay failed: ${(error as Error).message}`);
    }
  }
}

async function runLoadAndChaos(ctx: RunContext, signal: AbortSignal): Promise<void> {
  const engine = requireValue(ctx.engine, 'engine');
  const target = requireValue(ctx.target, 'target');
  const prometheus = requireValue(ctx.prometheus, 'prometheus');
  const chaosAbort = new AbortController();
  ctx.chaosAbort = chaosAbort;
  // The load stops on the run's abort, or early when a critical SLO breaks (k6's abortOnFail).
  const loadAbort = new AbortController();
  const onRunAbort = (): void => {
    chaosAbort.abort(signal.reason);
    loadAbort.abort(signal.reason);
  };
  signal.addEventListener('abort', onRunAbort, { once: true });
  const liveTimer = setInterval(() => ctx.progress.live(engine.live()), 500);
  ctx.loadStart = Date.now();
  const watchdog = ctx.plan.suite.slos.some((slo) => slo.severity === 'critical')
    ? startWatchdog({
        client: new PrometheusClient({ url: prometheus.url }),
        slos: ctx.plan.suite.slos,
        since: ctx.loadStart,
        scrapeIntervalSeconds: ctx.plan.suite.target.prometheus.scrapeIntervalMs / 1_000,
        jobs: { client: LOAD_SCRAPE_JOB, server: API_SCRAPE_JOB },
        onBreach: (result) => {
          ctx.breach = result;
          ctx.progress.warn(`critical SLO ${result.slo} failed while running (${result.reason ?? result.threshold}): stopping the load early`);
          loadAbort.abort(new Error(`critical SLO ${result.slo} breached`));
          chaosAbort.abort(new Error(`critical SLO ${result.slo} breached`));
        },
      })
    : undefined;
  try {
    const replicaSet = target.replicaSet();
    ctx.chaosRuns = ctx.plan.schedule.map(async (experiment): Promise<ExperimentRecord> => {
      await sleep(experiment.startAfterMs, chaosAbort.signal).catch(() => undefined);
      if (chaosAbort.signal.aborted) return { name: experiment.name, experiment: experiment.experiment, start: Date.now(), end: Date.now(), actions: [], tookEffect: false, reason: 'the run stopped before the experiment started' };
      ctx.progress.info(`chaos: ${experiment.name} starts (${experiment.durationMs / 1000}s, every ${experiment.intervalMs / 1000}s)`);
      const record = await runPodDelete(experiment, replicaSet, {
        runId: ctx.runId,
        ledger: ctx.ledger,
        log: (m) => ctx.progress.info(`chaos: ${m}`),
        signal: chaosAbort.signal,
      });
      ctx.progress.info(`chaos: ${experiment.name} ended: ${record.tookEffect ? 'took effect' : `not proven (${record.reason ?? ''})`}`);
      return record;
    });
    ctx.load = await engine.run(loadAbort.signal);
    ctx.loadEnd = Date.now();
    // A breach stopped the load early: the faults stop too, and the phases end where the load did.
    if (ctx.breach) chaosAbort.abort(new Error('the load was stopped'));
    ctx.experiments = await Promise.all(ctx.chaosRuns);
  } finally {
    await watchdog?.stop();
    clearInterval(liveTimer);
    ctx.progress.endLive();
    signal.removeEventListener('abort', onRunAbort);
  }
}

/**
 * The phases as they happened: planned offsets moved to the real start and end of each experiment,
 * clipped to the load (which a critical breach may have ended early). A phase that did not get at
 * least one second of load is left out rather than judged on nothing.
 */
function actualPhases(ctx: RunContext): Phase[] {
  const loadStart = requireValue(ctx.loadStart, 'loadStart');
  const loadEnd = requireValue(ctx.loadEnd, 'loadEnd');
  const started = ctx.experiments.filter((x) => x.actions.length > 0 || x.end > x.start);
  const byName = new Map(started.map((x) => [x.name, x]));
  const phases = ctx.plan.phases.map((p): Phase => {
    if (p.kind === 'overall') return { name: p.name, kind: p.kind, start: loadStart, end: loadEnd };
    if (p.kind === 'experiment') {
      const x = byName.get(p.name);
      return { name: p.name, kind: p.kind, start: x?.start ?? loadStart + p.startMs, end: x?.end ?? loadStart + p.endMs };
    }
    if (p.kind === 'baseline') return { name: p.name, kind: p.kind, start: loadStart, end: Math.min(loadEnd, ...started.map((x) => x.start)) };
    return { name: p.name, kind: p.kind, start: Math.max(loadStart, ...started.map((x) => x.end)), end: loadEnd };
  });
  return phases.map((p) => ({ ...p, start: Math.max(p.start, loadStart), end: Math.min(p.end, loadEnd) })).filter((p) => p.end - p.start >= 1_000);
}

function requireValue<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`internal: ${what} is not set; an earlier stage did not run`);
  return value;
}
