import { chownSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { sleep, waitUntil, WaitTimeoutError } from '../../../scripts/util/wait.ts';
import { requireBinary, ServiceStartError, type BinaryLookupOptions } from './binaries.ts';
import { ManagedProcess, type ProcessExit } from './managed-process.ts';
import { freePort } from './ports.ts';

/**
 * A throwaway PostgreSQL for the local target: a fresh cluster in a temp dir, tuned for speed
 * over durability (fsync off), reachable only on 127.0.0.1 with trust auth.
 */

export interface StartPostgresOptions {
  /**
   * A temp dir the caller owns and later removes. Data goes to `<dir>/data`, the socket and logs
   * to `<dir>`. As root, `dir` is chowned to the postgres user, so its parents must be
   * traversable by that user (anything under /tmp is).
   */
  dir: string;
  /** Default: a free port chosen by the kernel (retried on a bind race). */
  port?: number;
  /** Created after startup. Default 'hastecrm'. */
  database?: string;
  /** PostgreSQL's max_connections. Default: PostgreSQL's own (100). */
  maxConnections?: number;
  /** Aborting stops the half-started server and rejects with the abort reason. */
  signal?: AbortSignal;
  /** Deadline for the server to accept a query, per start attempt. Default 30 s. */
  readyTimeoutMs?: number;
  /** Where to find initdb and postgres; defaults to PATH and /usr/lib/postgresql. */
  binaries?: BinaryLookupOptions;
}

export interface RunningPostgres {
  process: ManagedProcess;
  port: number;
  /** `postgres://postgres@127.0.0.1:PORT/<database>`; trust auth, no password. */
  url: string;
  /** Fast shutdown (SIGINT), SIGKILL to the group after a grace period. Idempotent. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const INITDB_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
/** Attempts when we chose the port ourselves and another process took it before postgres bound it. */
const PORT_RACE_ATTEMPTS = 3;

/**
 * Initialises and starts PostgreSQL, resolves once it answers queries and the database exists.
 * Throws MissingBinaryError when initdb/postgres are not installed and ServiceStartError (with
 * the log tail) when it exits during startup or is not ready in time; nothing is left running
 * when it throws. As root it runs as the `postgres` system user and chowns `dir` to it.
 */
export async function startPostgres(options: StartPostgresOptions): Promise<RunningPostgres> {
  const initdb = requireBinary('initdb', options.binaries);
  const postgres = requireBinary('postgres', options.binaries);
  const database = options.database ?? 'hastecrm';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(database)) throw new Error(`invalid database name "${database}": use letters, digits and _`);
  options.signal?.throwIfAborted();

  const owner = runAsUser();
  if (owner) chownSync(options.dir, owner.uid, owner.gid);
  const dataDir = join(options.dir, 'data');
  await runInitdb(initdb, dataDir, options, owner);

  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const args = [
      '-D', dataDir,
      '-p', String(port),
      '-k', options.dir,
      '-c', 'listen_addresses=127.0.0.1',
      // A disposable test database: durability costs I/O the load test should not pay.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'logging_collector=off',
      ...(options.maxConnections !== undefined ? ['-c', `max_connections=${options.maxConnections}`] : []),
    ];
    const proc = await ManagedProcess.start({
      name: 'postgres',
      command: postgres,
      args,
      cwd: options.dir,
      logFile: join(options.dir, 'postgres.log'),
      ...(owner ?? {}),
    });
    try {
      await awaitPostgresReady(proc, port, dataDir, options);
      await ensureDatabase(port, database);
    } catch (error) {
      await proc.stop({ graceMs: 2_000 });
      const portRace = options.port === undefined && error instanceof ServiceStartError && /Address already in use/.test(error.logTail);
      if (portRace && attempt < PORT_RACE_ATTEMPTS) continue;
      throw error;
    }
    return {
      process: proc,
      port,
      url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`,
      // SIGINT is PostgreSQL's "fast" shutdown: abort transactions, checkpoint, exit.
      stop: () => proc.stop({ signal: 'SIGINT', graceMs: STOP_GRACE_MS }),
    };
  }
}

interface SystemUser {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root: as root, use the `postgres` system user; otherwise ourselves. */
function runAsUser(): SystemUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const user = lookupSystemUser(SUPERUSER);
  if (!user) {
    throw new Error(
      `PostgreSQL cannot run as root and there is no "${SUPERUSER}" system user in /etc/passwd to run it as; ` +
        `install the postgresql package (it creates the user) or run the harness as an unprivileged user`,
    );
  }
  return user;
}

function lookupSystemUser(name: string): SystemUser | undefined {
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

async function runInitdb(initdb: string, dataDir: string, options: StartPostgresOptions, owner: SystemUser | undefined): Promise<void> {
  const proc = await ManagedProcess.start({
    name: 'initdb',
    command: initdb,
    // --no-sync: the cluster is thrown away after the run, so skip the fsync of every file.
    args: ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--no-sync', '--encoding=UTF8', '--locale=C', '--no-instructions'],
    cwd: options.dir,
    logFile: join(options.dir, 'initdb.log'),
    ...(owner ?? {}),
  });
  const abort = new AbortController();
  const onAbort = (): void => abort.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const outcome = await Promise.race([proc.exited, sleep(INITDB_TIMEOUT_MS, abort.signal).then(() => 'timeout' as const)]);
    options.signal?.throwIfAborted();
    if (outcome === 'timeout') throw new ServiceStartError('PostgreSQL initdb', `did not finish within ${INITDB_TIMEOUT_MS} ms`, await proc.logTail());
    if (outcome.code !== 0) throw new ServiceStartError('PostgreSQL initdb', `failed (${describeExit(outcome)})`, await proc.logTail());
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    abort.abort();
    await proc.stop({ graceMs: 1_000 });
  }
}

/**
 * Polls a real connection until `SHOW data_directory` names our cluster, racing the process's
 * exit so a failed start (port in use, bad setting) is reported at once with its log.
 */
async function awaitPostgresReady(proc: ManagedProcess, port: number, dataDir: string, options: StartPostgresOptions): Promise<void> {
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  // PostgreSQL reports the data directory as given (made absolute): compare resolved paths.
  const expectedDataDir = realpathSync(dataDir);
  const stopPolling = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stopPolling.signal]) : stopPolling.signal;
  const probe = async (): Promise<boolean> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres', connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined); // a refused/reset probe connection is an expected "not yet"
    try {
      await client.connect();
      const result = await client.query<{ data_directory: string }>('SHOW data_directory');
      const actual = result.rows[0]?.data_directory;
      // Another PostgreSQL already on this port would otherwise pass for ours.
      if (actual === undefined || resolvedPath(actual) !== expectedDataDir) throw new Error(`port ${port} is answered by another PostgreSQL (data directory ${actual})`);
      return true;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  try {
    const outcome = await Promise.race([
      waitUntil(probe, { what: `PostgreSQL on 127.0.0.1:${port}`, timeoutMs, signal, intervalMs: 100 }).then(() => 'ready' as const),
      proc.exited,
    ]);
    if (outcome !== 'ready') throw new ServiceStartError('PostgreSQL', `it exited during startup (${describeExit(outcome)})`, await proc.logTail());
  } catch (error) {
    if (error instanceof WaitTimeoutError) throw new ServiceStartError('PostgreSQL', error.message, await proc.logTail(), { cause: error });
    throw error;
  } finally {
    stopPolling.abort();
  }
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres', connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    // The name was validated as a plain identifier above; CREATE DATABASE takes no parameters.
    if (existing.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}

function resolvedPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function describeExit(exit: ProcessExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}
