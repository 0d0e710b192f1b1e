import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { runLitmusExperiment, type LitmusExperimentRecord } from '../../chaos/litmus/runner.ts';
import type { ExperimentRecord } from '../../chaos/types.ts';
import { applyManifests, formatApplyProgress } from '../../cluster/targets/kind/apply.ts';
import { KindTarget, loadKindKubeConfig, type KindTargetOptions } from '../../cluster/targets/kind/kind-target.ts';
import { API_SCRAPE_JOB } from '../../cluster/targets/local/local-target.ts';
import { freePort } from '../../cluster/targets/local/ports.ts';
import { startPrometheus, waitForTargetsUp } from '../../cluster/targets/local/prometheus.ts';
import { createEmbeddedEngine } from '../../scenarios/engine/engine.ts';
import { evaluateSlos } from '../../slo/evaluate.ts';
import { waitForScrapesAfter } from '../../slo/settle.ts';
import type { ResolvedExperiment, ResolvedKindTarget } from '../config/resolve.ts';
import { analyse } from './analyse.ts';
import { clientHistogramsOf, engineDriver } from './k6-driver.ts';
import { kindChaosObjects, renderKindChaosEngine } from './kind-chaos.ts';
import { actualPhases, LOAD_SCRAPE_JOB, runLoadBesideSchedule } from './load-and-chaos.ts';
import { requireValue, type RunContext } from './run-context.ts';
import { prepareTask } from './stages.ts';
import type { Task } from './task-runner.ts';

/**
 * The stages of a run on the kind target (docs/decisions/0009-kind-run.md):
 *
 *   prepare → kind target (cluster, addons, image, overlay; chaos namespace + ChaosExperiments +
 *   litmus-admin) → embedded engine (Host: <apiHost> to the ingress port) → host Prometheus
 *   (scrapes the engine, federates the in-cluster Prometheus) → scenario setup → load + Litmus
 *   ChaosEngines at their offsets → SLOs → analysis.
 *
 * Teardowns run in reverse: engines stopped and deleted, Prometheus stopped, the run's objects
 * deleted by label (and the cluster when the run created it without `reuse`).
 */

/** The ingress policy on kind: base/ingress.yaml's proxy-read-timeout 30 s; ingress-nginx's default proxy-next-upstream-tries 3 (2 retries). */
export const KIND_INGRESS_POLICY = { timeoutMs: 30_000, attempts: 2, perTryTimeoutMs: 30_000 } as const;
/** The host Prometheus's job that federates the in-cluster Prometheus. */
export const FEDERATE_SCRAPE_JOB = 'federate';
/** Beyond TOTAL_CHAOS_DURATION: Litmus's runner and experiment pods start (image pulls on a fresh node) and report. */
const LITMUS_DEADLINE_SLACK_MS = 180_000;
const ALERT_RULES = fileURLToPath(new URL('../../cluster/addons/prometheus/hastecrm-alerts.yaml', import.meta.url));

export interface KindRunOptions {
  /** `--allow-context`: the one non-kind kube context the run may modify. */
  allowContext?: string;
  /**
   * Seams: KindTarget options for tests (a ready kubeConfig, `lookup` for a stand-in `kind`, no
   * addons, a prebuilt image and manifests). The run's own values are used for the rest.
   */
  target?: Partial<Omit<KindTargetOptions, 'runId' | 'log'>>;
  /** Extra time after each experiment's duration before its verdict is not proven. Default 180 s. */
  litmusDeadlineSlackMs?: number;
  /** How long an aborted engine may take to confirm the stop. Default 30 s (runLitmusExperiment's). */
  litmusStopWaitMs?: number;
}

/** The kind target of the suite; kindRunTasks runs only for it. */
function kindSpec(ctx: RunContext): ResolvedKindTarget {
  const target = ctx.plan.suite.target;
  if (target.type !== 'kind') throw new Error(`internal: the kind stages were given a ${target.type} target`);
  return target;
}

