import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateSlos } from './evaluate.ts';
import { PrometheusClient } from './prometheus-client.ts';
import { PROMETHEUS_SELF_JOB, renderSloQueries } from './promql.ts';
import { startMetricsTarget, type MetricsTarget } from './testing/metrics-target.ts';
import { renderPrometheusConfig, startPrometheus, waitForTargetsUp, type RunningPrometheus } from '../cluster/targets/local/prometheus.ts';
import { freePort } from '../cluster/targets/local/ports.ts';
import { sleep } from '../scripts/util/wait.ts';
import type { AlertSlo, Phase, SloPhaseResult } from './types.ts';

// The `alert` SLO kind against a real Prometheus (1 s scrapes and rule evaluations) that scrapes
// itself under job `prometheus`, as the harness's does, and has rules this test triggers:
//
//   TestCriticalFired    severity critical, fires as soon as fixture_trigger > 0 (for: 0s)
//   TestCriticalPending  severity critical, same condition but for: 1h (stays pending)
//   TestWarningAlways    severity warning, always firing
//
// Three 4-second phases, lived once in beforeAll:
//   quiet    fixture_trigger = 0
//   firing   fixture_trigger = 1 for 2 s
//   frozen   Prometheus is stopped (SIGSTOP) for the whole phase: no rule is evaluated
// plus `overall` over the three.

const PHASE_MS = 4_000;
const RULES = `groups:
  - name: test-alerts
    rules:
      - alert: TestCriticalFired
        expr: fixture_trigger > 0
        for: 0s
        labels:
          severity: critical
      - alert: TestCriticalPending
        expr: fixture_trigger > 0
        for: 1h
        labels:
          severity: critical
      - alert: TestWarningAlways
        expr: vector(1)
        labels:
          severity: warning
`;

/** A gauge the test sets. */
const trigger = { value: 0, render: (): string => `# TYPE fixture_trigger gauge\nfixture_trigger ${trigger.value}` };

const common = { description: 'test', side: 'server' as const, severity: 'error' as const, minSamples: 1, phases: ['baseline', 'experiment', 'overall'] as const };
const noCritical: AlertSlo = { ...common, name: 'no-critical-alert', kind: 'alert', alertSeverity: 'critical' };
const noOtherCritical: AlertSlo = { ...common, name: 'no-other-critical-alert', kind: 'alert', alertSeverity: 'critical', alertnames: ['SomeOtherAlert', 'AndAnother'] };
const noWarning: AlertSlo = { ...common, name: 'no-warning-alert', kind: 'alert', alertSeverity: 'warning', phases: ['baseline'] };
const manyEvaluations: AlertSlo = { ...noCritical, name: 'many-evaluations', minSamples: 1_000, phases: ['baseline', 'experiment'] };

let dir: string | undefined;
let target: MetricsTarget | undefined;
let prometheus: RunningPrometheus | undefined;
let phases: { quiet: Phase; firing: Phase; frozen: Phase; overall: Phase };
let results: SloPhaseResult[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'slo-alert-test-'));
  target = await startMetricsTarget({ '/fixtures': [trigger] });
  const rulesFile = path.join(dir, 'rules.yml');
  await writeFile(rulesFile, RULES);
  // The self-scrape needs Prometheus's own port in its config, so the port is chosen first.
  const port = await freePort();
  prometheus = await startPrometheus({
    dir,
    port,
    config: renderPrometheusConfig({
      scrapeIntervalSeconds: 1,
      jobs: [
        { job: 'fixtures', targets: [target.hostPort], metricsPath: '/fixtures' },
        { job: PROMETHEUS_SELF_JOB, targets: [`127.0.0.1:${port}`] },
      ],
      ruleFiles: [rulesFile],
    }),
  });
  await waitForTargetsUp(prometheus.url, { jobs: ['fixtures', PROMETHEUS_SELF_JOB], timeoutMs: 20_000 });

  const t0 = Date.now() + 200;
  const phase = (name: string, kind: Phase['kind'], index: number, count = 1): Phase => ({ name, kind, start: t0 + index * PHASE_MS, end: t0 + (index + count) * PHASE_MS });
  phases = { quiet: phase('quiet', 'baseline', 0), firing: phase('firing', 'experiment', 1), frozen: phase('frozen', 'experiment', 2), overall: phase('overall', 'overall', 0, 3) };

  await sleep(phases.firing.start + 300 - Date.now());
  trigger.value = 1;
  await sleep(2_000);
  trigger.value = 0;
  // Stopped from just before the phase to just after it: no rule evaluation falls inside it.
  await sleep(phases.frozen.start - 300 - Date.now());
  prometheus.process.kill('SIGSTOP');
  await sleep(phases.frozen.end + 300 - Date.now());
  prometheus.process.kill('SIGCONT');

  results = await evaluateSlos({
    client: new PrometheusClient({ url: prometheus.url }),
    slos: [noCritical, noOtherCritical, noWarning, manyEvaluations],
    phases: [phases.quiet, phases.firing, phases.frozen, phases.overall],
    scrapeIntervalSeconds: 1,
    // The rule evaluations are these SLOs' samples; scrape coverage of the API is not under test here.
    jobs: { client: null, server: null },
  });
}, 60_000);

