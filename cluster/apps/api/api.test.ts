import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi, type Api } from './app.ts';
import { ensureSchema, isUnavailable, type Contact } from './db.ts';
import { createLogger } from './log.ts';
import { metricValue, TestDependencies, waitForReady } from './test-helpers.ts';

/**
 * The API in-process (createApi) against a real PostgreSQL and Redis. Tests run in order; the
 * last two stop Redis, then PostgreSQL.
 */

const deps = new TestDependencies();
const logLines: string[] = [];
let api: Api | undefined;
let base = '';

beforeAll(async () => {
  await deps.start();
  api = await createApi(deps.config(), { log: createLogger('api-test', (line) => logLines.push(line)) });
  base = api.url;
  await waitForReady(base);
});

afterAll(async () => {
  await api?.close();
  await deps.stop();
});

interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

async function createContact(input: Record<string, unknown>): Promise<Contact> {
  const res = await call<Contact>('POST', '/api/contacts', input);
  expect(res.status, `POST /api/contacts ${JSON.stringify(input)} should create`).toBe(201);
  return res.body;
}

async function metricsText(url = base): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

describe('probes', () => {
  it('GET /health answers 200 {"status":"ok"}', async () => {
    const res = await call('GET', '/health');
    expect(res).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('GET /ready answers 200 with every dependency ok', async () => {
    const res = await call('GET', '/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', schema: 'ok' } });
  });
});

