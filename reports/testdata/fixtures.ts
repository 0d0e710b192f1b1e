import { readFileSync } from 'node:fs';
import type { RunResult } from '../result.ts';
import type { SloPhaseResult } from '../../slo/types.ts';

/**
 * Results the view tests render:
 * - `passResult()`: result.pass.json, the result.json of a real `resilience run api` (host name,
 *   platform, git commit and Prometheus port scrubbed);
 * - `hostileResult()`: the same run turned into a failing one that uses every part of the model
 *   (fail, inconclusive and warning SLOs, a breach, an experiment without effect, recovery,
 *   divergence, alerts, both canary replays gating) with markup and control characters in every
 *   string a user, a label or the system under test could set.
 */

/** Markup of every syntax the views write (HTML, XML, Markdown, GFM tables, terminal) in one string. */
export const HOSTILE = `<script>alert("x")</script> & 'q' | *b* _u_ [l](http://e.test) \`c\` $m$ ]]> \u001b[31m\u0007`;

export function passResult(): RunResult {
  return JSON.parse(readFileSync(new URL('./result.pass.json', import.meta.url), 'utf8')) as RunResult;
}

export function hostileResult(): RunResult {
  const r = passResult();
  const overall = r.phases.find((p) => p.kind === 'overall');
  const experimentPhase = r.phases.find((p) => p.kind === 'experiment');
  if (!overall || !experimentPhase) throw new Error('result.pass.json lost its overall or experiment phase');
  const slo = (name: string, phase: string): SloPhaseResult => {
    const found = r.slos.find((s) => s.slo === name && s.phase === phase);
    if (!found) throw new Error(`result.pass.json has no ${name} in ${phase}`);
    return found;
  };
  const hostilePhase = `chaos ${HOSTILE}`;

  r.suite = `api ${HOSTILE}`;
  r.description = HOSTILE;
  r.verdict = 'fail';
  r.exitCode = 1;
  r.reason = `1 SLO check(s) failed: api-client-latency-p95 in phase pod-delete: 612 ms (objective < 500 ms) ${HOSTILE}.`;

  const latency = slo('api-client-latency-p95', experimentPhase.name);
  Object.assign(latency, { verdict: 'fail', value: 612.3, reason: `p95 above the objective ${HOSTILE}` });
  latency.queries.value = `histogram_quantile(0.95, sum by (le) (rate(k6_http_req_duration_seconds_bucket{scenario="${HOSTILE.replaceAll('"', '\\"')}"}[10s]))) * 1000`;
  Object.assign(slo('api-server-success-ratio', 'baseline'), { verdict: 'inconclusive', value: null, samples: 3, reason: `too few samples (3 < 20) ${HOSTILE}` });
  r.slos.push({
    ...slo('api-server-latency-p95', 'overall'),
    slo: `api-warning-${HOSTILE}`,
    severity: 'warning',
    verdict: 'fail',
    value: 0.2,
    threshold: `< 0.1 ${HOSTILE}`,
    reason: HOSTILE,
  });
  r.phases.splice(r.phases.indexOf(overall), 0, { name: hostilePhase, kind: 'experiment', start: experimentPhase.end, end: experimentPhase.end + 2_000 });
  r.slos.push({ ...slo('api-client-success-ratio', experimentPhase.name), phase: hostilePhase, verdict: 'inconclusive', value: null, samples: 0, reason: `the experiment did not take effect ${HOSTILE}` });

  const experiment = r.experiments[0];
  if (!experiment?.actions[0]) throw new Error('result.pass.json lost its experiment');
  experiment.actions[0].target = `hastecrm-api-${HOSTILE}`;
  experiment.actions[0].evidence = `pid ${HOSTILE}`;
  r.experiments.push({ name: hostilePhase, experiment: 'pod-delete', start: experimentPhase.end, end: experimentPhase.end + 2_000, actions: [{ at: experimentPhase.end, action: 'pod-delete', target: HOSTILE, tookEffect: false }], tookEffect: false, reason: `no replacement became ready ${HOSTILE}` });

  r.breach = { ...latency, phase: 'watchdog', phaseKind: 'overall', reason: `breached ${HOSTILE}` };
  const recovery = r.recovery[0];
  const latencyRecovery = r.recovery[1];
  if (!recovery || !latencyRecovery) throw new Error('result.pass.json lost its recovery results');
  Object.assign(recovery, { status: 'not-recovered', degraded: true, ttrMs: null, firstViolationAt: experimentPhase.start + 1_000, reason: `never met again ${HOSTILE}` });
  Object.assign(latencyRecovery, { status: 'recovered', degraded: true, ttrMs: 2_100, firstViolationAt: experimentPhase.start + 1_000, recoveredAt: experimentPhase.end + 2_100 });
  const divergence = r.divergence[0];
  if (!divergence) throw new Error('result.pass.json lost its divergence results');
  Object.assign(divergence, { diverged: true, delta: 0.05, note: `the client saw 5 % errors ${HOSTILE}` });
  r.alerts = [{ alertname: `APIHighErrorRate${HOSTILE}`, severity: 'critical', state: 'firing', from: experimentPhase.start + 2_000, to: experimentPhase.end, labels: { job: HOSTILE } }];

  const flagger = r.canary[0];
  if (flagger?.tool !== 'flagger') throw new Error('result.pass.json lost its Flagger replay');
  Object.assign(flagger, {
    name: `hastecrm-api${HOSTILE}`,
    verdict: 'rollback',
    reason: `5 failed checks ${HOSTILE}`,
    flaggerDecision: { decision: 'rollback', iteration: 1, at: overall.end },
    checksAvailable: 1,
    checks: [{ iteration: 1, at: overall.end, weight: 10, passed: false, failedChecks: 1, metrics: [{ name: `request-success-rate${HOSTILE}`, value: 95, thresholdRange: { min: 99 }, outcome: 'fail', query: HOSTILE, reason: HOSTILE }] }],
  });
  r.canary.push({
    tool: 'argo-rollouts',
    name: `success-rate${HOSTILE}`,
    verdict: 'inconclusive',
    phase: 'Inconclusive',
    reason: `no data ${HOSTILE}`,
    missingData: true,
    start: overall.start,
    end: overall.end,
    notes: [HOSTILE],
    metrics: [
      {
        name: `success-rate${HOSTILE}`,
        phase: 'Inconclusive',
        query: HOSTILE,
        intervalSeconds: 10,
        count: null,
        failureLimit: 0,
        inconclusiveLimit: 0,
        consecutiveErrorLimit: 4,
        dryRun: false,
        successful: 0,
        failed: 0,
        inconclusive: 1,
        error: 0,
        measurements: [{ index: 1, at: overall.start + 10_000, result: [], phase: 'Inconclusive', message: HOSTILE, noData: true }],
      },
    ],
  });
  (r as RunResult & { canaryGate?: boolean }).canaryGate = true;
  r.timeseries = {
    start: overall.start,
    end: overall.end,
    stepSeconds: 1,
    windowSeconds: 5,
    series: [
      { name: 'client-request-rate', metric: 'request-rate', unit: 'req/s', side: 'client', query: `sum(rate(k6_http_reqs_total{scenario=${JSON.stringify(HOSTILE)}}[5s]))`, points: [[overall.start, 49.8], [overall.start + 1_000, 50.2]], nonFinite: 1 },
      { name: 'server-latency-p95', metric: 'latency-p95', unit: 'ms', side: 'server', query: HOSTILE, error: `bad_data: ${HOSTILE}` },
    ],
  };
  r.comparison = {
    verdict: 'fail',
    exitCode: 1,
    reason: `api-client-latency-p95 in pod-delete regressed ${HOSTILE}`,
    run: { runId: r.runId, suite: r.suite, startedAt: r.startedAt, verdict: r.verdict, reason: r.reason, profile: HOSTILE },
    baselineRuns: [{ runId: 'api-20261125-110000-aaaa', startedAt: '2026-11-25T11:00:00.000Z', gitCommit: 'fedcba9876543210fedcba9876543210fedcba98' }],
    fallback: false,
    settings: { last: 5, k: 3, minBaselines: 1, tolerance: { ratio: 0.005, latencyRelative: 0.25, latencyAbsoluteMs: 5, valueRelative: 0.25 } },
    notes: [HOSTILE],
    rows: [
      { phase: experimentPhase.name, slo: 'api-client-latency-p95', severity: 'error', better: 'lower', unit: 'ms', value: 612.3, baselineMedian: 14, spread: 2, limit: 20, baselineValues: 1, outcome: 'regression', regression: true, gating: true, note: `p95 rose from 14 ms to 612 ms ${HOSTILE}` },
      { phase: 'baseline', slo: 'api-server-success-ratio', severity: 'error', better: null, unit: 'ratio', value: null, baselineMedian: 1, spread: 0, limit: null, baselineValues: 1, outcome: 'not-comparable', regression: false, gating: true, note: 'no value in this run' },
    ],
  };
  r.errors = [HOSTILE];
  return r;
}
