import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertTimeline, type AlertInterval } from './alerts.ts';
import { PrometheusClient, PrometheusQueryError, PrometheusUnreachableError } from './prometheus-client.ts';
import { startMetricsTarget, type MetricsTarget } from './testing/metrics-target.ts';
import { renderPrometheusConfig, startPrometheus, waitForTargetsUp, type RunningPrometheus } from '../cluster/targets/local/prometheus.ts';
import { freePort } from '../cluster/targets/local/ports.ts';
import { sleep } from '../scripts/util/wait.ts';

// A real Prometheus (1 s scrapes, rules evaluated every second) with a small rule file written
// here, scraping two gauges this test sets:
//   trigger  1 for 6 s  → TriggerHigh (for: 2s) is pending ~2 s, then firing ~4 s, then resolves
//   flap     1 for 2 s, 0 for 3 s, 1 for 2 s → Flapping (no `for`) fires twice, never pending
// TriggerNeverHigh (trigger > 100) never fires and must not appear.

const RULES = `groups:
  - name: alert-timeline-test
    interval: 1s
    rules:
      - alert: TriggerHigh
        expr: trigger > 0
        for: 2s
        labels:
          severity: critical
          team: test
      - alert: Flapping
        expr: flap > 0
        labels:
          severity: warning
      - alert: TriggerNeverHigh
        expr: trigger > 100
        labels:
          severity: critical
`;

const gauges = { trigger: 0, flap: 0 };
const gaugeFamily = { render: () => Object.entries(gauges).map(([name, value]) => `# TYPE ${name} gauge\n${name} ${value}`).join('\n') };

let dir: string | undefined;
let target: MetricsTarget | undefined;
let prometheus: RunningPrometheus | undefined;
let client: PrometheusClient;
let quietStart: number;
let triggerOn: number;
let triggerOff: number;
let flapOn: number;
let timeline: AlertInterval[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'slo-alerts-test-'));
  await writeFile(path.join(dir, 'rules.yaml'), RULES);
  target = await startMetricsTarget({ '/metrics': [gaugeFamily] });
  prometheus = await startPrometheus({
    dir,
    config: renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [{ job: 'gauges', targets: [target.hostPort] }], ruleFiles: [path.join(dir, 'rules.yaml')] }),
  });
  await waitForTargetsUp(prometheus.url, { jobs: ['gauges'], timeoutMs: 20_000 });
  client = new PrometheusClient({ url: prometheus.url });

  quietStart = Date.now();
  await sleep(2_000);
  triggerOn = Date.now();
  gauges.trigger = 1;
  gauges.flap = 1;
  flapOn = triggerOn;
  await sleep(2_000);
  gauges.flap = 0;
  await sleep(3_000);
  gauges.flap = 1;
  await sleep(1_000);
  triggerOff = Date.now();
  gauges.trigger = 0;
  await sleep(1_000);
  gauges.flap = 0;
  // One scrape and one rule evaluation after the last change, plus slack.
  await sleep(3_000);
  timeline = await alertTimeline({ client, start: quietStart, end: Date.now() });
}, 45_000);

afterAll(async () => {
  await prometheus?.stop();
  await target?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const show = (list: AlertInterval[]): string =>
  list.map((i) => `${i.alertname} ${i.state} +${i.from - triggerOn}..+${i.to - triggerOn} ms`).join('\n');

describe('alertTimeline against a real Prometheus', () => {
  it('shows an alert with `for: 2s` pending, then firing, then resolved, as two adjacent intervals', () => {
    const trigger = timeline.filter((i) => i.alertname === 'TriggerHigh');
    expect(trigger.map((i) => i.state), show(timeline)).toEqual(['pending', 'firing']);
    const [pending, firing] = trigger as [AlertInterval, AlertInterval];
    // Seen at the first scrape + evaluation after the change: within ~2 s of it.
    expect(pending.from - triggerOn, show(timeline)).toBeGreaterThanOrEqual(0);
    expect(pending.from - triggerOn, show(timeline)).toBeLessThanOrEqual(2_500);
    // Pending for `for: 2s`: two or three 1 s evaluations, one step resolution either way.
    expect(pending.to - pending.from, show(timeline)).toBeGreaterThanOrEqual(1_000);
    expect(pending.to - pending.from, show(timeline)).toBeLessThanOrEqual(3_000);
    // Firing begins at the step after pending ends (the pending series is marked stale at once).
    expect(firing.from - pending.to, show(timeline)).toBe(1_000);
    // Resolved within one scrape and one evaluation of the gauge going back to 0.
    expect(firing.to - triggerOff, show(timeline)).toBeGreaterThanOrEqual(-1_000);
    expect(firing.to - triggerOff, show(timeline)).toBeLessThanOrEqual(3_000);
    expect(firing).toMatchObject({ severity: 'critical', labels: { severity: 'critical', team: 'test' } });
    expect(firing.labels).not.toHaveProperty('alertstate');
    expect(firing.labels).not.toHaveProperty('alertname');
    expect(firing.labels).not.toHaveProperty('__name__');
  });

  it('splits an alert that fired twice into two intervals, and a rule without `for` is never pending', () => {
    const flapping = timeline.filter((i) => i.alertname === 'Flapping');
    expect(flapping.map((i) => i.state), show(timeline)).toEqual(['firing', 'firing']);
    const [first, second] = flapping as [AlertInterval, AlertInterval];
    expect(first.from - flapOn, show(timeline)).toBeLessThanOrEqual(2_500);
    expect(second.from - first.to, 'a gap of ~3 s between the two').toBeGreaterThanOrEqual(2_000);
    expect(first.severity).toBe('warning');
  });

  it('lists only alerts that were active, ordered by start time', () => {
    expect(timeline.map((i) => i.alertname)).not.toContain('TriggerNeverHigh');
    expect(timeline).toHaveLength(4);
    const starts = timeline.map((i) => i.from);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });

  it('is empty for a window in which nothing was pending or firing', async () => {
    expect(await alertTimeline({ client, start: quietStart, end: triggerOn - 100 })).toEqual([]);
  });

  it('merges consecutive points at a coarser step too', async () => {
    const coarse = await alertTimeline({ client, start: quietStart, end: Date.now(), stepSeconds: 2 });
    expect(coarse.filter((i) => i.alertname === 'TriggerHigh' && i.state === 'firing')).toHaveLength(1);
  });

  it('rejects with the client’s error, in bounded time, when Prometheus is unreachable', async () => {
    const port = await freePort();
    const unreachable = new PrometheusClient({ url: `http://127.0.0.1:${port}`, attempts: 2, backoffMs: 20 });
    const started = Date.now();
    await expect(alertTimeline({ client: unreachable, start: quietStart, end: Date.now() })).rejects.toBeInstanceOf(PrometheusUnreachableError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('rejects with the client’s error when Prometheus refuses the range (over 11,000 points)', async () => {
    await expect(alertTimeline({ client, start: Date.now() - 3_600_000, end: Date.now(), stepSeconds: 0.1 })).rejects.toBeInstanceOf(PrometheusQueryError);
  });

  it('refuses a non-positive step', async () => {
    await expect(alertTimeline({ client, start: quietStart, end: Date.now(), stepSeconds: 0 })).rejects.toThrow(/stepSeconds must be positive/);
  });
});
