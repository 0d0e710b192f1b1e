/**
 * Page-like traffic through the ingress: what a browser session of the CRM asks for — the list
 * page, a search, health — only routes the reference API serves (cluster/apps/api/handlers.ts).
 */
import { defineScenario } from './types.ts';

const SEARCH_TERMS = ['ada', 'acme', 'globex', 'example.com'] as const;

export default defineScenario({
  name: 'web',
  executor: 'constant-arrival-rate',
  rate: 20,
  duration: '20s',
  preAllocatedVUs: 10,
  maxVUs: 100,
  requests: [
    { name: 'GET /api/contacts', weight: 6, method: 'GET', path: (it) => `/api/contacts?limit=20&offset=${(it.iterationInVU % 5) * 20}`, checks: { 'status is 200': (r) => r.status === 200 } },
    { name: 'GET /api/search', weight: 3, method: 'GET', path: (it) => `/api/search?q=${encodeURIComponent(it.pick(SEARCH_TERMS))}`, checks: { 'status is 200': (r) => r.status === 200 } },
    { name: 'GET /health', weight: 1, method: 'GET', path: '/health' },
  ],
});
