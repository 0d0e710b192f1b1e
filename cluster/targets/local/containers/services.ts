import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { StartedTestContainer } from 'testcontainers';
import type { Ledger } from '../../../../chaos/ledger.ts';
import { waitUntil, WaitTimeoutError } from '../../../../scripts/util/wait.ts';
import { ServiceStartError } from '../binaries.ts';
import { freePort } from '../ports.ts';
import { containerLogTail, inspectContainer, MANAGED_BY_LABEL, MANAGED_BY_VALUE, removeContainer, RUN_ID_LABEL } from './docker.ts';
import { resolveImage, type ContainerService, type EnsureImageOptions } from './images.ts';

/**
 * PostgreSQL, Redis and Prometheus as containers, with the contract of the process services
 * (`startPostgres`, `startRedis`, `startPrometheus`): a 127.0.0.1 port, a url, readiness proven by
 * a real query, an idempotent stop, nothing left running when start fails.
 *
 * Every container uses the host's network namespace and its service binds 127.0.0.1 itself: the
 * same host-only exposure as the processes, no published ports, stable ports across a restart
 * (a kill fault), and Prometheus reaches the replicas on the host's 127.0.0.1.
 */

/** A container the harness started, as the faults and the cleanup address it. */
export interface ServiceContainer {
  id: string;
  name: string;
  image: string;
  /** Resolves once the service answers again (after a restart), rejects at the deadline. */
  waitReady(timeoutMs?: number, signal?: AbortSignal): Promise<void>;
}

export interface StartContainerOptions {
  runId: string;
  /** The container-remove entry is recorded here before the container is created. */
  ledger: Ledger;
  /** Default: a free port chosen by the kernel. */
  port?: number;
  /** An image name to use instead of the default (official when present locally, else built here). */
  image?: string;
  /** Deadline for the service to answer, including the image build on first use. Default 60 s. */
  readyTimeoutMs?: number;
  signal?: AbortSignal;
  /** Where to find the binaries a local image is built from. */
  build?: EnsureImageOptions;
}

interface RunningContainerService {
  container: ServiceContainer;
  port: number;
  url: string;
  /** Stops and removes the container (and its anonymous volumes), then forgets its ledger entry. Idempotent. */
  stop: () => Promise<void>;
}

export type RunningPostgresContainer = RunningContainerService;
export type RunningRedisContainer = RunningContainerService;

export interface RunningPrometheusContainer extends RunningContainerService {
  /** Path of the config inside the container. */
  configFile: string;
  /** Writes a new config into the container and applies it with POST /-/reload; rejects with Prometheus's message when invalid. */
  reloadConfig(newYaml: string): Promise<void>;
}

export interface StartPostgresContainerOptions extends StartContainerOptions {
  /** Created after startup. Default 'hastecrm'. */
  database?: string;
  maxConnections?: number;
}

const SUPERUSER = 'postgres';

/** Starts PostgreSQL in a container; resolves once it answers queries and the database exists. */
export async function startPostgresContainer(options: StartPostgresContainerOptions): Promise<RunningPostgresContainer> {
  const database = options.database ?? 'hastecrm';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(database)) throw new Error(`invalid database name "${database}": use letters, digits and _`);
  const port = options.port ?? (await freePort());
  const probe = async (): Promise<boolean> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres', connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined); // refused while starting: an expected "not yet"
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const started = await startServiceContainer({
    service: 'postgres',
    options,
    port,
    // The official image's entrypoint honours POSTGRES_HOST_AUTH_METHOD; ours initialises with trust.
    env: { POSTGRES_HOST_AUTH_METHOD: 'trust', PGDATA: '/var/lib/postgresql/data/pgdata' },
    command: [
      'postgres',
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      // A disposable test database: durability costs I/O the load test should not pay.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      ...(options.maxConnections !== undefined ? ['-c', `max_connections=${options.maxConnections}`] : []),
    ],
    readyLog: /database system is ready to accept connections/,
    probe,
  });
  try {
    await ensureDatabase(port, database);
  } catch (error) {
    await started.stop();
    throw error;
  }
  return { container: started.container, port, stop: started.stop, url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}` };
}

/** Starts Redis in a container; resolves once it answers PING. */
export async function startRedisContainer(options: StartContainerOptions): Promise<RunningRedisContainer> {
  const port = options.port ?? (await freePort());
  const probe = async (): Promise<boolean> => {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, connectTimeout: 1_000, commandTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } finally {
      client.disconnect();
    }
  };
  const started = await startServiceContainer({
    service: 'redis',
    options,
    port,
    env: {},
    command: ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    readyLog: /Ready to accept connections/,
    probe,
  });
  return { container: started.container, port, stop: started.stop, url: `redis://127.0.0.1:${port}` };
}

