import { describe, expect, it } from 'vitest';
import { defineExperiment, type RawTunables } from '../litmus/experiments.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import { planLocalTargets, type LocalPodGroups } from './plan-targets.ts';

/** A ResolvedExperiment as scripts/config/resolve.ts's `flatten` builds it from a definition. */
function resolved(experiment: string, selector: Record<string, string>, env: RawTunables = {}): ResolvedExperiment {
  const definition = defineExperiment(experiment, selector, env);
  const tunables = definition.env as Record<string, string | number | boolean | undefined>;
  const durationMs = Number(tunables.TOTAL_CHAOS_DURATION) * 1_000;
  return {
    experiment: definition.experiment,
    name: experiment,
    definition,
    startAfterMs: 0,
    durationMs,
    intervalMs: typeof tunables.CHAOS_INTERVAL === 'number' ? tunables.CHAOS_INTERVAL * 1_000 : durationMs,
    podsAffectedPerc: typeof tunables.PODS_AFFECTED_PERC === 'number' ? tunables.PODS_AFFECTED_PERC : 0,
    force: tunables.FORCE === true,
    sequence: tunables.SEQUENCE === 'serial' ? 'serial' : 'parallel',
    selector: { ...definition.target },
    source: 'test',
  };
}

const GROUPS: LocalPodGroups = {
  replicas: { labels: { app: 'hastecrm-api' }, count: 3 },
  dataTier: [
    { name: 'postgres', labels: { app: 'postgres', tier: 'data' } },
    { name: 'redis', labels: { app: 'redis', tier: 'data' } },
  ],
};
const API = { app: 'hastecrm-api' };

function planned(experiment: ResolvedExperiment, groups: LocalPodGroups = GROUPS): string {
  const plan = planLocalTargets(experiment, groups);
  if (!plan.ok) throw new Error(`expected a plan, got the problem: ${plan.problem}`);
  return plan.text;
}

function refused(experiment: ResolvedExperiment, groups: LocalPodGroups = GROUPS): string {
  const plan = planLocalTargets(experiment, groups);
  if (plan.ok) throw new Error(`expected a refusal, got the plan: ${plan.text}`);
  return plan.problem;
}

describe('planLocalTargets on replicas', () => {
  it('hits floor(PODS_AFFECTED_PERC × replicas / 100), at least one, and says how', () => {
    expect(planned(resolved('pod-delete', API))).toBe(
      '1 of 3 (3 × app=hastecrm-api replica(s)), picked at random, again every 5s; SIGTERM (SIGKILL with FORCE) to the replica; the ReplicaSet starts a new pod',
    );
    expect(planned(resolved('pod-delete', API, { PODS_AFFECTED_PERC: 34 }))).toMatch(/^1 of 3 /);
    expect(planned(resolved('pod-delete', API, { PODS_AFFECTED_PERC: 67 }))).toMatch(/^2 of 3 /);
    expect(planned(resolved('pod-delete', API, { PODS_AFFECTED_PERC: 100 }))).toMatch(/^3 of 3 /);
  });

  it('says "again every N s" only for an experiment that repeats within its window', () => {
    expect(planned(resolved('container-kill', API, { TOTAL_CHAOS_DURATION: 20, CHAOS_INTERVAL: 10 }))).toMatch(/picked at random, again every 10s; SIGNAL to the replica/);
    expect(planned(resolved('container-kill', API, { TOTAL_CHAOS_DURATION: 10, CHAOS_INTERVAL: 10 }))).not.toMatch(/again every/);
    expect(planned(resolved('pod-network-latency', API))).toBe(
      '1 of 3 (3 × app=hastecrm-api replica(s)), picked at random; the fault proxy between the ingress and the replica delays replies',
    );
  });

  it('plans every replica experiment the local target supports', () => {
    for (const experiment of ['pod-delete', 'container-kill', 'pod-cpu-hog', 'pod-memory-hog', 'pod-network-latency', 'pod-network-loss', 'pod-network-partition', 'pod-pause']) {
      expect(planned(resolved(experiment, API)), experiment).toMatch(/^1 of 3 \(3 × app=hastecrm-api replica\(s\)\)/);
    }
  });
});

