import type { ResolvedExperiment } from '../config/resolve.ts';
import { runLocalExperiment, type LocalChaosSurface } from '../../chaos/local/run-local.ts';
import type { ExperimentRecord } from '../../chaos/types.ts';
import { API_SCRAPE_JOB } from '../../cluster/targets/local/local-target.ts';
import { PrometheusClient } from '../../slo/prometheus-client.ts';
import type { Phase } from '../../slo/types.ts';
import { startWatchdog } from '../../slo/watchdog.ts';
import { sleep } from '../util/wait.ts';
import { requireValue, type RunContext } from './run-context.ts';
import { clientHistogramsOf } from './k6-driver.ts';

export const LOAD_SCRAPE_JOB = 'k6';

/** Runs one experiment of the schedule once its offset has come; `signal` stops it. */
export type ExperimentRunner = (experiment: ResolvedExperiment, signal: AbortSignal) => Promise<ExperimentRecord>;

/**
 * Runs the load and, beside it, the chaos schedule (each experiment at its offset, by `runExperiment`);
 * critical SLOs are watched meanwhile and stop both on the first failure. Resolves when the load
 * has ended (its in-flight requests included). Shared by every target; only the injection differs.
 */
export async function runLoadBesideSchedule(ctx: RunContext, signal: AbortSignal, runExperiment: ExperimentRunner): Promise<void> {
  const driver = requireValue(ctx.driver, 'driver');
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
  const liveTimer = setInterval(() => driver.showLive(ctx.progress), 500);
  ctx.loadStart = Date.now();
  const watchdog = ctx.plan.suite.slos.some((slo) => slo.severity === 'critical')
    ? startWatchdog({
        client: new PrometheusClient({ url: prometheus.url }),
        slos: ctx.plan.suite.slos,
        since: ctx.loadStart,
        scrapeIntervalSeconds: ctx.plan.suite.target.prometheus.scrapeIntervalMs / 1_000,
        // k6 pushes its metrics: no scrape job, no `up` series to check.
        jobs: { client: driver.scrapeTarget === undefined ? null : LOAD_SCRAPE_JOB, server: API_SCRAPE_JOB },
        clientHistograms: clientHistogramsOf(ctx.plan.load.driver),
        onBreach: (result) => {
          ctx.breach = result;
          ctx.progress.warn(`critical SLO ${result.slo} failed while running (${result.reason ?? result.threshold}): stopping the load early`);
          loadAbort.abort(new Error(`critical SLO ${result.slo} breached`));
          chaosAbort.abort(new Error(`critical SLO ${result.slo} breached`));
        },
      })
    : undefined;
  try {
    ctx.chaosRuns = ctx.plan.schedule.map(async (experiment): Promise<ExperimentRecord> => {
      await sleep(experiment.startAfterMs, chaosAbort.signal).catch(() => undefined);
      if (chaosAbort.signal.aborted) return { name: experiment.name, experiment: experiment.experiment, start: Date.now(), end: Date.now(), actions: [], tookEffect: false, reason: 'the run stopped before the experiment started' };
      return runExperiment(experiment, chaosAbort.signal);
    });
    ctx.load = await driver.run(loadAbort.signal, prometheus.url, ctx.notes);
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

/** The load and the chaos schedule on the local target, with the local injectors. */
export async function runLoadAndChaos(ctx: RunContext, signal: AbortSignal): Promise<void> {
  const target = requireValue(ctx.target, 'target');
  const surface: LocalChaosSurface = {
    replicas: target.replicaSet(),
    faultProxy: (slot) => target.faultProxy(slot),
    lossyHop: (slot) => target.lossyHop(slot),
    dataTierPods: (selector) => target.dataTierPods(selector),
    refreshDataTierPid: (name) => target.refreshDataTierPid(name),
  };
  await runLoadBesideSchedule(ctx, signal, async (experiment, chaosSignal) => {
    const every = experiment.intervalMs < experiment.durationMs ? `, every ${experiment.intervalMs / 1000}s` : '';
    ctx.progress.info(`chaos: ${experiment.name} starts (${experiment.experiment}, ${experiment.durationMs / 1000}s${every})`);
    const record = await runLocalExperiment(experiment, surface, { runId: ctx.runId, ledger: ctx.ledger, log: (m) => ctx.progress.info(`chaos: ${m}`), signal: chaosSignal });
    ctx.progress.info(`chaos: ${experiment.name} ended: ${record.tookEffect ? 'took effect' : `not proven (${record.reason ?? ''})`}`);
    return record;
  });
}

/**
 * The phases as they happened: planned offsets moved to the real start and end of each experiment,
 * clipped to the load (which a critical breach may have ended early). A phase that did not get at
 * least one second of load is left out rather than judged on nothing.
 */
export function actualPhases(ctx: RunContext): Phase[] {
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

