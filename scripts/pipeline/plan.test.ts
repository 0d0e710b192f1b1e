import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/errors.ts';
import { resolveConfig, type ResolvedConfig } from '../config/resolve.ts';
import { apiSlos } from '../../slo/api.ts';
import { buildPlan, planPhases } from './plan.ts';

describe('planPhases', () => {
  it('cuts the load into baseline, one window per experiment, recovery and overall', () => {
    expect(planPhases(24_000, [{ name: 'pod-delete', startAfterMs: 6_000, durationMs: 10_000 }])).toEqual([
      { name: 'baseline', kind: 'baseline', startMs: 0, endMs: 6_000 },
      { name: 'pod-delete', kind: 'experiment', startMs: 6_000, endMs: 16_000 },
      { name: 'recovery', kind: 'recovery', startMs: 16_000, endMs: 24_000 },
      { name: 'overall', kind: 'overall', startMs: 0, endMs: 24_000 },
    ]);
  });

  it('gives overlapping experiments their own windows; recovery starts after the last one ends', () => {
    const phases = planPhases(60_000, [
      { name: 'a', startAfterMs: 10_000, durationMs: 30_000 },
      { name: 'b', startAfterMs: 20_000, durationMs: 30_000 },
    ]);
    expect(phases.map((p) => `${p.name}:${p.startMs}-${p.endMs}`)).toEqual(['baseline:0-10000', 'a:10000-40000', 'b:20000-50000', 'recovery:50000-60000', 'overall:0-60000']);
  });

  it('without chaos judges baseline and overall; a fault at the very start has no baseline', () => {
    expect(planPhases(10_000, []).map((p) => p.name)).toEqual(['baseline', 'overall']);
    expect(planPhases(10_000, [{ name: 'x', startAfterMs: 0, durationMs: 5_000 }]).map((p) => p.name)).toEqual(['x', 'recovery', 'overall']);
  });
});

describe('buildPlan: what the chaos will hit on the local target', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const config = (chaos: unknown[]): ResolvedConfig =>
    resolveConfig({ suites: { s: { target: { type: 'local' }, load: { scenario: 'scenarios/api.ts', rate: 10, duration: '40s' }, chaos, slos: apiSlos } } }, path.join(root, 'resilience.config.ts'));
  const problems = async (chaos: unknown[], options = {}): Promise<string[]> => {
    try {
      await buildPlan(config(chaos), 's', options);
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.issues.map((i) => `${i.path}: ${i.expected}`);
    }
  };

  it('says how many of which replicas or processes each experiment hits, and how', async () => {
    const plan = await buildPlan(
      config([
        { experiment: 'pod-delete', startAfter: '2s', env: { TOTAL_CHAOS_DURATION: 6, CHAOS_INTERVAL: 2, PODS_AFFECTED_PERC: 67 } },
        { experiment: 'pod-pause', startAfter: '10s', target: 'app=hastecrm-redis', env: { TOTAL_CHAOS_DURATION: 5, CHAOS_INTERVAL: 5 } },
        { experiment: 'pod-cpu-hog', startAfter: '20s', target: 'tier=data', env: { TOTAL_CHAOS_DURATION: 5, PODS_AFFECTED_PERC: 100 } },
      ]),
      's',
      { allowAllPods: true },
    );
    expect(plan.targets['pod-delete']).toMatch(/^2 of 3 \(3 × app=hastecrm-api replica\(s\)\), picked at random, again every 2s; SIGTERM/);
    expect(plan.targets['pod-pause']).toMatch(/^1 of 1 \(hastecrm-redis-0\), picked at random; the cgroup freezer/);
    expect(plan.targets['pod-cpu-hog']).toMatch(/^2 of 2 \(hastecrm-postgresql-0 \+ hastecrm-redis-0\)/);
  });

  it('refuses PODS_AFFECTED_PERC=100 without --allow-all-pods, naming the flag', async () => {
    expect(await problems([{ experiment: 'pod-delete', startAfter: '2s', env: { PODS_AFFECTED_PERC: 100 } }])).toContainEqual(
      expect.stringMatching(/^suites\.s\.chaos \(pod-delete\)\.env\.PODS_AFFECTED_PERC: PODS_AFFECTED_PERC=100 takes every matching pod down at once .* pass --allow-all-pods/),
    );
    expect(await problems([{ experiment: 'pod-delete', startAfter: '2s', env: { PODS_AFFECTED_PERC: 100 } }], { allowAllPods: true })).toEqual([]);
  });

  it('refuses what cannot run locally: node-drain, destructive faults on the data tier, selectors matching nothing', async () => {
    expect(await problems([{ experiment: 'node-drain', startAfter: '2s', env: { TARGET_NODE: 'kind-worker', TOTAL_CHAOS_DURATION: 10 } }])).toContainEqual(expect.stringMatching(/node-drain\)\.target: not available on the local target: there are no nodes/));
    expect(await problems([{ experiment: 'pod-delete', startAfter: '2s', target: 'app=hastecrm-redis' }])).toContainEqual(expect.stringMatching(/pod-delete cannot target the data tier on the local target \(hastecrm-redis-0/));
    expect(await problems([{ experiment: 'pod-delete', startAfter: '2s', target: 'app=hastecrm-web' }])).toContainEqual(
      expect.stringMatching(/app=hastecrm-web matches nothing on the local target; its pods are labelled: app=hastecrm-api; app=hastecrm-postgresql,tier=data; app=hastecrm-redis,tier=data/),
    );
  });
});
