import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { parse } from 'yaml';
import {
  InvalidPrometheusConfigError,
  PrometheusConfigCheckError,
  TargetsNotUpError,
  renderPrometheusConfig,
  startPrometheus,
  waitForTargetsUp,
  type RunningPrometheus,
} from './prometheus.ts';
import { freePort } from './ports.ts';
import { ServiceStartError } from './binaries.ts';

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'prometheus-test-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('renderPrometheusConfig', () => {
  const rendered = renderPrometheusConfig({
    scrapeIntervalSeconds: 1,
    jobs: [
      { job: 'hastecrm-api', targets: ['127.0.0.1:4001', '127.0.0.1:4002'], labels: { target: 'local' } },
      { job: 'k6', targets: ['127.0.0.1:6565'], metricsPath: '/k6/metrics' },
    ],
    ruleFiles: ['/etc/rules/hastecrm-alerts.yaml'],
  });
  const config = parse(rendered) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[]; labels?: Record<string, string> }[] }[];
  };

  it('scrapes and evaluates at the interval, with a timeout no longer than it', () => {
    expect(config.global).toEqual({ scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' });
  });

  it('renders one scrape config per job with static targets, path and labels', () => {
    expect(config.scrape_configs).toEqual([
      { job_name: 'hastecrm-api', metrics_path: '/metrics', static_configs: [{ targets: ['127.0.0.1:4001', '127.0.0.1:4002'], labels: { target: 'local' } }] },
      { job_name: 'k6', metrics_path: '/k6/metrics', static_configs: [{ targets: ['127.0.0.1:6565'] }] },
    ]);
    expect(config.rule_files).toEqual(['/etc/rules/hastecrm-alerts.yaml']);
  });

  it('writes sub-second intervals in milliseconds', () => {
    const text = renderPrometheusConfig({ scrapeIntervalSeconds: 0.5, jobs: [], ruleFiles: [] });
    expect((parse(text) as { global: Record<string, string> }).global.scrape_interval).toBe('500ms');
  });

  it('is accepted by promtool check config (with the real alert rules)', async () => {
    const dir = await tempDir();
    const rules = path.resolve(import.meta.dirname, '../../addons/prometheus/hastecrm-alerts.yaml');
    const file = path.join(dir, 'prometheus.yml');
    await writeFile(file, renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [{ job: 'k6', targets: ['127.0.0.1:6565'] }], ruleFiles: [rules] }));
    const result = await execa('promtool', ['check', 'config', file], { reject: false, all: true });
    expect(result.exitCode, result.all).toBe(0);
  });

  it.each([
    ['a non-positive interval', { scrapeIntervalSeconds: 0, jobs: [], ruleFiles: [] }, /positive/],
    ['duplicate jobs', { scrapeIntervalSeconds: 1, jobs: [{ job: 'a', targets: ['h:1'] }, { job: 'a', targets: ['h:2'] }], ruleFiles: [] }, /listed twice/],
    ['a target that is a URL', { scrapeIntervalSeconds: 1, jobs: [{ job: 'a', targets: ['http://h:1/metrics'] }], ruleFiles: [] }, /not host:port/],
    ['a job without targets', { scrapeIntervalSeconds: 1, jobs: [{ job: 'a', targets: [] }], ruleFiles: [] }, /no targets/],
    ['a bad label name', { scrapeIntervalSeconds: 1, jobs: [{ job: 'a', targets: ['h:1'], labels: { 'bad-name': 'x' } }], ruleFiles: [] }, /label name/],
  ])('rejects %s', (_what, options, message) => {
    expect(() => renderPrometheusConfig(options)).toThrow(InvalidPrometheusConfigError);
    expect(() => renderPrometheusConfig(options)).toThrow(message);
  });
});