describe('planLocalTargets on the data tier', () => {
  it('allows process-level experiments (CPU, memory, pause) on data-tier pods and names them', () => {
    expect(planned(resolved('pod-cpu-hog', { app: 'postgres' }))).toBe("1 of 1 (postgres), picked at random; stress-ng --cpu inside the process's cgroup (v1)");
    expect(planned(resolved('pod-memory-hog', { tier: 'data' }, { PODS_AFFECTED_PERC: 100 }))).toMatch(/^2 of 2 \(postgres \+ redis\)/);
    expect(planned(resolved('pod-pause', { app: 'redis' }))).toMatch(/^1 of 1 \(redis\), picked at random; the cgroup freezer/);
  });

  it('counts replicas and data-tier pods together when the selector matches both', () => {
    expect(planned(resolved('pod-cpu-hog', {}, { PODS_AFFECTED_PERC: 100 }))).toMatch(/^5 of 5 \(3 × app=hastecrm-api replica\(s\) \+ postgres \+ redis\)/);
    // A replicas-only experiment with the same selector counts only the replicas.
    expect(planned(resolved('pod-delete', {}, { PODS_AFFECTED_PERC: 100 }))).toMatch(/^3 of 3 \(3 × app=hastecrm-api replica\(s\)\),/);
  });

  it('refuses destructive and network experiments on the data tier, naming the pods and the fix', () => {
    for (const experiment of ['pod-delete', 'pod-network-latency', 'pod-network-loss', 'pod-network-partition']) {
      expect(refused(resolved(experiment, { tier: 'data' })), experiment).toBe(
        `${experiment} cannot target the data tier on the local target (postgres, redis are not replaced when they die); target app=hastecrm-api`,
      );
    }
    // container-kill: only where Docker restarts them.
    expect(refused(resolved('container-kill', { tier: 'data' }))).toBe(
      "container-kill on the data tier needs it in containers (target.runtime.postgres / .redis = 'container'): a killed process is not restarted by anyone; or target app=hastecrm-api",
    );
  });

  it('plans container-kill on the data tier when it runs in containers', () => {
    const groups: LocalPodGroups = { replicas: GROUPS.replicas, dataTier: GROUPS.dataTier.map((d) => ({ ...d, container: true })) };
    const planned = planLocalTargets(resolved('container-kill', { tier: 'data' }), groups);
    expect(planned).toEqual({ ok: true, text: '1 of 2 (postgres + redis), picked at random; docker kill, then the container is started again' });
  });

  it("suggests the replicas' own labels, not a fixed name", () => {
    const groups: LocalPodGroups = { replicas: { labels: { app: 'other-api' }, count: 2 }, dataTier: GROUPS.dataTier };
    expect(refused(resolved('pod-delete', { app: 'redis' }), groups)).toMatch(/\(redis are not replaced when they die\); target app=other-api$/);
  });
});

describe('planLocalTargets refusals', () => {
  it('lists every known label set when the selector matches nothing', () => {
    expect(refused(resolved('pod-delete', { app: 'hastecrm-web' }))).toBe(
      'app=hastecrm-web matches nothing on the local target; its pods are labelled: app=hastecrm-api; app=postgres,tier=data; app=redis,tier=data',
    );
    expect(refused(resolved('pod-cpu-hog', { app: 'hastecrm-api', tier: 'data' }))).toMatch(/^app=hastecrm-api,tier=data matches nothing/);
  });

  it('refuses node-drain: there are no nodes on the local target', () => {
    expect(refused(resolved('node-drain', API, { TARGET_NODE: 'worker-1' }))).toBe('not available on the local target: there are no nodes (Kubernetes only)');
  });
});
