import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../../../scripts/util/wait.ts';
import { startPostgres, type RunningPostgres } from '../../targets/local/postgres.ts';
import { startRedis, type RunningRedis } from '../../targets/local/redis.ts';
import { loadConfig, type ApiConfig } from './config.ts';

/**
 * Test support for the API's tests (not part of the API): a real PostgreSQL and Redis in temp
 * dirs, one pair per test file. `stop()` is safe after a partial `start()`.
 */
export class TestDependencies {
  postgres: RunningPostgres | undefined;
  redis: RunningRedis | undefined;
  private readonly dirs: string[] = [];

  async start(): Promise<void> {
    this.postgres = await startPostgres({ dir: this.tempDir('api-test-pg-') });
    this.redis = await startRedis({ dir: this.tempDir('api-test-redis-') });
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.redis?.stop(), this.postgres?.stop()]);
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }

  /** The environment the API would get from the harness. */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    if (!this.postgres || !this.redis) throw new Error('TestDependencies.start() has not completed');
    return { DATABASE_URL: this.postgres.url, REDIS_URL: this.redis.url, PORT: '0', REPLICA_NAME: 'api-test', ...overrides };
  }

  config(overrides: Partial<ApiConfig> = {}): ApiConfig {
    return { ...loadConfig(this.env()), ...overrides };
  }

  private tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }
}

/** Polls GET /ready until 200. */
export async function waitForReady(baseUrl: string, timeoutMs = 20_000): Promise<void> {
  await waitUntil(
    async () => {
      const res = await fetch(`${baseUrl}/ready`);
      const body = await res.text();
      if (res.status !== 200) throw new Error(`/ready answered ${res.status} ${body}`);
      return true;
    },
    { what: `API at ${baseUrl}`, timeoutMs, intervalMs: 50 },
  );
}

/** The value of one exposition line, e.g. `metricValue(text, 'http_requests_total{status="200",…}')`. */
export function metricValue(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
