import type { IncomingMessage } from 'node:http';
import type { ContactCache } from './cache.ts';
import type { ContactRepository } from './db.ts';
import { HttpError, readJsonBody, type Reply } from './http.ts';
import { errorMessage } from './log.ts';
import type { ApiMetrics } from './metrics.ts';
import { Router } from './router.ts';
import { parseContactInput, parseId, parseIntParam, parseSearchTerm } from './validation.ts';

/** The API's routes. Handlers return a Reply or throw (HttpError, or a dependency's error). */

export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
}

export type Handler = (ctx: RequestContext) => Promise<Reply>;

export interface HandlerDeps {
  repo: ContactRepository;
  cache: ContactCache;
  metrics: ApiMetrics;
  /** True once SIGTERM (or close()) began: /ready answers 503 so no new traffic is sent here. */
  isShuttingDown(): boolean;
  /** True once the contacts table is known to exist. */
  isSchemaReady(): boolean;
}

const PAGE_DEFAULT = 20;
const PAGE_MAX = 100;
const SEARCH_LIMIT = 20;
const READY_CHECK_TIMEOUT_MS = 2_000;

export function createRoutes(deps: HandlerDeps): Router<Handler> {
  const { repo, cache, metrics } = deps;
  const router = new Router<Handler>();

  router.add('GET', '/health', () => Promise.resolve({ status: 200, body: { status: 'ok' } }));

  router.add('GET', '/ready', async () => {
    if (deps.isShuttingDown()) return { status: 503, body: { status: 'shutting down' } };
    const [postgres, redis] = await Promise.allSettled([withTimeout(repo.ping(), 'PostgreSQL'), withTimeout(cache.ping(), 'Redis')]);
    const checks = {
      postgres: postgres.status === 'fulfilled' ? 'ok' : `failed: ${errorMessage(postgres.reason)}`,
      redis: redis.status === 'fulfilled' ? 'ok' : `failed: ${errorMessage(redis.reason)}`,
      schema: deps.isSchemaReady() ? 'ok' : 'pending',
    };
    const ready = Object.values(checks).every((check) => check === 'ok');
    return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', checks } };
  });

  router.add('GET', '/metrics', async () => ({
    status: 200,
    text: { contentType: metrics.registry.contentType, content: await metrics.registry.metrics() },
  }));

  router.add('GET', '/api/contacts', async ({ url }) => {
    const limit = parseIntParam(url.searchParams, 'limit', PAGE_DEFAULT, 1, PAGE_MAX);
    const offset = parseIntParam(url.searchParams, 'offset', 0, 0, 2_147_483_647);
    return { status: 200, body: { contacts: await repo.list(limit, offset), limit, offset } };
  });

  router.add('POST', '/api/contacts', async ({ req }) => {
    const input = parseContactInput(await readJsonBody(req));
    const contact = await repo.create(input);
    return { status: 201, body: contact, headers: { location: `/api/contacts/${contact.id}` } };
  });

  router.add('GET', '/api/contacts/:id', async ({ params }) => {
    const id = parseId(params.id);
    const cached = await cache.get(id);
    if (cached) return { status: 200, body: cached, headers: { 'x-cache': 'hit' } };
    const contact = await repo.get(id);
    if (!contact) throw new HttpError(404, `contact ${id} not found`);
    // Not awaited: the reader need not wait for the cache. Redis runs commands of one
    // connection in order, so a later read on this replica already sees the entry.
    void cache.set(contact);
    return { status: 200, body: contact, headers: { 'x-cache': 'miss' } };
  });

  router.add('PUT', '/api/contacts/:id', async ({ req, params }) => {
    const id = parseId(params.id);
    const input = parseContactInput(await readJsonBody(req));
    const contact = await repo.update(id, input);
    if (!contact) throw new HttpError(404, `contact ${id} not found`);
    await cache.invalidate(id);
    return { status: 200, body: contact };
  });

  router.add('DELETE', '/api/contacts/:id', async ({ params }) => {
    const id = parseId(params.id);
    if (!(await repo.delete(id))) throw new HttpError(404, `contact ${id} not found`);
    await cache.invalidate(id);
    return { status: 204 };
  });

  router.add('GET', '/api/search', async ({ url }) => {
    const q = parseSearchTerm(url.searchParams);
    return { status: 200, body: { contacts: await repo.search(q, SEARCH_LIMIT), q } };
  });

  return router;
}

/** A readiness probe must answer in bounded time even when a dependency hangs (paused). */
async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${READY_CHECK_TIMEOUT_MS} ms`)), READY_CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