export interface StartPrometheusContainerOptions extends StartContainerOptions {
  /** The config YAML, e.g. from `renderPrometheusConfig`; targets on the host's 127.0.0.1 work as is. */
  config: string;
  /**
   * Files the config names (rule files), copied into the container at the same absolute paths,
   * so a config rendered for the process runtime works unchanged.
   */
  files?: readonly { path: string; content: string }[];
}

const PROMETHEUS_CONFIG = '/etc/prometheus/prometheus.yml';

/** Starts Prometheus in a container (host network: it scrapes the host's 127.0.0.1); resolves once /-/ready answers. */
export async function startPrometheusContainer(options: StartPrometheusContainerOptions): Promise<RunningPrometheusContainer> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  // A TSDB path unique to this start: the flags endpoint then proves the answer is ours, not
  // another Prometheus on the port.
  const tsdbPath = `/prometheus/${randomBytes(6).toString('hex')}`;
  const probe = async (): Promise<boolean> => {
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
    await ready.body?.cancel();
    if (!ready.ok) return false;
    const flags = (await (await fetch(`${url}/api/v1/status/flags`, { signal: AbortSignal.timeout(1_000) })).json()) as { data?: Record<string, string> };
    if (flags.data?.['storage.tsdb.path'] !== tsdbPath) throw new Error(`another process answers on ${url}`);
    return true;
  };
  const started = await startServiceContainer({
    service: 'prometheus',
    options,
    port,
    env: {},
    command: [
      `--config.file=${PROMETHEUS_CONFIG}`,
      `--storage.tsdb.path=${tsdbPath}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--web.enable-remote-write-receiver',
      '--storage.tsdb.retention.time=1d',
    ],
    files: [{ path: PROMETHEUS_CONFIG, content: options.config }, ...(options.files ?? [])],
    readyLog: /Server is ready to receive web requests/,
    probe,
  });
  return {
    container: started.container,
    port,
    stop: started.stop,
    url,
    configFile: PROMETHEUS_CONFIG,
    async reloadConfig(newYaml: string): Promise<void> {
      await started.testContainer.copyContentToContainer([{ content: newYaml, target: PROMETHEUS_CONFIG, mode: 0o644 }]);
      const response = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      const body = await response.text();
      if (!response.ok) throw new Error(`Prometheus rejected the new config (HTTP ${response.status}): ${body.trim()}`);
    },
  };
}

interface ServiceContainerSpec {
  service: ContainerService;
  options: StartContainerOptions;
  port: number;
  env: Record<string, string>;
  command: string[];
  files?: readonly { path: string; content: string }[];
  /** A line the service prints once it listens: testcontainers' wait strategy. */
  readyLog: RegExp;
  /** The real readiness check (a query, PING, /-/ready), polled after the log line and after restarts. */
  probe: () => Promise<boolean>;
}

/**
 * Resolves the image, records the container in the ledger (by name: the id exists only after
 * creation), starts it through testcontainers with a log wait strategy, then polls the service's
 * own probe. On any failure the container is removed and the ledger entry dropped before the
 * error (ServiceStartError with the container's log tail) is thrown.
 */
async function startServiceContainer(spec: ServiceContainerSpec): Promise<RunningContainerService & { testContainer: StartedTestContainer }> {
  const { options, service } = spec;
  options.signal?.throwIfAborted();
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const { image } = await resolveImage(service, { ...(options.build ?? {}), ...(options.image !== undefined ? { image: options.image } : {}) });
  // Ryuk (testcontainers' reaper) is an image pulled from Docker Hub: unavailable here, and our
  // own ledger + labels already remove what a killed harness leaves behind.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const { GenericContainer, Wait } = await import('testcontainers');

  const name = `resilience-${sanitise(options.runId)}-${service}-${randomBytes(4).toString('hex')}`;
  const ledgerId = options.ledger.record({ runId: options.runId, kind: 'process', description: `${service} container ${name}`, revert: { type: 'container-remove', id: '', name } });
  const logLines: string[] = [];
  let container = new GenericContainer(image)
    .withName(name)
    .withLabels({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: options.runId, 'resilience.service': service })
    .withNetworkMode('host')
    .withEnvironment(spec.env)
    .withCommand(spec.command)
    .withWaitStrategy(Wait.forLogMessage(spec.readyLog))
    .withStartupTimeout(Math.max(1_000, deadline - Date.now()))
    // Kept in memory as well: testcontainers removes a container whose wait strategy failed, and
    // its log is what says why.
    .withLogConsumer((stream) => {
      stream.on('data', (chunk: Buffer | string) => {
        logLines.push(...String(chunk).split('\n').filter((line) => line.trim() !== ''));
        if (logLines.length > 200) logLines.splice(0, logLines.length - 200);
      });
    });
  if (spec.files && spec.files.length > 0) container = container.withCopyContentToContainer(spec.files.map((f) => ({ content: f.content, target: f.path, mode: 0o644 })));

  let started: StartedTestContainer | undefined;
  const fail = async (reason: string, cause: unknown): Promise<never> => {
    const fromDocker = await containerLogTail(name);
    const tail = /no such container/i.test(fromDocker) || fromDocker === '' ? logLines.slice(-20).join('\n') : fromDocker;
    await removeContainer(name).catch(() => undefined);
    options.ledger.remove(ledgerId);
    if (options.signal?.aborted) throw options.signal.reason;
    throw new ServiceStartError(`${service} container`, reason, tail, { cause });
  };
  try {
    started = await container.start();
  } catch (error) {
    return fail(`${(error as Error).message} (image ${image})`, error);
  }
  const id = started.getId();
  options.ledger.update(ledgerId, { type: 'container-remove', id, name });

  const waitReady = async (readyTimeoutMs = timeoutMs, signal = options.signal): Promise<void> => {
    await waitUntil(
      async () => {
        const state = await inspectContainer(id);
        if (!state.running) throw new Error(`the container is ${state.status}`);
        return spec.probe();
      },
      { what: `${service} in container ${name} on 127.0.0.1:${spec.port}`, timeoutMs: readyTimeoutMs, intervalMs: 100, ...(signal ? { signal } : {}) },
    );
  };
  try {
    await waitReady(Math.max(1_000, deadline - Date.now()));
  } catch (error) {
    return fail(error instanceof WaitTimeoutError ? error.message : (error as Error).message, error);
  }

  let stopping: Promise<void> | undefined;
  const testContainer = started;
  return {
    testContainer,
    container: { id, name, image, waitReady },
    port: spec.port,
    url: '',
    stop: () =>
      (stopping ??= (async () => {
        // docker rm --force: also works when a fault left the container paused or dead.
        await removeContainer(id);
        options.ledger.remove(ledgerId);
      })()),
  };
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres', connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    // The name was validated as a plain identifier; CREATE DATABASE takes no parameters.
    if (existing.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}

/** Docker names allow [a-zA-Z0-9_.-]; run ids are close to that already. */
function sanitise(runId: string): string {
  return runId.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 40) || 'run';
}