afterAll(async () => {
  prometheus?.process.kill('SIGCONT'); // in case a failure left it stopped
  await prometheus?.stop();
  await target?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function resultOf(slo: string, phase: string): SloPhaseResult {
  const found = results.find((r) => r.slo === slo && r.phase === phase);
  if (!found) throw new Error(`no result for ${slo} in ${phase}`);
  return found;
}

function table(): string {
  return results.map((r) => `${r.slo}@${r.phase} → ${r.verdict} value=${r.value} samples=${r.samples}${r.reason ? ` (${r.reason})` : ''}`).join('\n');
}

function expectVerdict(slo: string, phase: string, verdict: SloPhaseResult['verdict']): SloPhaseResult {
  const result = resultOf(slo, phase);
  expect(result.verdict, `${slo} in ${phase}:\n${table()}`).toBe(verdict);
  return result;
}

describe('alert SLOs against a real Prometheus evaluating rules', () => {
  it('passes a phase in which no alert of the severity fired, with rule evaluations as samples', () => {
    const result = expectVerdict('no-critical-alert', 'quiet', 'pass');
    expect(result.value).toBe(0);
    // 3 rules, evaluated about once a second for 4 s.
    expect(result.samples).toBeGreaterThanOrEqual(6);
    expect(result.samples).toBeLessThanOrEqual(18);
    expect(result.threshold).toBe('no alert of severity critical firing');
    expect(result.queries).toEqual({
      value: 'count(max_over_time(ALERTS{alertstate="firing",severity="critical"}[4s])) or vector(0)',
      samples:
        'min(sum by (rule_group) ((increase(prometheus_rule_evaluations_total{job="prometheus"}[4s]) and last_over_time(prometheus_rule_evaluations_total{job="prometheus"}[5m] offset 4s)) or (((increase(prometheus_rule_evaluations_total{job="prometheus"}[4s]) >= max_over_time(prometheus_rule_evaluations_total{job="prometheus"}[4s])) or max_over_time(prometheus_rule_evaluations_total{job="prometheus"}[4s])) unless last_over_time(prometheus_rule_evaluations_total{job="prometheus"}[5m] offset 4s))))',
    });
  });

  it('fails a phase in which a critical alert fired, naming it; a pending alert does not count', () => {
    const result = expectVerdict('no-critical-alert', 'firing', 'fail');
    expect(result.value).toBe(1);
    expect(result.reason).toBe('1 alert of severity critical fired in phase firing: TestCriticalFired.');
    expectVerdict('no-critical-alert', 'overall', 'fail');
    // A fired alert is proof however few rule evaluations there were.
    expect(expectVerdict('many-evaluations', 'firing', 'fail').reason).toBe('1 alert of severity critical fired in phase firing: TestCriticalFired.');
  });

  it('counts only the listed alert names when alertnames is given', () => {
    const result = expectVerdict('no-other-critical-alert', 'firing', 'pass');
    expect(result.value).toBe(0);
    expect(result.threshold).toBe('no alert of severity critical firing (SomeOtherAlert, AndAnother)');
  });

  it('counts only the given severity', () => {
    const result = expectVerdict('no-warning-alert', 'quiet', 'fail');
    expect(result.reason).toBe('1 alert of severity warning fired in phase quiet: TestWarningAlways.');
  });

  it('is inconclusive when Prometheus evaluated no rules in the phase: no alert then proves nothing', () => {
    const result = expectVerdict('no-critical-alert', 'frozen', 'inconclusive');
    expect(result.reason).toBe('Prometheus evaluated its rules only 0 times in phase frozen (least-evaluated rule group; 1 needed), so no alert firing proves nothing.');
    expectVerdict('no-other-critical-alert', 'frozen', 'inconclusive');
  });

  it('is inconclusive with fewer rule evaluations than minSamples, keeping the value', () => {
    const result = expectVerdict('many-evaluations', 'quiet', 'inconclusive');
    expect(result.value).toBe(0);
    expect(result.reason).toMatch(/^Prometheus evaluated its rules only \d+ times in phase quiet \(least-evaluated rule group; 1000 needed\)/);
  });

  it('is inconclusive against a Prometheus that evaluates no rules at all (or is not scraped under job prometheus)', async () => {
    const bareDir = await mkdtemp(path.join(os.tmpdir(), 'slo-alert-bare-test-'));
    const bare = await startPrometheus({ dir: bareDir, config: renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [{ job: 'fixtures', targets: [target!.hostPort], metricsPath: '/fixtures' }], ruleFiles: [] }) });
    try {
      const now = Date.now();
      const list = await evaluateSlos({
        prometheusUrl: bare.url,
        slos: [noCritical],
        phases: [{ name: 'bare', kind: 'baseline', start: now - 3_000, end: now }],
        scrapeIntervalSeconds: 1,
        jobs: { client: null, server: null },
      });
      expect(list[0]).toMatchObject({ verdict: 'inconclusive', value: 0, samples: 0, reason: expect.stringMatching(/evaluated its rules only 0 times/) as unknown });
    } finally {
      await bare.stop();
      await rm(bareDir, { recursive: true, force: true });
    }
  });

  it('renders the alert names restriction as an escaped regex', () => {
    const queries = renderSloQueries({ ...noCritical, alertnames: ['A.b', 'C|d'] }, 60);
    expect(queries.value).toBe('count(max_over_time(ALERTS{alertstate="firing",severity="critical",alertname=~"A\\\\.b|C\\\\|d"}[60s])) or vector(0)');
    expect(queries.firing).toBe('max by (alertname) (max_over_time(ALERTS{alertstate="firing",severity="critical",alertname=~"A\\\\.b|C\\\\|d"}[60s]))');
    expect(renderSloQueries({ ...noCritical, alertnames: ['Only'] }, 60).value).toContain('alertname="Only"');
  });
});
