import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitUntil, WaitTimeoutError } from '../../../scripts/util/wait.ts';
import { requireBinary, ServiceStartError, type BinaryLookupOptions } from './binaries.ts';
import { ManagedProcess, type ProcessExit } from './managed-process.ts';
import { freePort } from './ports.ts';

/** A throwaway Redis for the local target: no persistence, bound to 127.0.0.1, files in a temp dir. */

export interface StartRedisOptions {
  /** A temp dir the caller owns and later removes; Redis's working dir and log go here. */
  dir: string;
  /** Default: a free port chosen by the kernel (retried on a bind race). */
  port?: number;
  /** Aborting stops the half-started server and rejects with the abort reason. */
  signal?: AbortSignal;
  /** Deadline for PING to be answered, per start attempt. Default 15 s. */
  readyTimeoutMs?: number;
  /** Where to find redis-server; defaults to PATH. */
  binaries?: BinaryLookupOptions;
}

export interface RunningRedis {
  process: ManagedProcess;
  port: number;
  /** `redis://127.0.0.1:PORT`, no auth. */
  url: string;
  /** SIGTERM, SIGKILL after a grace period. Idempotent. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;
const PORT_RACE_ATTEMPTS = 3;

/**
 * Starts redis-server and resolves once it answers PING with PONG. Throws MissingBinaryError when
 * redis-server is not installed and ServiceStartError (with the log tail) when it exits during
 * startup or is not ready in time; nothing is left running when it throws.
 */
export async function startRedis(options: StartRedisOptions): Promise<RunningRedis> {
  const redisServer = requireBinary('redis-server', options.binaries);
  options.signal?.throwIfAborted();
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const proc = await ManagedProcess.start({
      name: 'redis',
      command: redisServer,
      args: [
        '--port', String(port),
        '--bind', '127.0.0.1',
        // A cache in a test run: nothing is worth writing to disk.
        '--save', '',
        '--appendonly', 'no',
        '--dir', options.dir,
        '--daemonize', 'no',
        '--logfile', '', // '' = stdout, which ManagedProcess appends to redis.log
      ],
      cwd: options.dir,
      logFile: join(options.dir, 'redis.log'),
    });
    try {
      await awaitRedisReady(proc, port, options);
    } catch (error) {
      await proc.stop({ graceMs: 2_000 });
      const portRace = options.port === undefined && error instanceof ServiceStartError && /Address already in use/.test(error.logTail);
      if (portRace && attempt < PORT_RACE_ATTEMPTS) continue;
      throw error;
    }
    return {
      process: proc,
      port,
      url: `redis://127.0.0.1:${port}`,
      stop: () => proc.stop({ signal: 'SIGTERM', graceMs: STOP_GRACE_MS }),
    };
  }
}

/**
 * Polls PING until PONG, and checks with INFO that the answering server is our process (another
 * Redis already on the port would otherwise pass for ours). Races the process's exit.
 */
async function awaitRedisReady(proc: ManagedProcess, port: number, options: StartRedisOptions): Promise<void> {
  const stopPolling = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stopPolling.signal]) : stopPolling.signal;
  const probe = async (): Promise<boolean> => {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, connectTimeout: 1_000, commandTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    client.on('error', () => undefined); // refused while starting: an expected "not yet"
    try {
      await client.connect();
      await client.ping(); // resolves only with PONG
      const info = await client.info('server');
      const pid = /^process_id:(\d+)/m.exec(info)?.[1];
      if (Number(pid) !== proc.pid) throw new Error(`port ${port} is answered by another Redis (pid ${pid})`);
      return true;
    } finally {
      client.disconnect();
    }
  };
  try {
    const outcome = await Promise.race([
      waitUntil(probe, { what: `Redis on 127.0.0.1:${port}`, timeoutMs: options.readyTimeoutMs ?? 15_000, signal, intervalMs: 50 }).then(() => 'ready' as const),
      proc.exited,
    ]);
    if (outcome !== 'ready') throw new ServiceStartError('Redis', `it exited during startup (${describeExit(outcome)})`, await proc.logTail());
  } catch (error) {
    if (error instanceof WaitTimeoutError) throw new ServiceStartError('Redis', error.message, await proc.logTail(), { cause: error });
    throw error;
  } finally {
    stopPolling.abort();
  }
}

function describeExit(exit: ProcessExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}
