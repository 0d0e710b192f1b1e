/**
 * hasteCRM's CRM API mix, sent to the API behind the ingress: mostly reads (list, read by id —
 * served from Redis after the first read — and search), some writes. Setup creates the contacts the
 * reads ask for, so "read by id" hits real rows instead of measuring 404s.
 */
import { defineScenario } from './types.ts';
import type { SetupHttp } from './types.ts';

export interface ApiSetupData {
  /** Ids of the contacts setup created. */
  contactIds: readonly (number | string)[];
  /** Unique per run, so e-mail addresses of contacts created by the load never collide with an earlier run's. */
  runToken: string;
}

const SETUP_CONTACTS = 20;
const COMPANIES = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli'] as const;
const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken', 'Margaret', 'Linus'] as const;
/** Terms that match some setup contacts (names, companies, the e-mail domain) and some that match none. */
const SEARCH_TERMS = ['ada', 'grace', 'acme', 'globex', 'initech', 'example.com', 'setup', 'nobody-matches-this'] as const;

export default defineScenario<ApiSetupData>({
  name: 'api',
  executor: 'constant-arrival-rate',
  rate: 50,
  timeUnit: '1s',
  duration: '20s',
  preAllocatedVUs: 20,
  maxVUs: 200,
  gracefulStop: '30s',
  async setup({ http }) {
    const runToken = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
    const contactIds: (number | string)[] = [];
    for (let i = 0; i < SETUP_CONTACTS; i++) {
      const firstName = FIRST_NAMES[i % FIRST_NAMES.length] ?? 'Ada';
      contactIds.push(
        await createContact(http, {
          name: `${firstName} Setup ${i}`,
          email: `setup-${runToken}-${i}@example.com`,
          company: COMPANIES[i % COMPANIES.length] ?? 'Acme',
        }),
      );
    }
    return { contactIds, runToken };
  },
  requests: [
    { name: 'GET /api/contacts', weight: 3, method: 'GET', path: '/api/contacts?limit=20' },
    {
      name: 'GET /api/contacts/:id',
      weight: 4,
      method: 'GET',
      path: (it) => `/api/contacts/${encodeURIComponent(String(it.pick(it.data.contactIds)))}`,
    },
    {
      name: 'GET /api/search',
      weight: 2,
      method: 'GET',
      path: (it) => `/api/search?q=${encodeURIComponent(it.pick(SEARCH_TERMS))}`,
    },
    {
      name: 'POST /api/contacts',
      weight: 1,
      method: 'POST',
      path: '/api/contacts',
      body: (it) => ({
        name: `Load ${it.iteration}`,
        // The iteration number is unique within a run, the token across runs.
        email: `load-${it.data.runToken}-${it.iteration}@example.com`,
        company: it.pick(COMPANIES),
      }),
      expectedStatuses: [201],
    },
  ],
});

async function createContact(http: SetupHttp, contact: { name: string; email: string; company: string }): Promise<number | string> {
  const response = await http.post('/api/contacts', contact, { expectedStatuses: [201] });
  const id = (response.body as { id?: unknown } | null)?.id;
  if (typeof id !== 'number' && typeof id !== 'string') {
    throw new Error(`POST /api/contacts answered 201 without an id: ${JSON.stringify(response.body).slice(0, 200)}`);
  }
  return id;
}
