import { formatDuration } from '../util/duration.ts';
import type { RunPlan } from '../pipeline/plan.ts';
import type { ResolvedScenario } from '../../scenarios/engine/resolve.ts';

/** The plan as people read it: what will start, what will be injected when, what will be judged how. */
export function formatPlan(plan: RunPlan): string {
  const { suite, scenario } = plan;
  const t = suite.target;
  const lines: string[] = [];
  lines.push(`Suite ${suite.name}${suite.description ? `: ${suite.description}` : ''}`);
  lines.push(`  config: ${plan.config.configFile}`);
  lines.push('');
  if (t.type === 'kind') {
    lines.push(`Target: kind cluster ${t.cluster} (kube context kind-${t.cluster}; ${t.reuse ? 'reused and kept after the run' : 'created for the run unless it exists, deleted after it when created'})`);
    lines.push(`  nodes: 1 control plane + ${t.workers} worker(s); addons: ingress-nginx, prometheus, metrics-server, litmus, k6-operator${t.addons.length > 0 ? `, ${t.addons.join(', ')}` : ''}`);
    lines.push(`  applies: the kind overlay (cluster/manifests/overlays/kind) with the run's label, the API image built here and \`kind load\`ed; ${t.replicas} × hastecrm-api in ${t.namespace}`);
    lines.push(`  ingress: http://127.0.0.1:${t.ingressPort} with Host: ${t.apiHost}; in-cluster Prometheus at http://127.0.0.1:${t.prometheusPort}, federated by a host Prometheus that also scrapes the load engine (every ${formatDuration(t.prometheus.scrapeIntervalMs)})`);
    lines.push(`  chaos: Litmus ChaosEngines in namespace ${t.chaosNamespace} (pod-security privileged, litmus-admin), acting on ${t.namespace}`);
    lines.push(`  teardown: every object labelled with the run id is deleted${t.reuse ? '; the cluster stays' : ''}`);
    lines.push(`  kube contexts modified: kind-${t.cluster}${plan.allowContext ? ` and, allowed by --allow-context, ${plan.allowContext}` : ' only (others need --allow-context <name>)'}`);
  } else {
    lines.push(`Target: local (on this machine; API replicas and the ingress as processes)`);
    lines.push(`  runtimes: ${Object.entries(t.runtime).map(([service, runtime]) => `${service} ${runtime}${runtime === 'auto' ? ' (the binary if on PATH, else a container)' : ''}`).join(', ')}`);
    lines.push(`  services: postgresql, redis, ${t.replicas} × hastecrm-api, ingress, prometheus (scrape every ${formatDuration(t.prometheus.scrapeIntervalMs)})`);
    lines.push(`  ingress policy: timeout ${formatDuration(t.ingress.timeoutMs)}, ${t.ingress.attempts} retries, ${formatDuration(t.ingress.perTryTimeoutMs)} per try`);
    if (t.api.latencyMs > 0) lines.push(`  api artificial latency: ${formatDuration(t.api.latencyMs)} ± ${formatDuration(t.api.latencyJitterMs)}`);
  }
  lines.push('');
  lines.push(`Load: scenario ${scenario.name} (${suite.load.scenarioFile}), ${plan.load.driver === 'k6' ? 'real k6' : 'embedded engine'} (${plan.load.reason})`);
  lines.push(`  ${describeSchedule(scenario)}`);
  for (const r of scenario.requests) lines.push(`  - ${r.name} (weight ${r.weight})`);
  lines.push('');
  lines.push('Chaos schedule (offsets from the start of load):');
  if (plan.schedule.length === 0) lines.push('  none');
  for (const x of plan.schedule) {
    const tunables = Object.entries(x.definition.env as Record<string, string | number | boolean>)
      .filter(([key, value]) => value !== '' && key !== 'TOTAL_CHAOS_DURATION')
      .map(([key, value]) => `${key}=${String(value)}`)
      .join(' ');
    lines.push(`  ${formatDuration(x.startAfterMs)} → ${formatDuration(x.startAfterMs + x.durationMs)}  ${x.name}: ${x.experiment} on ${Object.entries(x.selector).map(([k, v]) => `${k}=${v}`).join(',')}${x.source === 'config' ? '' : ` (from ${x.source})`}`);
    lines.push(`      hits: ${plan.targets[x.name] ?? 'unknown'}`);
    lines.push(`      tunables: ${tunables}`);
  }
  if (t.type === 'kind') {
    const warnings = plan.policy.filter((f) => f.severity === 'warning');
    lines.push(`  policy check (Pod Security of ${t.chaosNamespace}, from the manifests the run applies): ${plan.policy.length === 0 ? 'no conflicts' : `${warnings.length} warning(s)`}`);
    for (const w of warnings) lines.push(`    warning: ${w.experiment} in ${w.namespace}: ${w.message}`);
  }
  lines.push('');
  lines.push('Phases:');
  for (const p of plan.phases) lines.push(`  ${p.name.padEnd(16)} ${p.kind.padEnd(11)} ${formatDuration(p.startMs)} → ${formatDuration(p.endMs)}`);
  lines.push('');
  lines.push(`SLOs (judged per phase, at the phase's end over the phase's duration; queries shown for overall, ${formatDuration(scenario.durationMs)}):`);
  for (const { slo, queries, threshold } of plan.slos) {
    lines.push(`  ${slo.name} ${threshold} [${slo.side}, ${slo.severity}, phases: ${slo.phases.join(', ')}, min ${slo.minSamples} samples]`);
    if (slo.description) lines.push(`    ${slo.description}`);
    lines.push(`    value:   ${queries.value}`);
    lines.push(`    samples: ${queries.samples}`);

  }
  if (plan.canary) {
    lines.push('');
    lines.push(`Release analysis replayed over the run (${plan.canary.gate ? 'gates the run' : 'report only'}):`);
    const f = plan.canary.flagger;
    if (f) lines.push(`  Flagger Canary ${f.namespace}/${f.name}: every ${formatDuration(f.analysis.intervalSeconds * 1000)}, rollback after ${f.analysis.threshold} failed checks; metrics ${f.analysis.metrics.map((m) => m.name).join(', ')}`);
    const a = plan.canary.argo;
    if (a) lines.push(`  Argo Rollouts AnalysisTemplate ${a.template.name}: metrics ${a.template.metrics.map((m) => m.name).join(', ')}`);
  }
  return lines.join('\n');
}

