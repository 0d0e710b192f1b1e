import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { ContactCache, createRedis } from './cache.ts';
import type { ApiConfig } from './config.ts';
import { ContactRepository, createPool, ensureSchema, isUnavailable } from './db.ts';
import { createRoutes, type Handler } from './handlers.ts';
import { HttpError, type ErrorBody, type Reply } from './http.ts';
import { createLogger, errorMessage, type Logger } from './log.ts';
import { createApiMetrics, UNMATCHED_ROUTE } from './metrics.ts';
import type { RouteMatch } from './router.ts';

/** The API's lifecycle: wiring, request handling, schema creation, graceful shutdown. */

export interface Api {
  /** Listening when createApi resolves. */
  server: http.Server;
  /** The port actually bound (PORT=0 picks a free one). */
  port: number;
  /** `http://HOST:PORT`. */
  url: string;
  /**
   * Graceful shutdown: /ready turns 503, the listening socket closes (new connections are
   * refused), idle keep-alive connections close, in-flight requests get up to
   * `shutdownGraceMs` to finish (then their connections are cut), and the PostgreSQL and Redis
   * clients close. Idempotent; every call returns the same promise. Never rejects.
   */
  close(): Promise<void>;
}

const POOL_END_TIMEOUT_MS = 2_000;
const SCHEMA_RETRY_MAX_MS = 5_000;

/**
 * Starts the API on `config.host:config.port` and resolves once it listens. It listens before
 * PostgreSQL is reachable: /health answers at once, /ready answers 503 until PostgreSQL and Redis
 * answer and the schema exists (created in the background, retried until it succeeds).
 * Rejects (having released everything) when the port cannot be bound.
 */
export async function createApi(config: ApiConfig, options: { log?: Logger } = {}): Promise<Api> {
  const log = options.log ?? createLogger(config.replicaName);
  const pool = createPool(config, log);
  const metrics = createApiMetrics(() => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }));
  const redis = createRedis(config, log);
  const cache = new ContactCache(redis, config.cacheTtlSeconds, metrics, log);
  const repo = new ContactRepository(pool);

  let shuttingDown = false;
  let schemaReady = false;
  const lifetime = new AbortController();
  const router = createRoutes({ repo, cache, metrics, isShuttingDown: () => shuttingDown, isSchemaReady: () => schemaReady });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://api.invalid');
    } catch {
      url = new URL('http://api.invalid/');
    }
    const match: RouteMatch<Handler> = router.match(method, url.pathname);
    const route = match.kind === 'not-found' ? UNMATCHED_ROUTE : match.route;
    // Scrapes are not traffic: counting them would dilute the error ratios the SLOs compute.
    if (route !== '/metrics') {
      metrics.requestStarted();
      res.once('close', () => {
        // 499 (nginx's "client closed request"): the client went away before the response was sent.
        const status = res.writableFinished ? res.statusCode : 499;
        metrics.observeRequest({ status, method, route }, Number(process.hrtime.bigint() - started) / 1e9);
      });
    }

    let reply: Reply;
    try {
      if (url.pathname === '/api' || url.pathname.startsWith('/api/')) await artificialLatency(config);
      if (match.kind === 'not-found') throw new HttpError(404, `no route for ${method} ${url.pathname}`);
      if (match.kind === 'method-not-allowed') throw new HttpError(405, `${method} is not allowed on ${match.route}`, undefined, { allow: match.allow.join(', ') });
      reply = await match.handler({ req, url, params: match.params });
    } catch (error) {
      reply = errorReply(error, route, log);
    }
    send(res, reply, config.replicaName, shuttingDown);
  };

  const server = http.createServer((req, res) => void handle(req, res));
  try {
    await listen(server, config);
  } catch (error) {
    redis.disconnect();
    await pool.end().catch(() => undefined);
    throw error;
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;

  const schemaLoop = (async () => {
    for (let attempt = 0; !lifetime.signal.aborted; attempt++) {
      try {
        await ensureSchema(pool);
        schemaReady = true;
        log.info('schema ready');
        return;
      } catch (error) {
        log.throttled('schema', 'cannot create the schema yet; retrying', { error: errorMessage(error) });
      }
      await delay(Math.min(250 * 2 ** attempt, SCHEMA_RETRY_MAX_MS), undefined, { signal: lifetime.signal }).catch(() => undefined);
    }
  })();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      lifetime.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (!(await settlesWithin(closed, config.shutdownGraceMs))) {
        log.info('shutdown grace period over; closing the remaining connections', { graceMs: config.shutdownGraceMs });
        server.closeAllConnections();
        await closed;
      }
      await schemaLoop;
      redis.disconnect();
      if (!(await settlesWithin(pool.end().catch(() => undefined), POOL_END_TIMEOUT_MS))) log.info('PostgreSQL pool did not close in time; leaving it');
    })();
    return closing;
  };

  return { server, port, url: `http://${config.host}:${port}`, close };
}

function listen(server: http.Server, config: ApiConfig): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function artificialLatency(config: ApiConfig): Promise<void> {
  const ms = config.artificialLatencyMs + Math.random() * config.artificialLatencyJitterMs;
  if (ms > 0) await delay(ms);
}

function errorReply(error: unknown, route: string, log: Logger): Reply {
  if (error instanceof HttpError) {
    const body: ErrorBody = { error: error.message, ...(error.field !== undefined ? { field: error.field } : {}) };
    return { status: error.status, body, headers: error.headers };
  }
  if (isUnavailable(error)) {
    log.throttled(`unavailable ${route}`, 'PostgreSQL unavailable', { route, error: errorMessage(error) });
    return { status: 503, body: { error: `database unavailable: ${errorMessage(error)}` } satisfies ErrorBody, headers: { 'retry-after': '1' } };
  }
  log.throttled(`internal ${route}`, 'request failed', { route, error: errorMessage(error), stack: error instanceof Error ? error.stack : undefined });
  return { status: 500, body: { error: 'internal error' } satisfies ErrorBody };
}

function send(res: http.ServerResponse, reply: Reply, replica: string, shuttingDown: boolean): void {
  if (res.headersSent || res.destroyed) return;
  res.setHeader('x-replica', replica);
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  // While shutting down, and after a refused oversized body (its rest was never read), the
  // connection is not reused.
  if (shuttingDown || reply.status === 413) res.setHeader('connection', 'close');
  if (reply.text) {
    res.writeHead(reply.status, { 'content-type': reply.text.contentType });
    res.end(reply.text.content);
  } else if (reply.body === undefined) {
    res.writeHead(reply.status);
    res.end();
  } else {
    const json = JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }
}

/** True when `promise` settles within `ms`; the timer never outlives the race. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise.then(() => true), delay(ms, false, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}
