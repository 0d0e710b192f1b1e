import { matchesLabelSelector } from '../../../chaos/litmus/experiments.ts';
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ledger } from '../../../chaos/ledger.ts';
import type { ResolvedLocalTarget } from '../../../scripts/config/resolve.ts';
import { waitUntil } from '../../../scripts/util/wait.ts';
import { ManagedProcess } from './managed-process.ts';
import { freePort } from './ports.ts';
import { startPostgres } from './postgres.ts';
import { startRedis } from './redis.ts';
import { ReplicaSet } from './replica-set.ts';
import { startFaultProxy, type FaultProxy } from '../../../chaos/local/fault-proxy.ts';
import { inspectContainer } from './containers/docker.ts';
import { selectRuntime } from './containers/runtime.ts';
import { startPostgresContainer, startRedisContainer, type ServiceContainer } from './containers/services.ts';
import { createLossyHop, NetnsEnvironmentError, requireNetnsTools, type LossyHop } from '../../../chaos/local/netns.ts';

const API_ENTRY = fileURLToPath(new URL('../../apps/api/server.ts', import.meta.url));
const INGRESS_ENTRY = fileURLToPath(new URL('./ingress-main.ts', import.meta.url));
/** tsx's loader, resolved once, so child processes run TypeScript whatever their cwd. */
const TSX_LOADER = import.meta.resolve('tsx');

export const API_APP = 'hastecrm-api';
export const API_SCRAPE_JOB = 'hastecrm-api';
export const INGRESS_SCRAPE_JOB = 'ingress';

export interface ScrapeJob {
  job: string;
  targets: string[];
  metricsPath?: string;
}

export interface LocalTargetOptions {
  spec: ResolvedLocalTarget;
  runId: string;
  /** A directory owned by the run (removed by the caller); services keep data and logs below it. */
  workDir: string;
  ledger: Ledger;
  log: (message: string) => void;
  /**
   * Put a fault proxy in front of each replica (the ingress talks to the proxies), so network
   * experiments can delay, drop or cut a replica's traffic. Off unless the suite schedules one:
   * every byte then takes one more hop.
   */
  faultProxies?: boolean;
  /**
   * Also route each replica's traffic through a network namespace of its own (root only), so
   * pod-network-loss drops real packets with iptables. Without root or the tools, loss falls back
   * to the fault proxy's connection-level loss, and the log says so.
   */
  lossyHops?: boolean;
}

/**
 * PostgreSQL or Redis as the target holds it, whichever runtime runs it. `pid` is the host PID of
 * the server process (for a container: its main process, read once it was ready), which the
 * cgroup-based chaos (pause, CPU and memory hogs) nests a cgroup around.
 */
interface DataTierService {
  url: string;
  pid: number | undefined;
  /** Present when the service runs in a container. */
  container?: ServiceContainer;
  stop(): Promise<void>;
}

/** A process of the data tier as chaos sees it: a pod that no ReplicaSet replaces. */
export interface DataTierPod {
  name: string;
  labels: Record<string, string>;
  /** Present when it runs in a container: chaos then kills and pauses it the Docker way. */
  container?: ServiceContainer;
  pid: number;
}

/**
 * hasteCRM on this machine: PostgreSQL, Redis, N API replicas kept running like a Deployment,
 * and the local ingress (the seed's VirtualService policy) in front of them.
 *
 * Create it, put it where teardown can find it, then `start()`: if start fails or is aborted part
 * way, `stop()` still stops whatever did start. `stop()` is idempotent.
 */
