import { hostname } from 'node:os';

/**
 * The API is configured only by environment variables, like a container. Everything is parsed
 * and checked once at start; a bad value is a ConfigError naming the variable, the value and
 * what is allowed, and the entry point exits with code 2.
 */

export interface ApiConfig {
  /** PORT, default 4000; 0 asks the kernel for a free port (tests). */
  port: number;
  /** HOST, default 127.0.0.1. */
  host: string;
  /** DATABASE_URL, required: postgres://… */
  databaseUrl: string;
  /** REDIS_URL, required: redis://… */
  redisUrl: string;
  /** PG_POOL_SIZE, default 10: connections this replica may hold. */
  pgPoolSize: number;
  /** PG_CONNECT_TIMEOUT_MS, default 2000: wait for a pool connection before answering 503. */
  pgConnectTimeoutMs: number;
  /** PG_STATEMENT_TIMEOUT_MS, default 5000 (0 = none): server-side limit, plus 1 s client-side. */
  pgStatementTimeoutMs: number;
  /** REDIS_COMMAND_TIMEOUT_MS, default 250: a slower cache answer counts as a cache error and the read goes to PostgreSQL. */
  redisCommandTimeoutMs: number;
  /** ARTIFICIAL_LATENCY_MS, default 0: added to every /api request, to make latency SLOs fail on purpose. */
  artificialLatencyMs: number;
  /** ARTIFICIAL_LATENCY_JITTER_MS, default 0: a uniform random 0…jitter added on top. */
  artificialLatencyJitterMs: number;
  /** CACHE_TTL_SECONDS, default 30; 0 disables the cache. */
  cacheTtlSeconds: number;
  /** REPLICA_NAME, default the host name: shown in logs and the x-replica response header. */
  replicaName: string;
  /** SHUTDOWN_GRACE_MS, default 5000: how long in-flight requests may take after SIGTERM. */
  shutdownGraceMs: number;
}

/** An environment variable holds a value the API cannot use. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly value: string | undefined,
    readonly allowed: string,
  ) {
    super(value === undefined ? `${variable} is required: ${allowed}` : `invalid ${variable}=${JSON.stringify(value)}: ${allowed}`);
    this.name = 'ConfigError';
  }
}

/** Reads the API's config from `env`. An empty variable counts as unset. Throws ConfigError. */
export function loadConfig(env: NodeJS.ProcessEnv): ApiConfig {
  return {
    port: intVar(env, 'PORT', 4000, 0, 65_535, ' (0 = any free port)'),
    host: stringVar(env, 'HOST', '127.0.0.1'),
    databaseUrl: urlVar(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://user@host:5432/database'),
    redisUrl: urlVar(env, 'REDIS_URL', ['redis:', 'rediss:'], 'redis://host:6379'),
    pgPoolSize: intVar(env, 'PG_POOL_SIZE', 10, 1, 1_000),
    pgConnectTimeoutMs: intVar(env, 'PG_CONNECT_TIMEOUT_MS', 2_000, 1, 60_000),
    pgStatementTimeoutMs: intVar(env, 'PG_STATEMENT_TIMEOUT_MS', 5_000, 0, 600_000, ' (0 = no limit)'),
    redisCommandTimeoutMs: intVar(env, 'REDIS_COMMAND_TIMEOUT_MS', 250, 1, 60_000),
    artificialLatencyMs: intVar(env, 'ARTIFICIAL_LATENCY_MS', 0, 0, 600_000),
    artificialLatencyJitterMs: intVar(env, 'ARTIFICIAL_LATENCY_JITTER_MS', 0, 0, 600_000),
    cacheTtlSeconds: intVar(env, 'CACHE_TTL_SECONDS', 30, 0, 86_400, ' (0 disables the cache)'),
    replicaName: stringVar(env, 'REPLICA_NAME', hostname()),
    shutdownGraceMs: intVar(env, 'SHUTDOWN_GRACE_MS', 5_000, 0, 600_000),
  };
}

function read(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number, note = ''): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new ConfigError(name, raw, `an integer from ${min} to ${max}${note}`);
  return value;
}

function stringVar(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (raw.trim() !== raw || /[\s]/.test(raw)) throw new ConfigError(name, raw, 'a value without whitespace');
  return raw;
}

function urlVar(env: NodeJS.ProcessEnv, name: string, protocols: readonly string[], example: string): string {
  const raw = read(env, name);
  const allowed = `a ${protocols.map((p) => `${p}//`).join(' or ')} URL, e.g. ${example}`;
  if (raw === undefined) throw new ConfigError(name, undefined, allowed);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, raw, allowed);
  }
  if (!protocols.includes(url.protocol) || url.hostname === '') {
    // Never echo a password into logs.
    if (url.password === '') throw new ConfigError(name, raw, allowed);
    url.password = '***';
    throw new ConfigError(name, url.toString(), allowed);
  }
  return raw;
}
