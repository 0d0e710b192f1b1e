import type { UserConfig } from '../scripts/config/define.ts';

/** One entry of a suite's `chaos` list, as written in resilience.config.ts. */
export type ChaosEntry = NonNullable<UserConfig['suites'][string]['chaos']>[number];

/**
 * hasteCRM's experiment set, by tier, with Litmus's names and tunables. Suites place them on their
 * timeline (`at(startAfter, entry)`); the same entries render into ChaosEngines for a cluster.
 *
 * Labels: the API pods are `app=hastecrm-api` (local replicas and the Deployment alike), the web
 * tier `app=hastecrm-web` (Kubernetes only: the local target runs no web tier), the data tier
 * `app=hastecrm-postgresql` and `app=hastecrm-redis` (on the local target: the two processes).
 */
export const hastecrmExperiments = {
  api: {
    /** Replicas deleted one at a time: the ingress retries must hide it. */
    podDelete: { experiment: 'pod-delete', target: 'app=hastecrm-api', env: { TOTAL_CHAOS_DURATION: 10, CHAOS_INTERVAL: 3, PODS_AFFECTED_PERC: 34 } },
    /** A container SIGKILLed and restarted in place. */
    containerKill: { experiment: 'container-kill', target: 'app=hastecrm-api', env: { TOTAL_CHAOS_DURATION: 6, CHAOS_INTERVAL: 6, SIGNAL: 'SIGKILL' } },
    /** The seed's pod-cpu-hog: 1 core at 50 %. */
    cpuHog: { experiment: 'pod-cpu-hog', target: 'app=hastecrm-api', env: { TOTAL_CHAOS_DURATION: 6, CPU_CORES: 1, CPU_LOAD: 50 } },
    memoryHog: { experiment: 'pod-memory-hog', target: 'app=hastecrm-api', env: { TOTAL_CHAOS_DURATION: 6, MEMORY_CONSUMPTION: 128 } },
    /** The seed's pod-network-latency: 200 ms. */
    latency: { experiment: 'pod-network-latency', target: 'app=hastecrm-api', env: { TOTAL_CHAOS_DURATION: 6, NETWORK_LATENCY: 200 } },
    loss: { experiment: 'pod-network-loss', target: 'app=hastecrm-api', env: { TOTAL_CHAOS_DURATION: 6, NETWORK_PACKET_LOSS_PERCENTAGE: 30 } },
    partition: { experiment: 'pod-network-partition', target: 'app=hastecrm-api', env: { TOTAL_CHAOS_DURATION: 6, POLICY_TYPES: 'ingress' } },
    pause: { experiment: 'pod-pause', target: 'app=hastecrm-api', env: { TOTAL_CHAOS_DURATION: 5, CHAOS_INTERVAL: 5 } },
  },
  web: {
    /** Kubernetes only: the local target has no web tier. */
    podDelete: { experiment: 'pod-delete', target: 'app=hastecrm-web', env: { TOTAL_CHAOS_DURATION: 10, CHAOS_INTERVAL: 5 } },
    latency: { experiment: 'pod-network-latency', target: 'app=hastecrm-web', env: { TOTAL_CHAOS_DURATION: 10, NETWORK_LATENCY: 300 } },
  },
  data: {
    /** Redis frozen: the API must fall back to PostgreSQL (cache-aside) or fail fast. */
    redisPause: { experiment: 'pod-pause', target: 'app=hastecrm-redis', env: { TOTAL_CHAOS_DURATION: 5, CHAOS_INTERVAL: 5 } },
    postgresCpuHog: { experiment: 'pod-cpu-hog', target: 'app=hastecrm-postgresql', env: { TOTAL_CHAOS_DURATION: 6, CPU_CORES: 1, CPU_LOAD: 80 } },
  },
} as const satisfies Record<string, Record<string, Omit<ChaosEntry, 'startAfter'>>>;

/** Places an experiment of the set on a suite's timeline, optionally with a name and tunables changed. */
export function at(startAfter: string, entry: Omit<ChaosEntry, 'startAfter'>, changes: { name?: string; env?: Record<string, string | number | boolean> } = {}): ChaosEntry {
  return { ...entry, startAfter, ...(changes.name ? { name: changes.name } : {}), env: { ...(entry.env ?? {}), ...(changes.env ?? {}) } };
}
