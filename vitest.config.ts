import { defineConfig } from 'vitest/config';

// Two tiers, each runnable on its own: unit tests beside the code, end-to-end tests in test/.
// End-to-end tests start real Prometheus, PostgreSQL, Redis and replicas: they run one file at a
// time so they do not compete for this machine's two cores and skew each other's latencies.
// Tests that burn CPU on purpose, or that measure timing a busy machine would skew, run alone.
const CPU_HEAVY = [
  'chaos/local/stress.test.ts',
  'chaos/local/pause.test.ts',
  'chaos/local/cgroups.test.ts',
  'chaos/local/netns-loss.test.ts',
  'scenarios/engine/coordinated-omission.test.ts',
  'chaos/local/run-local.test.ts',
  'chaos/local/network.test.ts',
];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{cluster,scenarios,chaos,slo,reports,scripts}/**/*.test.ts'],
          exclude: [...CPU_HEAVY, '**/node_modules/**'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Injectors that burn CPU and memory on purpose run alone, after the unit tests, so they
        // cannot skew the timing of the tests that drive a real Prometheus.
        test: {
          name: 'chaos-local',
          include: CPU_HEAVY,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // Against a live cluster (KUBECONFIG): the nightly workflow runs them after `cluster up`;
        // without a reachable cluster they are skipped with the reason printed.
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