export class LocalTarget {
  private postgres: DataTierService | undefined;
  private redis: DataTierService | undefined;
  private replicas: ReplicaSet | undefined;
  private ingress: ManagedProcess | undefined;
  private ingressLedgerId: string | undefined;
  private ingressPort = 0;
  private proxies: FaultProxy[] = [];
  private hops: LossyHop[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: LocalTargetOptions) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.ingressPort}`;
  }

  async start(signal: AbortSignal): Promise<void> {
    const { spec, workDir, ledger, runId, log } = this.options;
    // The data tier runs as the postgres user when we are root: it must be able to enter workDir.
    chmodSync(workDir, 0o755);
    const logDir = path.join(workDir, 'logs');
    mkdirSync(logDir, { recursive: true });

    for (const dir of ['postgres', 'redis']) mkdirSync(path.join(workDir, dir), { recursive: true });
    const [pgRuntime, redisRuntime] = await Promise.all([selectRuntime('postgres', spec.runtime.postgres), selectRuntime('redis', spec.runtime.redis)]);
    log(`starting PostgreSQL (${pgRuntime.runtime}: ${pgRuntime.reason}) and Redis (${redisRuntime.runtime}: ${redisRuntime.reason})`);
    // Container services record (and on stop forget) their own ledger entry; processes go through own().
    const containerOptions = { runId, ledger, signal, readyTimeoutMs: spec.readyTimeoutMs };
    const startPg = async (): Promise<DataTierService> => {
      if (pgRuntime.runtime === 'container') return withHostPid(await startPostgresContainer({ ...containerOptions, ...(spec.images.postgres ? { image: spec.images.postgres } : {}) }));
      const pg = this.own(await startPostgres({ dir: path.join(workDir, 'postgres'), signal, readyTimeoutMs: spec.readyTimeoutMs }), 'postgres');
      return { url: pg.url, pid: pg.process.pid, stop: () => pg.stop() };
    };
    const startRedisService = async (): Promise<DataTierService> => {
      if (redisRuntime.runtime === 'container') return withHostPid(await startRedisContainer({ ...containerOptions, ...(spec.images.redis ? { image: spec.images.redis } : {}) }));
      const redis = this.own(await startRedis({ dir: path.join(workDir, 'redis'), signal, readyTimeoutMs: spec.readyTimeoutMs }), 'redis');
      return { url: redis.url, pid: redis.process.pid, stop: () => redis.stop() };
    };
    // Both start in parallel; wait for both to settle before failing, so a service that was
    // still starting when the other failed is known to stop() and never left running.
    const [pgStart, redisStart] = await Promise.allSettled([startPg().then((pg) => (this.postgres = pg)), startRedisService().then((r) => (this.redis = r))]);
    if (pgStart.status === 'rejected') throw pgStart.reason;
    if (redisStart.status === 'rejected') throw redisStart.reason;
    const postgres = pgStart.value;
    const redis = redisStart.value;

    const ports = await Promise.all(Array.from({ length: spec.replicas }, () => freePort()));
    log(`starting ${spec.replicas} replicas of ${API_APP}`);
    this.replicas = new ReplicaSet({
      app: API_APP,
      replicas: spec.replicas,
      ports,
      command: process.execPath,
      args: ['--import', TSX_LOADER, API_ENTRY],
      env: (_slot, port) => ({
        ...minimalEnv(),
        ...spec.api.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: postgres.url,
        REDIS_URL: redis.url,
        PG_POOL_SIZE: String(spec.api.pgPoolSize),
        ARTIFICIAL_LATENCY_MS: String(spec.api.latencyMs),
        ARTIFICIAL_LATENCY_JITTER_MS: String(spec.api.latencyJitterMs),
      }),
      readyPath: '/ready',
      readyTimeoutMs: spec.readyTimeoutMs,
      logDir,
      runId,
      ledger,
      log,
    });
    await this.replicas.start(signal);

    let upstreams = this.replicas.endpoints();
    let replicaPorts = ports;
    if (this.options.lossyHops) {
      try {
        requireNetnsTools();
        for (const [index, port] of ports.entries()) this.hops.push(await createLossyHop({ runId, index, targetPort: port, ledger }));
        replicaPorts = this.hops.map((hop) => hop.port);
        upstreams = replicaPorts.map((port) => `127.0.0.1:${port}`);
        log(`network namespaces in front of the replicas (for packet loss): ${this.hops.map((h) => h.netns).join(', ')}`);
      } catch (error) {
        if (!(error instanceof NetnsEnvironmentError)) throw error;
        log(`packet loss falls back to the fault proxy's connection loss: ${error.message}`);
      }
    }
    if (this.options.faultProxies) {
      // In-process proxies: they die with the harness, so no fault can outlive a SIGKILL.
      for (const port of replicaPorts) this.proxies.push(await startFaultProxy({ target: { host: '127.0.0.1', port } }));
      upstreams = this.proxies.map((proxy) => `127.0.0.1:${proxy.port}`);
      log(`fault proxies in front of the replicas: ${upstreams.join(', ')}`);
    }

    log('starting the ingress');
    this.ingressPort = await freePort();
    this.ingress = await ManagedProcess.start({
      name: 'ingress',
      command: process.execPath,
      args: ['--import', TSX_LOADER, INGRESS_ENTRY],
      env: {
        ...minimalEnv(),
        INGRESS_PORT: String(this.ingressPort),
        INGRESS_UPSTREAMS: upstreams.join(','),
        INGRESS_TIMEOUT_MS: String(spec.ingress.timeoutMs),
        INGRESS_ATTEMPTS: String(spec.ingress.attempts),
        INGRESS_PER_TRY_TIMEOUT_MS: String(spec.ingress.perTryTimeoutMs),
      },
      logFile: path.join(logDir, 'ingress.log'),
    });
    this.ingressLedgerId = ledger.record({
      runId,
      kind: 'process',
      description: `ingress (pid ${this.ingress.pid})`,
      revert: { type: 'kill-process', pid: this.ingress.pid, startTime: this.ingress.startTime, name: 'ingress' },
    });
    const ingress = this.ingress;
    await waitUntil(
      async () => {
        if (!ingress.running) throw new Error(`the ingress exited: ${await ingress.logTail()}`);
        const response = await fetch(`${this.baseUrl}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        await response.body?.cancel();
        return response.status === 200;
      },
      { what: `the ingress on 127.0.0.1:${this.ingressPort}`, timeoutMs: spec.readyTimeoutMs, signal },
    );
  }

  /** What Prometheus scrapes on this target. */
  scrapeJobs(): ScrapeJob[] {
    return [
      { job: API_SCRAPE_JOB, targets: this.replicas?.endpoints() ?? [] },
      { job: INGRESS_SCRAPE_JOB, targets: [`127.0.0.1:${this.ingressPort}`], metricsPath: '/-/metrics' },
    ];
  }

  /** Replicas replaced so far (deleted by chaos or crashed). */
  restarts(): number {
    return this.replicas?.restartCount() ?? 0;
  }

  /** The fault proxy the ingress uses to reach the replica in `slot`, when proxies are on. */
  faultProxy(slot: number): FaultProxy | undefined {
    return this.proxies[slot];
  }

  /** The network namespace hop in front of the replica in `slot`, when hops are on. */
  lossyHop(slot: number): LossyHop | undefined {
    return this.hops[slot];
  }

  /** PostgreSQL and Redis as pods (labels app=hastecrm-postgresql / app=hastecrm-redis), for pause and stress experiments. */
  dataTierPods(selector: Record<string, string> = {}): DataTierPod[] {
    const pods: DataTierPod[] = [];
    const add = (name: string, app: string, service: DataTierService | undefined): void => {
      if (service?.pid === undefined) return;
      pods.push({ name, labels: { app, tier: 'data' }, pid: service.pid, ...(service.container ? { container: service.container } : {}) });
    };
    add('hastecrm-postgresql-0', 'hastecrm-postgresql', this.postgres);
    add('hastecrm-redis-0', 'hastecrm-redis', this.redis);
    return pods.filter((pod) => matchesLabelSelector(pod.labels, selector));
  }

  /** Reads a data-tier container's host PID again, after chaos restarted it (container-kill). */
  async refreshDataTierPid(name: string): Promise<void> {
    const service = name === 'hastecrm-postgresql-0' ? this.postgres : name === 'hastecrm-redis-0' ? this.redis : undefined;
    if (!service?.container) return;
    const state = await inspectContainer(service.container.id);
    service.pid = state.pid > 0 ? state.pid : undefined;
  }

  /** The URL the replicas use for PostgreSQL or Redis, whichever runtime runs it. */
  dataTierUrl(service: 'postgres' | 'redis'): string {
    const running = service === 'postgres' ? this.postgres : this.redis;
    if (!running) throw new Error(`${service} of the local target has not started`);
    return running.url;
  }

  replicaSet(): ReplicaSet {
    if (!this.replicas) throw new Error('the local target has not started');
    return this.replicas;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const errors: unknown[] = [];
      const attempt = async (work: (() => Promise<void>) | undefined): Promise<void> => {
        try {
          await work?.();
        } catch (error) {
          errors.push(error);
        }
      };
      // Front to back: nothing sends traffic to a replica whose database is already gone.
      await attempt(this.ingress ? () => this.ingress!.stop({ graceMs: 3_000 }) : undefined);
      if (this.ingressLedgerId) this.options.ledger.remove(this.ingressLedgerId);
      await Promise.all(this.proxies.map((proxy) => attempt(() => proxy.close())));
      await Promise.all(this.hops.map((hop) => attempt(() => hop.close())));
      await attempt(this.replicas ? () => this.replicas!.stop() : undefined);
      const redis = this.redis;
      const postgres = this.postgres;
      await Promise.all([attempt(redis ? () => redis.stop() : undefined), attempt(postgres ? () => postgres.stop() : undefined)]);
      if (errors.length > 0) throw new AggregateError(errors, `stopping the local target failed: ${errors.map((e) => (e as Error).message).join('; ')}`);
    })();
    return this.stopping;
  }

  /** Records a started data-tier service in the ledger and returns it with a stop that forgets it. */
  private own<T extends { process: ManagedProcess; stop(): Promise<void> }>(service: T, name: string): T {
    const id = this.options.ledger.record({
      runId: this.options.runId,
      kind: 'process',
      description: `${name} (pid ${service.process.pid})`,
      revert: { type: 'kill-process', pid: service.process.pid, startTime: service.process.startTime, name },
    });
    const stop = service.stop.bind(service);
    return {
      ...service,
      stop: async () => {
        await stop();
        this.options.ledger.remove(id);
      },
    };
  }
}

/**
 * A container service with the host PID of its main process. The harness's cgroup chaos nests its
 * cgroup under the container's own (`/sys/fs/cgroup/<controller>/docker/<id>/resilience-…`), so the
 * container's limits still apply and moving the tasks back restores it. The PID is read once and
 * again after container-kill restarts the container (`refreshDataTierPid`).
 */
async function withHostPid(service: { container: ServiceContainer; url: string; stop(): Promise<void> }): Promise<DataTierService> {
  try {
    const state = await inspectContainer(service.container.id);
    return { url: service.url, container: service.container, pid: state.pid > 0 ? state.pid : undefined, stop: () => service.stop() };
  } catch (error) {
    await service.stop().catch(() => undefined);
    throw error;
  }
}

/** Children get PATH, HOME and locale only: no tokens from the harness's environment leak into them. */
function minimalEnv(): Record<string, string | undefined> {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG, NODE_ENV: 'production' };
}