/** Stages of a run on the kind target, in order; see the module comment. */
export function kindRunTasks(options: KindRunOptions = {}): Task<RunContext>[] {
  let kubeConfig: KubeConfig | undefined;
  let prometheusLedgerId: string | undefined;
  const allow = options.allowContext ? { allowContext: options.allowContext } : {};
  return [
    prepareTask(),
    {
      title: 'provision the kind target: cluster, addons, API image, manifests, Litmus experiments',
      async setup(ctx, signal) {
        const spec = kindSpec(ctx);
        const target = new KindTarget({
          runId: ctx.runId,
          stateDir: ctx.plan.config.stateDir,
          clusterName: spec.cluster,
          reuse: spec.reuse,
          workers: spec.workers,
          ingressHostPort: spec.ingressPort,
          prometheusHostPort: spec.prometheusPort,
          optionalAddons: spec.addons,
          namespace: spec.namespace,
          apiHost: spec.apiHost,
          readyTimeoutMs: spec.readyTimeoutMs,
          ...allow,
          ...options.target,
          log: (m) => ctx.progress.info(m),
        });
        ctx.kindTarget = target;
        await target.start(signal);
        kubeConfig = options.target?.kubeConfig ?? loadKindKubeConfig(spec.cluster, options.target?.kubeconfigPath);
        // Labelled with the run like the overlay, so the target's stop deletes them too.
        await applyManifests({
          kubeConfig,
          objects: kindChaosObjects(spec),
          runId: ctx.runId,
          signal,
          readyTimeoutMs: spec.readyTimeoutMs,
          ...allow,
          onProgress: (event) => ctx.progress.info(formatApplyProgress(event)),
        });
        ctx.progress.info(`Litmus ChaosExperiments and litmus-admin ready in ${spec.chaosNamespace}, acting on ${spec.namespace}`);
      },
      async teardown(ctx) {
        await ctx.kindTarget?.stop();
      },
    },
    {
      title: 'start the load driver',
      async setup(ctx) {
        const target = requireValue(ctx.kindTarget, 'kindTarget');
        ctx.progress.info(`load driver: ${ctx.plan.load.driver} (${ctx.plan.load.reason})`);
        // The ingress routes by Host: every request carries the API's host name.
        ctx.engine = await createEmbeddedEngine({ scenario: ctx.plan.scenarioSource.definition, overrides: ctx.plan.scenarioSource.overrides, baseUrl: target.baseUrl, headers: { host: target.apiHost } });
        ctx.driver = engineDriver(ctx.engine);
      },
      async teardown(ctx) {
        await ctx.driver?.close();
        await ctx.engine?.close();
      },
    },
    {
      title: 'start the host Prometheus: scrape the load engine, federate the in-cluster Prometheus',
      async setup(ctx, signal) {
        const spec = kindSpec(ctx);
        const target = requireValue(ctx.kindTarget, 'kindTarget');
        const driver = requireValue(ctx.driver, 'driver');
        const dir = path.join(requireValue(ctx.workDir, 'workDir'), 'prometheus');
        mkdirSync(dir, { recursive: true });
        const port = await freePort();
        const config = renderHostPrometheusConfig({
          scrapeIntervalSeconds: spec.prometheus.scrapeIntervalMs / 1_000,
          engineTarget: requireValue(driver.scrapeTarget, 'the engine scrape target'),
          clusterPrometheus: new URL(target.prometheusUrl).host,
        });
        const prometheus = await startPrometheus({ dir, config, port, signal, readyTimeoutMs: 60_000 });
        ctx.prometheus = prometheus;
        prometheusLedgerId = ctx.ledger.record({
          runId: ctx.runId,
          kind: 'process',
          description: `prometheus (pid ${prometheus.process.pid})`,
          revert: { type: 'kill-process', pid: prometheus.process.pid, startTime: prometheus.process.startTime, name: 'prometheus' },
        });
        await waitForTargetsUp(prometheus.url, { jobs: [LOAD_SCRAPE_JOB, FEDERATE_SCRAPE_JOB], timeoutMs: 60_000, signal });
        ctx.progress.info(`host Prometheus at ${prometheus.url}, federating ${target.prometheusUrl}`);
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
      title: 'load and Litmus chaos',
      setup: (ctx, signal) => runKindLoadAndChaos(ctx, signal, requireValue(kubeConfig, 'kubeConfig'), options),
      async teardown(ctx) {
        // Engines still following are aborted: runLitmusExperiment stops and deletes them.
        ctx.chaosAbort?.abort(new Error('run is ending'));
        const records = await Promise.allSettled(ctx.chaosRuns);
        if (ctx.experiments.length === 0) ctx.experiments = records.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const failed = records.flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : []));
        if (failed.length > 0) throw new Error(`chaos experiments failed: ${failed.join('; ')}`);
      },
    },
    {
      title: 'evaluate SLOs per phase from Prometheus',
      async setup(ctx, signal) {
        const spec = kindSpec(ctx);
        const prometheus = requireValue(ctx.prometheus, 'prometheus');
        const loadEnd = requireValue(ctx.loadEnd, 'loadEnd');
        const settled = await waitForScrapesAfter(prometheus.url, [LOAD_SCRAPE_JOB, FEDERATE_SCRAPE_JOB], loadEnd, ctx.plan.suite.settleMs + 2 * spec.prometheus.scrapeIntervalMs, signal);
        if (!settled) ctx.notes.push(`the host Prometheus did not scrape the engine and the federation after the load ended (within ${ctx.plan.suite.settleMs} ms)`);
        ctx.phases = actualPhases(ctx);
        ctx.slos = await evaluateSlos({
          prometheusUrl: prometheus.url,
          slos: ctx.plan.suite.slos,
          phases: ctx.phases,
          scrapeIntervalSeconds: spec.prometheus.scrapeIntervalMs / 1_000,
          // Federation keeps the in-cluster job label (honor_labels): server series are job="hastecrm-api".
          jobs: { client: LOAD_SCRAPE_JOB, server: API_SCRAPE_JOB },
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

/**
 * The host Prometheus's config: the engine scraped as job `k6` (as on the local target), and the
 * in-cluster Prometheus's hastecrm series and alerts pulled through `/federate` (job `federate`,
 * honor_labels so `job="hastecrm-api"` and the pod instances stay as the cluster labelled them).
 */
export function renderHostPrometheusConfig(options: { scrapeIntervalSeconds: number; engineTarget: string; clusterPrometheus: string; ruleFiles?: string[] }): string {
  const interval = `${options.scrapeIntervalSeconds}s`;
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: options.ruleFiles ?? [ALERT_RULES],
    scrape_configs: [
      { job_name: LOAD_SCRAPE_JOB, static_configs: [{ targets: [options.engineTarget] }] },
      {
        job_name: FEDERATE_SCRAPE_JOB,
        honor_labels: true,
        metrics_path: '/federate',
        params: { 'match[]': [`{job="${API_SCRAPE_JOB}"}`, '{__name__="ALERTS"}', '{job="kubernetes-pods"}'] },
        static_configs: [{ targets: [options.clusterPrometheus] }],
      },
    ],
  });
}

/**
 * The load and, beside it, each experiment as its own ChaosEngine at its offset, followed to its
 * verdict. Critical SLOs are watched as on the local target and stop both on the first failure.
 */
export async function runKindLoadAndChaos(ctx: RunContext, signal: AbortSignal, kubeConfig: KubeConfig, options: KindRunOptions = {}): Promise<void> {
  const spec = kindSpec(ctx);
  await runLoadBesideSchedule(ctx, signal, (experiment, chaosSignal) => runScheduledEngine(ctx, experiment, spec, kubeConfig, chaosSignal, options));
}

/** One experiment, once its offset has come: apply its ChaosEngine, follow it to Litmus's verdict. */
async function runScheduledEngine(ctx: RunContext, experiment: ResolvedExperiment, spec: ResolvedKindTarget, kubeConfig: KubeConfig, signal: AbortSignal, options: KindRunOptions): Promise<ExperimentRecord> {
  const engine = renderKindChaosEngine(experiment, spec, ctx.runId);
  ctx.progress.info(`chaos: ${experiment.name} starts as ChaosEngine ${spec.chaosNamespace}/${engine.metadata.name} (${experiment.experiment}, ${experiment.durationMs / 1000}s)`);
  const result = await runLitmusExperiment({
    kubeConfig,
    ...(options.allowContext ? { allowContext: options.allowContext } : {}),
    ...(options.target?.kubeconfigPath ? { kubeconfigPath: options.target.kubeconfigPath } : {}),
    namespace: spec.chaosNamespace,
    engine,
    deadlineMs: experiment.durationMs + (options.litmusDeadlineSlackMs ?? LITMUS_DEADLINE_SLACK_MS),
    signal,
    ledger: ctx.ledger,
    runId: ctx.runId,
    log: (line) => ctx.progress.info(`chaos: ${line.trim()}`),
    ...(options.litmusStopWaitMs !== undefined ? { stopWaitMs: options.litmusStopWaitMs } : {}),
  });
  const litmus: LitmusExperimentRecord | undefined = result.records[0];
  const record: ExperimentRecord = litmus
    ? { ...litmus, name: experiment.name }
    : { name: experiment.name, experiment: experiment.experiment, start: Date.now(), end: Date.now(), actions: [], tookEffect: false, reason: `ChaosEngine ${engine.metadata.name} reported no result` };
  ctx.progress.info(`chaos: ${experiment.name} ended (${result.ended}): ${record.tookEffect ? 'took effect' : `not proven (${record.reason ?? ''})`}`);
  return record;
}
