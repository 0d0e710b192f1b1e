import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, afterEach, expect, it } from 'vitest';
import { Ledger } from '../../../../chaos/ledger.ts';
import { ServiceStartError } from '../binaries.ts';
import { isPortOpen } from '../ports.ts';
import { renderPrometheusConfig } from '../prometheus.ts';
import { removeRunContainers } from './cleanup.ts';
import { docker, inspectContainer, listContainersByLabel, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './docker.ts';
import { describeWithDocker } from './docker-test-support.ts';
import { startPostgresContainer, startPrometheusContainer, startRedisContainer } from './services.ts';

const runId = `svc-test-${process.pid}`;
const dirs: string[] = [];
const servers: http.Server[] = [];

function ledger(): Ledger {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'containers-services-'));
  dirs.push(dir);
  return Ledger.open(dir);
}

afterEach(async () => {
  await removeRunContainers(runId);
  for (const server of servers.splice(0)) server.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

afterAll(async () => {
  expect(await listContainersByLabel({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, 'resilience.run-id': runId })).toEqual([]);
});

describeWithDocker('container services', () => {
  it('PostgreSQL: answers a real query, is labelled, recorded in the ledger while it runs and forgotten after stop', async () => {
    const book = ledger();
    const postgres = await startPostgresContainer({ runId, ledger: book, readyTimeoutMs: 50_000 });
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      const result = await client.query<{ db: string; version: string }>("SELECT current_database() AS db, current_setting('server_version') AS version");
      expect(result.rows[0]?.db).toBe('hastecrm');
      expect(result.rows[0]?.version).toMatch(/^15\./);
      await client.query('CREATE TABLE t (v int)');
      await client.query('INSERT INTO t VALUES (42)');
      expect((await client.query<{ v: number }>('SELECT v FROM t')).rows[0]?.v).toBe(42);
    } finally {
      await client.end();
    }
    const state = await inspectContainer(postgres.container.id);
    expect(state.labels).toMatchObject({ 'resilience.run-id': runId, 'resilience.managed-by': 'hastecrm-resilience' });
    // The server runs as the image's non-root user.
    expect(await docker(['exec', postgres.container.id, '/usr/lib/postgresql/15/bin/postgres', '--version']).catch(() => 'no exec')).toMatch(/15\./);
    const owner = statSync(`/proc/${state.pid}`).uid;
    expect(owner).not.toBe(0);
    expect(book.entries()).toMatchObject([{ kind: 'process', revert: { type: 'container-remove', id: postgres.container.id, name: postgres.container.name } }]);
    await postgres.stop();
    await postgres.stop(); // idempotent
    expect(book.entries()).toEqual([]);
    await expect(inspectContainer(postgres.container.id)).rejects.toThrow(/No such container/i);
  });

  it('Redis: SET/GET on 127.0.0.1 only', async () => {
    const redis = await startRedisContainer({ runId, ledger: ledger() });
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      await client.set('k', 'v');
      expect(await client.get('k')).toBe('v');
    } finally {
      client.disconnect();
    }
    // Host network, loopback bind: the port is closed on the host's other addresses (docker0 at
    // least exists while Docker runs).
    const external = Object.values(os.networkInterfaces()).flat().find((a) => a?.family === 'IPv4' && !a.internal)?.address;
    expect(external).toBeDefined();
    expect(await isPortOpen(redis.port, '127.0.0.1')).toBe(true);
    expect(await isPortOpen(redis.port, external)).toBe(false);
    await redis.stop();
  });

  it('Prometheus: scrapes a target on the host\'s 127.0.0.1 and applies a reloaded config', async () => {
    const server = http.createServer((_req, res) => res.end('probe_metric 1\n'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A rule file at a host path, copied into the container at the same path the config names.
    const rules = { path: '/opt/hastecrm-test/rules.yml', content: 'groups: [{name: container-test, rules: [{record: probe:up, expr: up}]}]\n' };
    const config = renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [{ job: 'host-probe', targets: [target] }], ruleFiles: [rules.path] });
    const prometheus = await startPrometheusContainer({ runId, ledger: ledger(), config, files: [rules] });
    const loadedRules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as { data: { groups: { name: string }[] } };
    expect(loadedRules.data.groups.map((g) => g.name)).toEqual(['container-test']);
    const upValue = async (): Promise<string | undefined> => {
      const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=up{job="host-probe"}`)).json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result[0]?.value[1];
    };
    const { waitUntil } = await import('../../../../scripts/util/wait.ts');
    await waitUntil(async () => (await upValue()) === '1', { what: 'the host target to be up', timeoutMs: 20_000, intervalMs: 250 });
    await expect(prometheus.reloadConfig('global: {scrape_interval: not-a-duration}\n')).rejects.toThrow(/rejected the new config/);
    await prometheus.reloadConfig(renderPrometheusConfig({ scrapeIntervalSeconds: 1, jobs: [{ job: 'renamed', targets: [target] }], ruleFiles: [] }));
    const flags = (await (await fetch(`${prometheus.url}/api/v1/status/config`)).json()) as { data: { yaml: string } };
    expect(flags.data.yaml).toContain('job_name: renamed');
    await prometheus.stop();
  });

  it('fails with the container log when the service cannot start, and leaves no container and no ledger entry', async () => {
    const book = ledger();
    // An invalid setting makes postgres exit at once; the log line names it.
    const error = await startPostgresContainer({ runId, ledger: book, maxConnections: -5, readyTimeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceStartError);
    expect((error as ServiceStartError).logTail).toMatch(/max_connections/);
    expect(book.entries()).toEqual([]);
    expect(await listContainersByLabel({ 'resilience.run-id': runId })).toEqual([]);
  });

  it('refuses a configured image that is not present locally, naming how to get it', async () => {
    await expect(startRedisContainer({ runId, ledger: ledger(), image: 'hastecrm-resilience/absent:nope' })).rejects.toThrow(/not present in the local Docker engine; load it/);
  });
});
