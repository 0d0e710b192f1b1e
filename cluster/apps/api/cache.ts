import { Redis } from 'ioredis';
import type { ApiConfig } from './config.ts';
import type { Contact } from './db.ts';
import { errorMessage, type Logger } from './log.ts';
import type { ApiMetrics } from './metrics.ts';

/**
 * A Redis client for a cache: commands fail fast instead of queueing while Redis is away
 * (no offline queue, a short command timeout), and it reconnects in the background forever.
 */
export function createRedis(config: ApiConfig, log: Logger): Redis {
  const redis = new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.redisCommandTimeoutMs,
    connectTimeout: 1_000,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
  });
  redis.on('error', (error) => log.throttled('redis', 'Redis connection error', { error: errorMessage(error) }));
  return redis;
}

/**
 * Cache-aside for contacts. The cache is an optimisation: no method ever rejects. A failed Redis
 * operation is counted in `cache_errors_total` and the caller carries on (a failed get is a miss).
 *
 * Known cache-aside race, bounded by the TTL: a read that misses, then loses the race with an
 * update's invalidation, may write the old row back.
 */
export class ContactCache {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly metrics: ApiMetrics,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.ttlSeconds > 0;
  }

  async get(id: number): Promise<Contact | undefined> {
    if (!this.enabled) return this.miss();
    let text: string | null;
    try {
      text = await this.redis.get(key(id));
    } catch (error) {
      this.failed('get', error);
      return this.miss();
    }
    if (text === null) return this.miss();
    try {
      const contact = JSON.parse(text) as Contact;
      this.metrics.cacheLookup('hit');
      return contact;
    } catch (error) {
      this.failed('get', error);
      return this.miss();
    }
  }

  async set(contact: Contact): Promise<void> {
    if (!this.enabled) return;
    try {
      await this.redis.set(key(contact.id), JSON.stringify(contact), 'EX', this.ttlSeconds);
    } catch (error) {
      this.failed('set', error);
    }
  }

  /** After an update or delete. If Redis is unreachable the entry stays stale for at most the TTL. */
  async invalidate(id: number): Promise<void> {
    if (!this.enabled) return;
    try {
      await this.redis.del(key(id));
    } catch (error) {
      this.failed('invalidate', error);
    }
  }

  /** For readiness: rejects when Redis does not answer PING. */
  async ping(): Promise<void> {
    // ioredis resolves PING only with PONG; anything else rejects.
    await this.redis.ping();
  }

  private miss(): undefined {
    this.metrics.cacheLookup('miss');
    return undefined;
  }

  private failed(operation: 'get' | 'set' | 'invalidate', error: unknown): void {
    this.metrics.cacheError(operation);
    this.log.throttled(`cache-${operation}`, `cache ${operation} failed; continuing without the cache`, { error: errorMessage(error) });
  }
}

function key(id: number): string {
  return `hastecrm:contact:${id}`;
}
