import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

const required = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/hastecrm', REDIS_URL: 'redis://127.0.0.1:6379' };

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('fills in the documented defaults', () => {
    expect(loadConfig({ ...required, REPLICA_NAME: 'api-1' })).toEqual({
      port: 4000,
      host: '127.0.0.1',
      databaseUrl: required.DATABASE_URL,
      redisUrl: required.REDIS_URL,
      pgPoolSize: 10,
      pgConnectTimeoutMs: 2_000,
      pgStatementTimeoutMs: 5_000,
      redisCommandTimeoutMs: 250,
      artificialLatencyMs: 0,
      artificialLatencyJitterMs: 0,
      cacheTtlSeconds: 30,
      replicaName: 'api-1',
      shutdownGraceMs: 5_000,
    });
  });

  it('reads every variable, treating an empty one as unset', () => {
    const config = loadConfig({
      ...required,
      PORT: '0',
      HOST: '0.0.0.0',
      PG_POOL_SIZE: '25',
      ARTIFICIAL_LATENCY_MS: '600',
      ARTIFICIAL_LATENCY_JITTER_MS: '50',
      CACHE_TTL_SECONDS: '0',
      SHUTDOWN_GRACE_MS: '',
      REDIS_URL: 'rediss://cache.internal:6380',
    });
    expect(config).toMatchObject({ port: 0, host: '0.0.0.0', pgPoolSize: 25, artificialLatencyMs: 600, artificialLatencyJitterMs: 50, cacheTtlSeconds: 0, shutdownGraceMs: 5_000 });
    expect(config.redisUrl).toBe('rediss://cache.internal:6380');
  });

  it.each([
    ['PORT', '65536', 'an integer from 0 to 65535'],
    ['PORT', '80.5', 'an integer from 0 to 65535'],
    ['PG_POOL_SIZE', '0', 'an integer from 1 to 1000'],
    ['PG_POOL_SIZE', 'ten', 'an integer from 1 to 1000'],
    ['CACHE_TTL_SECONDS', '-1', 'an integer from 0 to 86400'],
    ['SHUTDOWN_GRACE_MS', '1e3', 'an integer from 0 to 600000'],
    ['HOST', 'local host', 'without whitespace'],
    ['REDIS_URL', 'http://127.0.0.1:6379', 'redis://'],
    ['DATABASE_URL', 'not a url', 'postgres://'],
  ])('rejects %s=%s naming the variable, the value and what is allowed', (variable, value, allowed) => {
    const error = configError({ ...required, [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.value).toBe(value);
    expect(error.message).toContain(variable);
    expect(error.message).toContain(JSON.stringify(value));
    expect(error.message).toContain(allowed);
  });

  it.each(['DATABASE_URL', 'REDIS_URL'])('requires %s', (variable) => {
    const env: NodeJS.ProcessEnv = { ...required };
    delete env[variable];
    expect(configError(env).message).toBe(`${variable} is required: ${configError(env).allowed}`);
  });

  it('does not echo a password from a rejected URL', () => {
    const error = configError({ ...required, DATABASE_URL: 'mysql://app:s3cret@db:3306/crm' });
    expect(error.message).not.toContain('s3cret');
    expect(error.message).toContain('mysql://app:***@db:3306/crm');
  });
});
