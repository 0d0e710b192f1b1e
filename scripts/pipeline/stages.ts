import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceStartError } from '../../cluster/targets/local/binaries.ts';
import { API_SCRAPE_JOB, LocalTarget } from '../../cluster/targets/local/local-target.ts';
import { freePort } from '../../cluster/targets/local/ports.ts';
import { selectRuntime } from '../../cluster/targets/local/containers/runtime.ts';
import { startPrometheusContainer, type RunningPrometheusContainer } from '../../cluster/targets/local/containers/services.ts';
import { renderPrometheusConfig, startPrometheus, waitForTargetsUp, type RunningPrometheus, type ScrapeJob } from '../../cluster/targets/local/prometheus.ts';
import { createEmbeddedEngine } from '../../scenarios/engine/engine.ts';
import { clientHistogramsOf, engineDriver, k6Driver } from './k6-driver.ts';
import { evaluateSlos } from '../../slo/evaluate.ts';
import { waitForScrapesAfter } from '../../slo/settle.ts';
import { analyse } from './analyse.ts';
import { actualPhases, LOAD_SCRAPE_JOB, runLoadAndChaos } from './load-and-chaos.ts';
import { acquireRunLock } from './run-lock.ts';
import { requireValue, type RunContext } from './run-context.ts';
import type { Task } from './task-runner.ts';
import type { ResolvedLocalTarget } from '../config/resolve.ts';

export const PROMETHEUS_SCRAPE_JOB = 'prometheus';
/** Experiments that need the fault proxies in front of the replicas. */
const NETWORK_EXPERIMENTS: ReadonlySet<string> = new Set(['pod-network-latency', 'pod-network-loss', 'pod-network-partition']);
const ALERT_RULES = fileURLToPath(new URL('../../cluster/addons/prometheus/hastecrm-alerts.yaml', import.meta.url));

/** Prometheus as either runtime starts it; the later stages use only its url and stop(). */
type PrometheusHandle = RunningPrometheus | RunningPrometheusContainer;

/** A leftover from an earlier run could not be reverted: faults may remain (exit 5). */
export class LeftoverCleanupError extends Error {
  override name = 'LeftoverCleanupError';
}

/**
 * The first stage of every target's run: the run lock, leftovers of earlier runs reverted (exit 5
 * when they cannot be), the run folder and a work directory (recorded in the ledger).
 */
export function prepareTask(): Task<RunContext> {
  let releaseLock: (() => void) | undefined;
  let workDirEntry: string | undefined;
  return {
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
    teardown(ctx) {
      if (ctx.workDir) rmSync(ctx.workDir, { recursive: true, force: true });
      if (workDirEntry) ctx.ledger.remove(workDirEntry);
      releaseLock?.();
      return Promise.resolve();
    },
  };
}

