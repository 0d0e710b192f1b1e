import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The API's Prometheus metrics. The names and labels of the two HTTP metrics are a contract: the
 * seed's alert rules and the harness's SLOs query `http_requests_total{status,method,route}` and
 * `http_request_duration_seconds` under scrape job `hastecrm-api`.
 *
 * `route` is always a route template (`/api/contacts/:id`) or `unmatched`, and `method` one of a
 * fixed set, so the number of series stays bounded whatever clients send.
 */

/** Includes 0.5 exactly: the seed's canary threshold is "latency < 500 ms". */
export const HTTP_DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The `route` label of requests no route matched. */
export const UNMATCHED_ROUTE = 'unmatched';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface ApiMetrics {
  /** Its own registry: several API instances in one process (tests) do not collide. */
  registry: Registry;
  /** A request began; pair with observeRequest when it ends. */
  requestStarted(): void;
  /** Records one finished request (and ends its in-flight count). */
  observeRequest(labels: { status: number | string; method: string; route: string }, seconds: number): void;
  /** A Redis operation failed or timed out; the request went on without the cache. */
  cacheError(operation: 'get' | 'set' | 'invalidate'): void;
  cacheLookup(result: 'hit' | 'miss'): void;
}

export function createApiMetrics(poolStats: () => PoolStats): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const labelNames = ['status', 'method', 'route'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by status code, method and route template.', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response finished, by status code, method and route template.',
    labelNames,
    buckets: [...HTTP_DURATION_BUCKETS],
    registers: [registry],
  });
  const inFlight = new Gauge({ name: 'http_requests_in_flight', help: 'HTTP requests received and not yet answered.', registers: [registry] });
  const cacheErrors = new Counter({ name: 'cache_errors_total', help: 'Redis cache operations that failed; reads fell back to PostgreSQL.', labelNames: ['operation'] as const, registers: [registry] });
  const cacheLookups = new Counter({ name: 'cache_lookups_total', help: 'Contact reads by cache result.', labelNames: ['result'] as const, registers: [registry] });
  // Series that exist from the start: increase() over a window misses a counter's first sample.
  for (const operation of ['get', 'set', 'invalidate'] as const) cacheErrors.inc({ operation }, 0);
  for (const result of ['hit', 'miss'] as const) cacheLookups.inc({ result }, 0);

  new Gauge({
    name: 'db_pool_connections',
    help: 'PostgreSQL pool of this replica: connections open (total), idle, and requests waiting for one (waiting).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const stats = poolStats();
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });

  return {
    registry,
    requestStarted: () => inFlight.inc(),
    observeRequest({ status, method, route }, seconds) {
      inFlight.dec();
      // Label order status, method, route: the exposition lists labels in insertion order.
      const labels = { status: String(status), method: KNOWN_METHODS.has(method) ? method : 'OTHER', route };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
    cacheError: (operation) => cacheErrors.inc({ operation }),
    cacheLookup: (result) => cacheLookups.inc({ result }),
  };
}