describe('startPrometheus', () => {
  let app: http.Server;
  let appTarget: string;
  let closedTarget: string;
  let prometheus: RunningPrometheus | undefined;

  beforeAll(async () => {
    app = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# TYPE test_requests_total counter\ntest_requests_total 1\n');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appTarget = `127.0.0.1:${(app.address() as AddressInfo).port}`;
    closedTarget = `127.0.0.1:${await freePort()}`;
    prometheus = await startPrometheus({
      dir: await tempDir(),
      config: renderPrometheusConfig({
        scrapeIntervalSeconds: 1,
        jobs: [
          { job: 'app', targets: [appTarget] },
          { job: 'broken', targets: [closedTarget] },
        ],
        ruleFiles: [],
      }),
      readyTimeoutMs: 20_000,
    });
  });

  afterAll(async () => {
    await prometheus?.stop();
    app.closeAllConnections();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });

  it('is ready on 127.0.0.1 with lifecycle and remote-write endpoints enabled', async () => {
    const p = prometheus!;
    expect(p.url).toBe(`http://127.0.0.1:${p.port}`);
    expect((await fetch(`${p.url}/-/ready`)).status).toBe(200);
    const flags = (await (await fetch(`${p.url}/api/v1/status/flags`)).json()) as { data: Record<string, string> };
    expect(flags.data['web.enable-lifecycle']).toBe('true');
    expect(flags.data['web.enable-remote-write-receiver']).toBe('true');
    expect(flags.data['storage.tsdb.retention.time']).toBe('1d');
  });

  it('waits until every target of the given jobs is up', async () => {
    await waitForTargetsUp(prometheus!.url, { jobs: ['app'], timeoutMs: 10_000 });
  });

  it('lists the targets that are not up, with their last error', async () => {
    const error = await waitForTargetsUp(prometheus!.url, { jobs: ['app', 'broken', 'missing'], timeoutMs: 2_500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetsNotUpError);
    const message = (error as Error).message;
    expect(message).toContain(`job broken: http://${closedTarget}/metrics is`);
    expect(message).toMatch(/connection refused/);
    expect(message).toContain('job missing: no targets configured');
    expect(message, 'an up target must not be listed').not.toContain(`http://${appTarget}`);
  });

  it('reloads a new config and keeps the old one when the new one is invalid', async () => {
    const p = prometheus!;
    const withNewJob = renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [{ job: 'app', targets: [appTarget] }, { job: 'app-again', targets: [appTarget] }], ruleFiles: [] });
    await p.reloadConfig(withNewJob);
    await waitForTargetsUp(p.url, { jobs: ['app-again'], timeoutMs: 10_000 });

    const bad = `${withNewJob}\nrule_files: [${JSON.stringify(path.join(await tempDir(), 'missing-rules.yaml'))}]\n`;
    await expect(p.reloadConfig(bad)).rejects.toThrow(PrometheusConfigCheckError);
    expect(await readFile(p.configFile, 'utf8'), 'the running config file must not be replaced by an invalid one').toBe(withNewJob);
    await waitForTargetsUp(p.url, { jobs: ['app-again'], timeoutMs: 5_000 });
  });

  it('fails fast with promtool’s message when a rules file is invalid, starting nothing', async () => {
    const dir = await tempDir();
    const rules = path.join(dir, 'bad-rules.yaml');
    await writeFile(rules, 'groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m])\n');
    const started = Date.now();
    const error = await startPrometheus({ dir, config: renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [], ruleFiles: [rules] }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusConfigCheckError);
    expect((error as Error).message).toMatch(/promtool check config.*failed/);
    expect((error as Error).message).toMatch(/parse error|unclosed left parenthesis/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reports an early exit with the log tail instead of waiting for the deadline', async () => {
    // The port of the running Prometheus is taken: the new one exits at once.
    const started = Date.now();
    const error = await startPrometheus({ dir: await tempDir(), config: renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [], ruleFiles: [] }), port: prometheus!.port, readyTimeoutMs: 30_000 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServiceStartError);
    expect((error as Error).message).toMatch(/exited before it was ready/);
    expect((error as Error).message).toMatch(/address already in use/);
    expect(Date.now() - started, 'an exit must not wait for the 30 s readiness deadline').toBeLessThan(15_000);
  });

  it('stops, idempotently', async () => {
    const dir = await tempDir();
    const extra = await startPrometheus({ dir, config: renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [], ruleFiles: [] }) });
    await Promise.all([extra.stop(), extra.stop()]);
    expect(extra.process.running).toBe(false);
    await extra.stop();
    await expect(fetch(`${extra.url}/-/ready`)).rejects.toThrow();
  });
});
