import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import apiScenario from './api.ts';
import { createEmbeddedEngine, resolveScenario } from './engine/index.ts';
import type { EmbeddedEngine } from './engine/index.ts';
import { parseExposition, scrape, startTestServer, sumSamples } from './engine/test-support.ts';
import type { TestServer } from './engine/test-support.ts';

interface Contact {
  id: number;
  name: string;
  email: string;
  company: string | null;
}

/** hasteCRM's API routes, in memory: enough to check what the scenario sends and that it all succeeds. */
function inMemoryApi(): { contacts: Map<number, Contact>; searches: string[]; handle: (req: IncomingMessage, res: ServerResponse) => void } {
  const contacts = new Map<number, Contact>();
  const searches: string[] = [];
  let nextId = 1;
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://api.local');
      const byId = /^\/api\/contacts\/(\d+)$/.exec(url.pathname);
      if (req.method === 'GET' && (url.pathname === '/health' || url.pathname === '/ready')) return json(res, 200, { status: 'ok' });
      if (req.method === 'GET' && url.pathname === '/api/contacts') {
        const limit = Number(url.searchParams.get('limit') ?? 20);
        const offset = Number(url.searchParams.get('offset') ?? 0);
        return json(res, 200, { contacts: [...contacts.values()].slice(offset, offset + limit), limit, offset });
      }
      if (req.method === 'POST' && url.pathname === '/api/contacts') {
        const input = JSON.parse(raw) as Partial<Contact>;
        if (typeof input.name !== 'string' || typeof input.email !== 'string' || !input.email.includes('@')) return json(res, 400, { error: 'name and email required' });
        if ([...contacts.values()].some((c) => c.email === input.email)) return json(res, 409, { error: 'email taken' });
        const contact: Contact = { id: nextId++, name: input.name, email: input.email, company: input.company ?? null };
        contacts.set(contact.id, contact);
        return json(res, 201, contact);
      }
      if (byId !== null) {
        const contact = contacts.get(Number(byId[1]));
        if (contact === undefined) return json(res, 404, { error: 'not found' });
        if (req.method === 'GET') return json(res, 200, contact);
        if (req.method === 'DELETE') {
          contacts.delete(contact.id);
          return void res.writeHead(204).end();
        }
      }
      if (req.method === 'GET' && url.pathname === '/api/search') {
        const q = (url.searchParams.get('q') ?? '').toLowerCase();
        if (q === '') return json(res, 400, { error: 'q required' });
        searches.push(q);
        const found = [...contacts.values()].filter((c) => `${c.name} ${c.email} ${c.company ?? ''}`.toLowerCase().includes(q));
        return json(res, 200, { contacts: found.slice(0, 20), q });
      }
      return json(res, 404, { error: `no route ${req.method ?? ''} ${url.pathname}` });
    });
  };
  return { contacts, searches, handle };
}

let engine: EmbeddedEngine | undefined;
let server: TestServer | undefined;

afterEach(async () => {
  await engine?.close();
  await server?.close();
  engine = undefined;
  server = undefined;
});

describe('the api scenario', () => {
  it('resolves to the agreed defaults: 50/s for 20 s, 20 to 200 VUs, a 3:4:2:1 mix', () => {
    const resolved = resolveScenario(apiScenario);
    expect(resolved).toMatchObject({ name: 'api', ratePerSec: 50, durationMs: 20_000, preAllocatedVUs: 20, maxVUs: 200, plannedIterations: 1_000 });
    expect(resolved.requests.map((r) => [r.name, r.method, r.weight])).toEqual([
      ['GET /api/contacts', 'GET', 3],
      ['GET /api/contacts/:id', 'GET', 4],
      ['GET /api/search', 'GET', 2],
      ['POST /api/contacts', 'POST', 1],
    ]);
  });

  it('runs against the API routes for ~1 s: setup contacts, reads of those ids, unique creates, no errors', async () => {
    const api = inMemoryApi();
    server = await startTestServer(api.handle);
    engine = await createEmbeddedEngine({ scenario: apiScenario, baseUrl: server.url, overrides: { rate: 60, durationMs: 1_000 } });

    await engine.setup();
    expect(api.contacts.size, 'setup creates 20 contacts').toBe(20);
    const setupIds = new Set(api.contacts.keys());
    const summary = await engine.run();

    expect(summary.scheduled).toBe(60);
    expect(summary.errors, `no request should fail: ${JSON.stringify(summary.errorSamples)}`).toBe(0);
    expect(summary.requests).toBe(60);
    const received = [...server.received.entries()];
    const count = (pattern: RegExp): number => received.filter(([key]) => pattern.test(key)).reduce((sum, [, n]) => sum + n, 0);
    const reads = received.filter(([key]) => /^GET \/api\/contacts\/\d+$/.test(key));
    expect(reads.length, 'reads by id happen').toBeGreaterThan(0);
    for (const [key] of reads) expect(setupIds.has(Number(key.split('/').pop())), `${key} should read a contact setup created`).toBe(true);
    expect(count(/^GET \/api\/contacts\?limit=20$/), 'lists happen').toBeGreaterThan(0);
    expect(count(/^GET \/api\/search\?q=/), 'searches happen').toBeGreaterThan(0);
    const creates = count(/^POST \/api\/contacts$/) - 20;
    expect(api.contacts.size, 'every create made a contact with a unique e-mail').toBe(20 + creates);
    expect(count(/./)).toBe(20 + summary.requests);

    // The mix as Prometheus sees it, by the k6 `name` tag.
    const samples = parseExposition(await scrape(engine.metricsUrl));
    const byName = (name: string): number => sumSamples(samples, 'k6_http_reqs_total', { scenario: 'api', name });
    expect(byName('GET /api/contacts') + byName('GET /api/contacts/:id') + byName('GET /api/search') + byName('POST /api/contacts')).toBe(60);
    expect(byName('POST /api/contacts')).toBe(creates);
    expect(sumSamples(samples, 'k6_http_reqs_total', { name: 'POST /api/contacts', status: '201', expected_response: 'true' })).toBe(creates);
  });
});
