import { defineConfig } from './scripts/config/define.ts';
import { apiSlos } from './slo/api.ts';
import { apiAlertSlos } from './slo/api-alerts.ts';
import { at, hastecrmExperiments as x } from './chaos/hastecrm.ts';

/**
 * hasteCRM's resilience suites. `npm run chaos:api` runs the `api` suite; `resilience plan <suite>`
 * prints what a suite will do without starting anything.
 */
export default defineConfig({
  reportsDir: 'reports/runs',
  stateDir: '.resilience',
  suites: {
    api: {
      description: 'The CRM API under steady load while replicas are deleted; the ingress retries must hide the deletions.',
      target: {
        type: 'local',
        replicas: 3,
        // The seed's VirtualService for /api: timeout 30s, retries.attempts 3, perTryTimeout 10s.
        ingress: { timeout: '30s', attempts: 3, perTryTimeout: '10s' },
      },
      load: { scenario: 'scenarios/api.ts', rate: 50, duration: '24s' },
      chaos: [
        {
          experiment: 'pod-delete',
          startAfter: '6s',
          target: 'app=hastecrm-api',
          env: { TOTAL_CHAOS_DURATION: '10', CHAOS_INTERVAL: '3', PODS_AFFECTED_PERC: '34', FORCE: 'false' },
        },
      ],
      slos: apiSlos,
      // "Would Flagger have promoted this?" — the seed's Canary replayed over the run (report
      // only: with its 30 s interval a 24 s run can only say "halt, too short").
      canary: { flagger: 'cluster/manifests/base/hastecrm-api/canary.yaml' },
    },
    nightly: {
      description: 'Longer and harder: graceful deletions, then forced (SIGKILL) deletions of two replicas at once.',
      target: { type: 'local', replicas: 3 },
      load: { scenario: 'scenarios/api.ts', rate: 100, duration: '3m' },
      chaos: [
        { experiment: 'pod-delete', name: 'pod-delete-graceful', startAfter: '30s', env: { TOTAL_CHAOS_DURATION: '40', CHAOS_INTERVAL: '5' } },
        { experiment: 'pod-delete', name: 'pod-delete-forced', startAfter: '100s', env: { TOTAL_CHAOS_DURATION: '40', CHAOS_INTERVAL: '8', PODS_AFFECTED_PERC: '67', FORCE: 'true' } },
      ],
      // Long enough for the seed's 30 s alert group to be evaluated: "no critical alert fired" is judged too.
      slos: [...apiSlos, ...apiAlertSlos],
      canary: { flagger: 'cluster/manifests/base/hastecrm-api/canary.yaml' },
    },
      'chaos-local': {
      description: "Every local injector in turn, on the API and on the data tier: each window is judged on its own, each fault proves it took effect.",
      target: { type: 'local', replicas: 3 },
      load: { scenario: 'scenarios/api.ts', rate: 30, duration: '75s' },
      chaos: [
        at('5s', x.api.containerKill),
        at('13s', x.api.cpuHog),
        at('21s', x.api.memoryHog),
        at('29s', x.api.latency),
        at('37s', x.api.loss),
        at('45s', x.api.partition),
        at('53s', x.api.pause),
        at('60s', x.data.redisPause),
      ],
      slos: apiSlos,
    },
    // Needs Docker and kind (a CI runner): `npm run chaos:kind`. `resilience plan kind-api` works anywhere.
    'kind-api': {
      description: 'The CRM API on a kind cluster (the kind overlay behind ingress-nginx) while Litmus deletes half of the API pods; the Service and the other replica must carry the load.',
      target: { type: 'kind', cluster: 'hastecrm', namespace: 'hastecrm-production', chaosNamespace: 'hastecrm-chaos', replicas: 2 },
      load: { scenario: 'scenarios/api.ts', rate: 30, duration: '3m' },
      chaos: [
        {
          experiment: 'pod-delete',
          startAfter: '60s',
          target: 'app=hastecrm-api',
          env: { TOTAL_CHAOS_DURATION: '30', CHAOS_INTERVAL: '10', PODS_AFFECTED_PERC: '50', FORCE: 'false' },
        },
      ],
      slos: apiSlos,
      timeout: '30m',
    },
    seed: {
      description: "The seed's Litmus ChaosEngine hastecrm-chaos imported as written: pod-cpu-hog (1 core at 50 % for 60 s), then pod-network-latency (200 ms for 60 s).",
      target: { type: 'local', replicas: 3 },
      load: { scenario: 'scenarios/api.ts', rate: 50, duration: '150s' },
      chaos: [{ import: 'chaos/litmus/fixtures/hastecrm-chaos.yaml', startAfter: '15s' }],
      slos: apiSlos,
    },
  },
});