/** One line per executor, in k6's terms: what starts when, and how much concurrency it may take. */
function describeSchedule(scenario: ResolvedScenario): string {
  const s = scenario.schedule;
  const start = scenario.startTimeMs > 0 ? `, from ${formatDuration(scenario.startTimeMs)}` : '';
  const stages = (list: readonly { durationMs: number; target: number }[], unit: string): string => list.map((st) => `${st.target}${unit} over ${formatDuration(st.durationMs)}`).join(' → ');
  switch (s.executor) {
    case 'constant-arrival-rate':
      return `constant-arrival-rate: ${scenario.ratePerSec}/s for ${formatDuration(scenario.durationMs)} (${scenario.plannedIterations} iterations), maxVUs ${scenario.maxVUs}${start}`;
    case 'ramping-arrival-rate':
      return `ramping-arrival-rate: from ${s.startRatePerSec}/s, ${stages(s.stages, '/s')} (${scenario.plannedIterations} iterations), maxVUs ${scenario.maxVUs}${start}`;
    case 'constant-vus':
      return `constant-vus: ${s.vus} VUs for ${formatDuration(scenario.durationMs)} (closed model)${start}`;
    case 'ramping-vus':
      return `ramping-vus: from ${s.startVUs} VUs, ${stages(s.stages, ' VUs')} (closed model)${start}`;
    default:
      return `${s.executor}: ${s.vus} VUs, ${s.iterations} iterations, at most ${formatDuration(scenario.durationMs)} (closed model)${start}`;
  }
}
