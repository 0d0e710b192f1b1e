/** A soak: a low constant rate for long, to surface leaks and slow drifts rather than limits. */
import { defineScenario } from './types.ts';

export default defineScenario({
  name: 'soak',
  executor: 'constant-arrival-rate',
  rate: 5,
  timeUnit: '1s',
  duration: '1h',
  preAllocatedVUs: 5,
  maxVUs: 50,
  requests: [
    { name: 'GET /api/contacts', weight: 4, method: 'GET', path: '/api/contacts?limit=20' },
    { name: 'GET /api/search', weight: 1, method: 'GET', path: '/api/search?q=ada' },
    { name: 'GET /health', weight: 1, method: 'GET', path: '/health' },
  ],
});
