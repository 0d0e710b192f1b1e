import { alertTimeline } from '../../slo/alerts.ts';
import { replayArgoAnalysis } from '../../slo/canary/argo.ts';
import { replayFlaggerCanary } from '../../slo/canary/flagger.ts';
import { compareClientServer } from '../../slo/divergence.ts';
import { PrometheusClient } from '../../slo/prometheus-client.ts';
import { measureTimeToRecover } from '../../slo/recovery.ts';
import { collectTimeSeries } from '../../slo/timeseries.ts';
import { API_SCRAPE_JOB } from '../../cluster/targets/local/local-target.ts';
import { clientHistogramsOf } from './k6-driver.ts';
import { LOAD_SCRAPE_JOB } from './load-and-chaos.ts';
import { requireValue, type RunContext } from './run-context.ts';

/**
 * What the verdict alone does not say. Each analysis is independent: one that fails is noted in
 * the report and the others still run; none of them can turn a verdict into a pass.
 */
export async function analyse(ctx: RunContext, signal: AbortSignal): Promise<void> {
  const prometheus = requireValue(ctx.prometheus, 'prometheus');
  const client = new PrometheusClient({ url: prometheus.url });
  const loadStart = requireValue(ctx.loadStart, 'loadStart');
  const loadEnd = requireValue(ctx.loadEnd, 'loadEnd');
  const scrapeIntervalSeconds = ctx.plan.suite.target.prometheus.scrapeIntervalMs / 1_000;
  const clientHistograms = clientHistogramsOf(ctx.plan.load.driver);
  ctx.divergence = compareClientServer(ctx.slos);
  for (const d of ctx.divergence.filter((x) => x.diverged)) ctx.progress.info(`divergence in ${d.phase}: ${d.note}`);
  try {
    ctx.recovery = await measureTimeToRecover({ client, slos: ctx.plan.suite.slos, phases: ctx.phases, loadEnd, scrapeIntervalSeconds, clientHistograms, signal });
    for (const r of ctx.recovery) ctx.progress.info(`time to recover: ${r.slo} after ${r.experiment}: ${r.reason}`);
  } catch (error) {
    ctx.notes.push(`time to recover could not be measured: ${(error as Error).message}`);
  }
  try {
    ctx.alerts = await alertTimeline({ client, start: loadStart, end: loadEnd, signal });
  } catch (error) {
    ctx.notes.push(`alerts unknown: ${(error as Error).message}`);
  }
  try {
    // k6 pushes its metrics (remote write): there is no scrape job to select its series by.
    const clientJob = ctx.plan.load.driver === 'k6' ? null : LOAD_SCRAPE_JOB;
    ctx.timeseries = await collectTimeSeries({ client, start: loadStart, end: loadEnd, stepSeconds: scrapeIntervalSeconds, jobs: { client: clientJob, server: API_SCRAPE_JOB }, clientHistograms, signal });
  } catch (error) {
    ctx.notes.push(`time series could not be collected: ${(error as Error).message}`);
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
