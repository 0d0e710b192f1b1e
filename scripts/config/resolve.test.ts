import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.ts';
import { resolveConfig } from './resolve.ts';
import { apiSlos } from '../../slo/api.ts';

const minimal = (suite: Record<string, unknown> = {}): unknown => ({
  suites: {
    api: {
      target: { type: 'local' },
      load: { scenario: 'scenarios/api.ts' },
      slos: apiSlos,
      ...suite,
    },
  },
});

function issuesOf(raw: unknown): string[] {
  try {
    resolveConfig(raw, '/project/resilience.config.ts');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.path}: got ${i.given}; ${i.expected}`);
  }
  throw new Error('expected a ConfigError');
}

describe('resolveConfig', () => {
  it('fills in every default: the seed policy, 3 replicas, 1 s scrapes, absolute paths', () => {
    const config = resolveConfig(minimal({ chaos: [{ experiment: 'pod-delete', startAfter: '5s' }] }), '/project/resilience.config.ts');
    expect(config.reportsDir).toBe('/project/reports/runs');
    expect(config.stateDir).toBe('/project/.resilience');
    const suite = config.suites.api!;
    expect(suite.target).toMatchObject({
      replicas: 3,
      ingress: { timeoutMs: 30_000, attempts: 3, perTryTimeoutMs: 10_000 },
      prometheus: { scrapeIntervalMs: 1_000 },
      api: { latencyMs: 0, pgPoolSize: 10 },
    });
    expect(suite.load.scenarioFile).toBe('/project/scenarios/api.ts');
    expect(suite.chaos).toMatchObject([
      { experiment: 'pod-delete', name: 'pod-delete', startAfterMs: 5_000, durationMs: 15_000, intervalMs: 5_000, podsAffectedPerc: 0, force: false, sequence: 'parallel', selector: { app: 'hastecrm-api' }, source: 'config' },
    ]);
    expect(suite.chaos[0]?.definition.env).toMatchObject({ TOTAL_CHAOS_DURATION: 15, CHAOS_INTERVAL: 5, RAMP_TIME: 0 });
    expect(suite.timeoutMs).toBe(15 * 60_000);
  });

  it("accepts Litmus's string tunables and numbers alike, and names repeated experiments apart", () => {
    const config = resolveConfig(
      minimal({
        chaos: [
          { experiment: 'pod-delete', startAfter: '1s', env: { TOTAL_CHAOS_DURATION: '60', CHAOS_INTERVAL: 10, FORCE: 'true' } },
          { experiment: 'pod-delete', startAfter: '1m', env: { TOTAL_CHAOS_DURATION: 30, CHAOS_INTERVAL: '5', FORCE: false } },
        ],
      }),
      '/p/c.ts',
    );
    const [first, second] = config.suites.api!.chaos;
    expect(first).toMatchObject({ name: 'pod-delete', durationMs: 60_000, intervalMs: 10_000, force: true });
    expect(second).toMatchObject({ name: 'pod-delete-2', startAfterMs: 60_000, durationMs: 30_000, force: false });
  });

  it('names the path, the value given and what is allowed, for every invalid field at once', () => {
    const issues = issuesOf(
      minimal({
        target: { type: 'local', replicas: 0, ingress: { timeout: '30 seconds' } },
        load: { scenario: 'scenarios/api.ts', rate: -5 },
        chaos: [{ experiment: 'pod-delete', startAfter: '2s', env: { TOTAL_CHAOS_DURATON: '5' } }],
      }),
    );
    expect(issues).toContainEqual(expect.stringMatching(/^suites\.api\.target\.replicas: got 0; .*>=1/));
    expect(issues).toContainEqual(expect.stringMatching(/^suites\.api\.target\.ingress\.timeout: got "30 seconds"; expected a duration like "500ms"/));
    expect(issues).toContainEqual(expect.stringMatching(/^suites\.api\.load\.rate: got -5; /));
    expect(issues).toContainEqual(expect.stringMatching(/^suites\.api\.chaos\.0\.env\.TOTAL_CHAOS_DURATON: got "5"; pod-delete has no tunable TOTAL_CHAOS_DURATON; it takes TOTAL_CHAOS_DURATION/));
  });

  it('rejects an unknown experiment, an unknown target type and a suite without SLOs', () => {
    expect(issuesOf(minimal({ chaos: [{ experiment: 'pod-explode', startAfter: '1s' }] }))).toContainEqual(expect.stringMatching(/^suites\.api\.chaos\.0\.experiment: got "pod-explode"/));
    expect(issuesOf(minimal({ target: { type: 'moon' } }))).toContainEqual(expect.stringMatching(/^suites\.api\.target\.type: got "moon"/));
    expect(issuesOf(minimal({ slos: [] }))).toContainEqual(expect.stringMatching(/^suites\.api\.slos: got \[\]; a suite needs at least one SLO/));
  });

  it('rejects a fault that outlasts the load, an interval longer than the fault, and duplicate SLO names', () => {
    const issues = issuesOf(
      minimal({
        load: { scenario: 's.ts', duration: '20s' },
        chaos: [{ experiment: 'pod-delete', startAfter: '15s', env: { TOTAL_CHAOS_DURATION: 10, CHAOS_INTERVAL: 5 } }],
        slos: [apiSlos[0], apiSlos[0]],
      }),
    );
    expect(issues).toContainEqual(expect.stringMatching(/^suites\.api\.chaos\.0\.startAfter: .*must end before the load does \(load\.duration = 20s\)/));
    expect(issues).toContainEqual(expect.stringMatching(/^suites\.api\.slos\.1\.name: .*unique/));
    // A tunable out of range is a schema problem, reported with the other fields' problems.
    const interval = issuesOf(minimal({ chaos: [{ experiment: 'pod-delete', startAfter: '1s', env: { TOTAL_CHAOS_DURATION: 10, CHAOS_INTERVAL: 20 } }] }));
    expect(interval).toContainEqual('suites.api.chaos.0.env.CHAOS_INTERVAL: got 20; at most TOTAL_CHAOS_DURATION (10 s)');
  });

  it('rejects a config that is not an object with suites', () => {
    expect(issuesOf(undefined)).toContainEqual(expect.stringMatching(/^: got missing;/));
    expect(issuesOf({ suites: {} })).toContainEqual(expect.stringMatching(/^suites: got \{\}; define at least one suite/));
  });
});