/** The stages of a run on the local target, in order. Teardowns run in reverse, always. */
export function localRunTasks(): Task<RunContext>[] {
  let prometheusLedgerId: string | undefined;
  return [
    prepareTask(),
    {
      title: 'provision the local target: PostgreSQL, Redis, API replicas, ingress',
      async setup(ctx, signal) {
        const spec = localTargetOf(ctx);
        const faultProxies = ctx.plan.schedule.some((e) => NETWORK_EXPERIMENTS.has(e.experiment));
        const lossyHops = ctx.plan.schedule.some((e) => e.experiment === 'pod-network-loss');
        ctx.target = new LocalTarget({ spec, runId: ctx.runId, workDir: requireValue(ctx.workDir, 'workDir'), ledger: ctx.ledger, log: (m) => ctx.progress.info(m), faultProxies, lossyHops });
        await ctx.target.start(signal);
        ctx.progress.info(`hasteCRM API behind the ingress at ${ctx.target.baseUrl}`);
      },
      async teardown(ctx) {
        await ctx.target?.stop();
      },
    },
    {
      title: 'start the load driver',
      async setup(ctx) {
        const target = requireValue(ctx.target, 'target');
        ctx.progress.info(`load driver: ${ctx.plan.load.driver} (${ctx.plan.load.reason})`);
        if (ctx.plan.load.driver === 'k6') {
          const { overrides } = ctx.plan.scenarioSource;
          ctx.driver = k6Driver({
            scenarioFile: ctx.plan.suite.load.scenarioFile,
            scenario: ctx.plan.scenario,
            overridden: overrides.rate !== undefined || overrides.durationMs !== undefined,
            baseUrl: target.baseUrl,
            runId: ctx.runId,
            workDir: requireValue(ctx.workDir, 'workDir'),
            runDir: ctx.runDir,
            ...(ctx.plan.load.k6 ? { k6Binary: ctx.plan.load.k6.path } : {}),
          });
          return;
        }
        ctx.engine = await createEmbeddedEngine({ scenario: ctx.plan.scenarioSource.definition, overrides: ctx.plan.scenarioSource.overrides, baseUrl: target.baseUrl });
        ctx.driver = engineDriver(ctx.engine);
      },
      async teardown(ctx) {
        await ctx.driver?.close();
        await ctx.engine?.close();
      },
    },
    {
      title: 'start Prometheus and wait until it sees every target',
      async setup(ctx, signal) {
        const target = requireValue(ctx.target, 'target');
        const driver = requireValue(ctx.driver, 'driver');
        const spec = localTargetOf(ctx);
        const dir = path.join(requireValue(ctx.workDir, 'workDir'), 'prometheus');
        mkdirSync(dir, { recursive: true });
        // Prometheus also scrapes itself (job `prometheus`): rule evaluations are the evidence that
        // "no alert fired" was observed rather than assumed. Its config must name its own port,
        // so the port is chosen here (and chosen again if another process takes it first).
        const choice = await selectRuntime('prometheus', spec.runtime.prometheus);
        ctx.progress.info(`Prometheus runs as a ${choice.runtime}: ${choice.reason}`);
        let prometheus: PrometheusHandle | undefined;
        let jobs: ScrapeJob[] = [];
        for (let attempt = 1; !prometheus; attempt++) {
          const port = await freePort();
          jobs = [
            ...target.scrapeJobs(),
            // k6 pushes through remote write instead of being scraped.
            ...(driver.scrapeTarget === undefined ? [] : [{ job: LOAD_SCRAPE_JOB, targets: [driver.scrapeTarget] }]),
            { job: PROMETHEUS_SCRAPE_JOB, targets: [`127.0.0.1:${port}`] },
          ];
          const config = renderPrometheusConfig({ scrapeIntervalSeconds: spec.prometheus.scrapeIntervalMs / 1_000, jobs, ruleFiles: [ALERT_RULES] });
          try {
            prometheus =
              choice.runtime === 'container'
                ? await startPrometheusContainer({
                    runId: ctx.runId,
                    ledger: ctx.ledger,
                    config,
                    // The rules file at the same absolute path inside the container: the config stays the process runtime's.
                    files: [{ path: ALERT_RULES, content: readFileSync(ALERT_RULES, 'utf8') }],
                    port,
                    signal,
                    readyTimeoutMs: spec.readyTimeoutMs,
                    ...(spec.images.prometheus ? { image: spec.images.prometheus } : {}),
                  })
                : await startPrometheus({ dir, config, port, signal, readyTimeoutMs: spec.readyTimeoutMs, nativeHistograms: driver.kind === 'k6' });
          } catch (error) {
            if (attempt >= 3 || signal.aborted || !(error instanceof ServiceStartError) || !/address already in use/i.test(error.message)) throw error;
          }
        }
        ctx.prometheus = prometheus;
        // A container records (and on stop forgets) its own ledger entry; a process is recorded here.
        if ('process' in prometheus) {
          prometheusLedgerId = ctx.ledger.record({
            runId: ctx.runId,
            kind: 'process',
            description: `prometheus (pid ${prometheus.process.pid})`,
            revert: { type: 'kill-process', pid: prometheus.process.pid, startTime: prometheus.process.startTime, name: 'prometheus' },
          });
        }
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
        await requireValue(ctx.driver, 'driver').setup(signal);
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
        // k6 has pushed its last samples before it exits; only a scraped driver needs a scrape after the end.
        const scraped = requireValue(ctx.driver, 'driver').scrapeTarget !== undefined;
        const settled = !scraped || (await waitForScrapesAfter(prometheus.url, [LOAD_SCRAPE_JOB], loadEnd, ctx.plan.suite.settleMs + 2 * spec.prometheus.scrapeIntervalMs, signal));
        if (!settled) ctx.notes.push(`Prometheus did not scrape the load engine after the load ended (within ${ctx.plan.suite.settleMs} ms)`);
        ctx.phases = actualPhases(ctx);
        ctx.slos = await evaluateSlos({
          prometheusUrl: prometheus.url,
          slos: ctx.plan.suite.slos,
          phases: ctx.phases,
          scrapeIntervalSeconds: spec.prometheus.scrapeIntervalMs / 1_000,
          jobs: { client: scraped ? LOAD_SCRAPE_JOB : null, server: API_SCRAPE_JOB },
          clientHistograms: clientHistogramsOf(ctx.plan.load.driver),
        });
      },
    },
    {
      title: 'analyse: time to recover, divergence, alerts, time series, canary replay',
      setup: analyse,
    },
  ];
}



/** The suite's target, which localRunTasks runs only when it is `local` (run.ts chooses the tasks by type). */
function localTargetOf(ctx: RunContext): ResolvedLocalTarget {
  const target = ctx.plan.suite.target;
  if (target.type !== 'local') throw new Error(`internal: the local stages were given a ${target.type} target`);
  return target;
}
