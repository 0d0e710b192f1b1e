/**
 * Fixture: one scenario per k6 executor, with and without the optional fields, so the golden file
 * `multi-executor.options.json` shows every mapping and every default the harness writes out.
 */
import { defineScenario } from '../../types.ts';
import type { RequestSpec, ScenarioDefinition } from '../../types.ts';

const requests: readonly RequestSpec[] = [{ name: 'GET /healthz', weight: 1, method: 'GET', path: '/healthz' }];

export const multiExecutorScenarios: ScenarioDefinition<unknown>[] = [
  defineScenario({ name: 'steady', executor: 'constant-arrival-rate', rate: 100, timeUnit: '1s', duration: '1m', preAllocatedVUs: 10, maxVUs: 50, tags: { tier: 'api' }, requests }),
  defineScenario({
    name: 'ramp',
    executor: 'ramping-arrival-rate',
    startRate: 10,
    timeUnit: '1m',
    stages: [
      { duration: '30s', target: 600 },
      { duration: '1m30s', target: 0 },
    ],
    preAllocatedVUs: 5,
    startTime: '1m',
    gracefulStop: '10s',
    requests,
  }),
  defineScenario({ name: 'closed', executor: 'constant-vus', vus: 4, duration: '45s', requests }),
  defineScenario({ name: 'vu-ramp', executor: 'ramping-vus', stages: [{ duration: '10s', target: 8 }], gracefulRampDown: '5s', requests }),
  defineScenario({ name: 'per-vu', executor: 'per-vu-iterations', vus: 2, iterations: 10, requests }),
  defineScenario({ name: 'shared_once', executor: 'shared-iterations', requests }),
] as ScenarioDefinition<unknown>[];