describe('contacts', () => {
  it('round-trips create, read, update, delete', async () => {
    const created = await createContact({ name: ' Ada Lovelace ', email: 'ada@example.com', company: 'Analytical Engines' });
    expect(created).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com', company: 'Analytical Engines' });
    expect(created.id).toBeGreaterThan(0);

    const read = await call<Contact>('GET', `/api/contacts/${created.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created);

    const updated = await call<Contact>('PUT', `/api/contacts/${created.id}`, { name: 'Ada King', email: 'ada.king@example.com' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id: created.id, name: 'Ada King', email: 'ada.king@example.com', company: null });

    const reread = await call<Contact>('GET', `/api/contacts/${created.id}`);
    expect(reread.body, 'a read after an update returns the update, not the cached row').toEqual(updated.body);

    expect((await call('DELETE', `/api/contacts/${created.id}`)).status).toBe(204);
    const gone = await call('GET', `/api/contacts/${created.id}`);
    expect(gone.status, 'a read after a delete is 404, not the cached row').toBe(404);
    expect(gone.body).toEqual({ error: `contact ${created.id} not found` });
    expect((await call('DELETE', `/api/contacts/${created.id}`)).status).toBe(404);
    expect((await call('PUT', `/api/contacts/${created.id}`, { name: 'x', email: 'x@example.com' })).status).toBe(404);
  });

  it('answers POST with 201 and a Location header', async () => {
    const res = await call<Contact>('POST', '/api/contacts', { name: 'Grace', email: 'grace@example.com' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/api/contacts/${res.body.id}`);
  });

  it('reads through the Redis cache: miss, then hit; an update makes the next read a miss', async () => {
    const contact = await createContact({ name: 'Cache Me', email: 'cache@example.com' });
    const first = await call<Contact>('GET', `/api/contacts/${contact.id}`);
    const second = await call<Contact>('GET', `/api/contacts/${contact.id}`);
    expect(first.headers.get('x-cache')).toBe('miss');
    expect(second.headers.get('x-cache')).toBe('hit');
    expect(second.body).toEqual(first.body);

    await call('PUT', `/api/contacts/${contact.id}`, { name: 'Cached Again', email: 'cache@example.com' });
    const afterUpdate = await call<Contact>('GET', `/api/contacts/${contact.id}`);
    expect(afterUpdate.headers.get('x-cache')).toBe('miss');
    expect(afterUpdate.body.name).toBe('Cached Again');
    expect((await call('GET', `/api/contacts/${contact.id}`)).headers.get('x-cache')).toBe('hit');
  });

  it('lists with limit and offset, in id order', async () => {
    const made = [await createContact({ name: 'List A', email: 'la@example.com' }), await createContact({ name: 'List B', email: 'lb@example.com' })];
    const all = await call<{ contacts: Contact[]; limit: number; offset: number }>('GET', '/api/contacts?limit=100');
    expect(all.status).toBe(200);
    expect(all.body.limit).toBe(100);
    const ids = all.body.contacts.map((c) => c.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(ids).toEqual(expect.arrayContaining(made.map((c) => c.id)));

    const page = await call<{ contacts: Contact[] }>('GET', '/api/contacts?limit=1&offset=1');
    expect(page.body.contacts.map((c) => c.id)).toEqual([ids[1]]);
    const byDefault = await call<{ limit: number; offset: number }>('GET', '/api/contacts');
    expect(byDefault.body).toMatchObject({ limit: 20, offset: 0 });
  });

  it('searches name, email and company case-insensitively, taking % and _ literally', async () => {
    const acme = await createContact({ name: 'Wile Coyote', email: 'wile@desert.example', company: 'ACME Zyxwv' });
    const byCompany = await call<{ contacts: Contact[] }>('GET', '/api/search?q=acme%20zyx');
    expect(byCompany.status).toBe(200);
    expect(byCompany.body.contacts.map((c) => c.id)).toEqual([acme.id]);
    const byEmail = await call<{ contacts: Contact[] }>('GET', '/api/search?q=WILE@DESERT');
    expect(byEmail.body.contacts.map((c) => c.id)).toEqual([acme.id]);
    const wildcard = await call<{ contacts: Contact[] }>('GET', `/api/search?q=${encodeURIComponent('%')}`);
    expect(wildcard.body.contacts, '% must not match every contact').toEqual([]);
  });
});

describe('invalid requests', () => {
  it.each([
    ['name missing', { email: 'a@example.com' }, 'name'],
    ['name blank', { name: '   ', email: 'a@example.com' }, 'name'],
    ['email missing', { name: 'A' }, 'email'],
    ['email malformed', { name: 'A', email: 'not-an-email' }, 'email'],
    ['company not a string', { name: 'A', email: 'a@example.com', company: 42 }, 'company'],
  ])('POST with %s is 400 naming the field', async (_case, input, field) => {
    const res = await call<{ error: string; field: string }>('POST', '/api/contacts', input);
    expect(res.status).toBe(400);
    expect(res.body.field).toBe(field);
    expect(res.body.error).toContain(field);
  });

  it('PUT validates like POST', async () => {
    const contact = await createContact({ name: 'Valid', email: 'valid@example.com' });
    const res = await call<{ field: string }>('PUT', `/api/contacts/${contact.id}`, { name: 'Valid', email: 'nope' });
    expect(res).toMatchObject({ status: 400, body: { field: 'email' } });
  });

  it.each([
    ['/api/contacts?limit=101', 'limit'],
    ['/api/contacts?limit=0', 'limit'],
    ['/api/contacts?offset=-1', 'offset'],
    ['/api/contacts/abc', 'id'],
    ['/api/contacts/0', 'id'],
    ['/api/search', 'q'],
    ['/api/search?q=%20', 'q'],
  ])('GET %s is 400 naming %s', async (path, field) => {
    const res = await call<{ field: string }>('GET', path);
    expect(res.status).toBe(400);
    expect(res.body.field).toBe(field);
  });

  it('rejects a body that is not JSON (400), not an object (400), or not declared JSON (415)', async () => {
    expect((await call('POST', '/api/contacts', '{"name":')).status).toBe(400);
    expect((await call('POST', '/api/contacts', [{ name: 'A' }])).status).toBe(400);
    expect((await call('POST', '/api/contacts', 'name=A', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
  });

  it('rejects a body over 64 KiB with 413', async () => {
    const res = await call('POST', '/api/contacts', { name: 'x'.repeat(70 * 1024), email: 'big@example.com' });
    expect(res.status).toBe(413);
  });

  it('answers an unknown route with 404 JSON and a wrong method with 405 and Allow', async () => {
    const unknown = await call<{ error: string }>('GET', '/no/such/route');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/json');
    expect(unknown.body.error).toContain('/no/such/route');
    const wrongMethod = await call('PATCH', '/api/contacts/1');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, PUT, DELETE');
  });
});

describe('metrics', () => {
  it('exports http_requests_total and the latency histogram by status, method and route template', async () => {
    const contact = await createContact({ name: 'Metric', email: 'metric@example.com' });
    await call('GET', `/api/contacts/${contact.id}`);
    await call('GET', `/api/contacts/${contact.id}`);
    await call('GET', '/no/such/route');
    const text = await metricsText();

    const reads = metricValue(text, 'http_requests_total{status="200",method="GET",route="/api/contacts/:id"}');
    expect(reads, 'count of 200 GET /api/contacts/:id').toBeGreaterThanOrEqual(2);
    expect(metricValue(text, 'http_requests_total{status="201",method="POST",route="/api/contacts"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'http_requests_total{status="404",method="GET",route="unmatched"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'http_request_duration_seconds_bucket{le="0.5",status="200",method="GET",route="/api/contacts/:id"}')).toBeGreaterThanOrEqual(2);
    expect(metricValue(text, 'http_request_duration_seconds_count{status="200",method="GET",route="/api/contacts/:id"}')).toBe(reads);
    expect(text, 'buckets from 5 ms to 10 s').toContain('http_request_duration_seconds_bucket{le="0.005",');
    expect(text).toContain('http_request_duration_seconds_bucket{le="10",');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('cache_errors_total{operation="get"} 0');
    expect(metricValue(text, 'cache_lookups_total{result="hit"}')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^db_pool_connections\{state="total"\} \d+$/m);
  });

  it('never uses a raw path as route, and does not count its own scrapes', async () => {
    const text = await metricsText();
    const routes = new Set([...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
    expect([...routes].sort()).toEqual(expect.arrayContaining(['/api/contacts/:id', 'unmatched']));
    for (const route of routes) expect(['/health', '/ready', '/api/contacts', '/api/contacts/:id', '/api/search', 'unmatched']).toContain(route);
  });
});

describe('ARTIFICIAL_LATENCY_MS', () => {
  it('adds the configured latency to /api requests only, visible in the histogram', async () => {
    const slow = await createApi(deps.config({ artificialLatencyMs: 300, replicaName: 'slow' }), { log: createLogger('slow', () => undefined) });
    try {
      const contact = await createContact({ name: 'Slow', email: 'slow@example.com' });
      const timed = async (path: string): Promise<{ ms: number; status: number }> => {
        const started = performance.now();
        const res = await fetch(`${slow.url}${path}`);
        await res.arrayBuffer();
        return { ms: performance.now() - started, status: res.status };
      };
      const api = await timed(`/api/contacts/${contact.id}`);
      const health = await timed('/health');
      expect(api.status).toBe(200);
      expect(api.ms, '/api request with 300 ms artificial latency').toBeGreaterThanOrEqual(300);
      expect(health.ms, '/health is not delayed').toBeLessThan(300);

      const text = await metricsText(slow.url);
      const series = 'status="200",method="GET",route="/api/contacts/:id"';
      expect(metricValue(text, `http_request_duration_seconds_bucket{le="0.25",${series}}`)).toBe(0);
      expect(metricValue(text, `http_request_duration_seconds_bucket{le="+Inf",${series}}`)).toBe(1);
    } finally {
      await slow.close();
    }
  });
});

describe('schema', () => {
  it('is created exactly once when several replicas start against the same empty database at once', async () => {
    const admin = new pg.Client({ connectionString: deps.postgres!.url });
    await admin.connect();
    const pools: pg.Pool[] = [];
    try {
      await admin.query('DROP DATABASE IF EXISTS schema_race');
      await admin.query('CREATE DATABASE schema_race');
      const url = deps.postgres!.url.replace(/\/hastecrm$/, '/schema_race');
      for (let i = 0; i < 6; i++) pools.push(new pg.Pool({ connectionString: url, max: 1 }));
      const results = await Promise.allSettled(pools.map((pool) => ensureSchema(pool)));
      expect(results.filter((r) => r.status === 'rejected'), 'concurrent schema creations that failed').toEqual([]);
      await ensureSchema(pools[0]!); // and again: idempotent
      const tables = await pools[0]!.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'contacts'");
      expect(tables.rows[0]).toEqual({ n: 1 });
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
      await admin.end();
    }
  });
});

describe('without Redis', () => {
  it('turns /ready to 503 naming Redis, and still serves reads and writes from PostgreSQL', async () => {
    const contact = await createContact({ name: 'Survivor', email: 'survivor@example.com' });
    expect((await call('GET', `/api/contacts/${contact.id}`)).headers.get('x-cache')).toBe('miss');
    await deps.redis!.stop();

    const ready = await call<{ status: string; checks: Record<string, string> }>('GET', '/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.postgres).toBe('ok');
    expect(ready.body.checks.redis).toMatch(/^failed: /);

    const read = await call<Contact>('GET', `/api/contacts/${contact.id}`);
    expect(read.status, 'a read falls back to PostgreSQL').toBe(200);
    expect(read.headers.get('x-cache')).toBe('miss');
    expect(read.body).toMatchObject({ id: contact.id, name: 'Survivor' });
    const updated = await call('PUT', `/api/contacts/${contact.id}`, { name: 'Survivor 2', email: 'survivor@example.com' });
    expect(updated.status, 'a write succeeds although the cache cannot be invalidated').toBe(200);
    expect((await call('POST', '/api/contacts', { name: 'New', email: 'new@example.com' })).status).toBe(201);

    const text = await metricsText();
    expect(metricValue(text, 'cache_errors_total{operation="get"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'cache_errors_total{operation="invalidate"}')).toBeGreaterThanOrEqual(1);
    expect(text).not.toMatch(/http_requests_total\{status="5\d\d",method="GET",route="\/api/);
    expect(logLines.filter((line) => line.includes('"msg":"request failed"')), 'requests that failed with 500').toEqual([]);
  });
});

describe('without PostgreSQL', () => {
  it('answers /api with 503 JSON, /ready with 503 naming PostgreSQL, and stays alive', async () => {
    await deps.postgres!.stop();
    const list = await call<{ error: string }>('GET', '/api/contacts');
    expect(list.status, `GET /api/contacts without PostgreSQL: ${JSON.stringify(list.body)}`).toBe(503);
    expect(list.body.error).toMatch(/^database unavailable/);
    expect(list.headers.get('retry-after')).toBe('1');
    expect((await call('POST', '/api/contacts', { name: 'Lost', email: 'lost@example.com' })).status).toBe(503);

    const ready = await call<{ checks: Record<string, string> }>('GET', '/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.postgres).toMatch(/^failed: /);
    expect((await call('GET', '/health')).status, 'liveness does not depend on PostgreSQL').toBe(200);

    const text = await metricsText();
    expect(metricValue(text, 'http_requests_total{status="503",method="GET",route="/api/contacts"}')).toBeGreaterThanOrEqual(1);
    expect(logLines.filter((line) => line.includes('"msg":"request failed"')), 'requests that failed with 500').toEqual([]);
  });
});

describe('isUnavailable', () => {
  it('tells dependency outages (503) from bugs (500)', () => {
    expect(isUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('sorry, too many clients already'), { code: '53300' }))).toBe(true);
    expect(isUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' }))).toBe(false);
    expect(isUnavailable(new TypeError('Cannot read properties of undefined'))).toBe(false);
  });
});
