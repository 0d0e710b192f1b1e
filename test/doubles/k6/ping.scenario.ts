/**
 * A small scenario for the k6 driver's tests (test/doubles/k6): 20 iterations per second of GET
 * /ping for 4 s, with a check, so the k6 test double's requests and checks can be counted exactly.
 */
import { defineScenario } from '../../../scenarios/types.ts';

export default defineScenario({
  name: 'ping',
  executor: 'constant-arrival-rate',
  rate: 20,
  timeUnit: '1s',
  duration: '4s',
  preAllocatedVUs: 2,
  maxVUs: 4,
  gracefulStop: '2s',
  requests: [{ name: 'GET /ping', weight: 1, method: 'GET', path: '/ping', checks: { 'status is 200': (r) => r.status === 200 } }],
});
