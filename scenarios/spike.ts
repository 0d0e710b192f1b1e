/** A sudden spike: a 10/s baseline, ×8 within 2 s, held, then back down to the baseline. */
import { defineScenario } from './types.ts';

export default defineScenario({
  name: 'spike',
  executor: 'ramping-arrival-rate',
  startRate: 10,
  timeUnit: '1s',
  preAllocatedVUs: 20,
  maxVUs: 300,
  stages: [
    { duration: '10s', target: 10 },
    { duration: '2s', target: 80 },
    { duration: '10s', target: 80 },
    { duration: '2s', target: 10 },
    { duration: '10s', target: 10 },
  ],
  requests: [
    { name: 'GET /api/contacts', weight: 3, method: 'GET', path: '/api/contacts?limit=20' },
    { name: 'GET /api/search', weight: 1, method: 'GET', path: '/api/search?q=acme' },
  ],
});
