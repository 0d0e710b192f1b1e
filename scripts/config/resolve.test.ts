import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
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

  it('takes any experiment of the table with its Litmus defaults, RAMP_TIME included in the start', () => {
    const config = resolveConfig(
      minimal({
        load: { scenario: 's.ts', duration: '90s' },
        chaos: [
          { experiment: 'pod-cpu-hog', startAfter: '5s', env: { CPU_CORES: 2, CPU_LOAD: '80', RAMP_TIME: 2 } },
          { experiment: 'pod-network-latency', startAfter: '30s', target: 'app=hastecrm-api', env: { NETWORK_LATENCY: 200, TOTAL_CHAOS_DURATION: 10 } },
        ],
      }),
      '/project/c.ts',
    );
    const [hog, latency] = config.suites.api!.chaos;
    expect(hog).toMatchObject({ experiment: 'pod-cpu-hog', name: 'pod-cpu-hog', startAfterMs: 7_000, durationMs: 60_000, intervalMs: 60_000, source: 'config' });
    expect(hog?.definition.env).toMatchObject({ CPU_CORES: 2, CPU_LOAD: 80 });
    expect(latency).toMatchObject({ experiment: 'pod-network-latency', startAfterMs: 30_000, durationMs: 10_000, selector: { app: 'hastecrm-api' } });
    expect(issuesOf(minimal({ chaos: [{ experiment: 'pod-cpu-hog', startAfter: '1s', env: { CPU_LOAD: 150 } }] }))).toContainEqual('suites.api.chaos.0.env.CPU_LOAD: got 150; expected a percentage 0–100');
    expect(issuesOf(minimal({ chaos: [{ startAfter: '1s' }] }))).toContainEqual(expect.stringMatching(/^suites\.api\.chaos\.0\.experiment: .*give exactly one of "experiment" .* or "import"/));
    expect(issuesOf(minimal({ chaos: [{ experiment: 'pod-delete', import: 'x.yaml', startAfter: '1s' }] }))).toContainEqual(expect.stringMatching(/give exactly one of/));
  });
});

describe('resolveConfig: imported ChaosEngines', () => {
  const SEED = fileURLToPath(new URL('../../chaos/litmus/fixtures/hastecrm-chaos.yaml', import.meta.url));
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("places the seed's hastecrm-chaos as written: pod-cpu-hog for 60 s, then pod-network-latency 200 ms for 60 s", () => {
    const config = resolveConfig(minimal({ load: { scenario: 's.ts', duration: '150s' }, chaos: [{ import: SEED, startAfter: '15s' }] }), '/project/c.ts');
    const chaos = config.suites.api!.chaos;
    expect(chaos.map((e) => [e.name, e.experiment, e.startAfterMs, e.durationMs])).toEqual([
      ['pod-cpu-hog', 'pod-cpu-hog', 15_000, 60_000],
      ['pod-network-latency', 'pod-network-latency', 75_000, 60_000],
    ]);
    expect(chaos[0]?.definition.env).toMatchObject({ CPU_CORES: 1, CPU_LOAD: 50 });
    expect(chaos[1]?.definition.env).toMatchObject({ NETWORK_LATENCY: 200, NETWORK_INTERFACE: 'eth0' });
    expect(chaos[0]?.selector).toEqual({ app: 'hastecrm-api' });
    expect(chaos[0]?.source).toMatch(/^ChaosEngine hastecrm-chaos \(/);
  });

  it('applies env and target overrides to every imported experiment, and a gap between them', () => {
    const config = resolveConfig(
      minimal({ load: { scenario: 's.ts', duration: '40s' }, chaos: [{ import: SEED, startAfter: '5s', gap: '2s', target: 'app=hastecrm-redis', env: { TOTAL_CHAOS_DURATION: 8 } }] }),
      '/project/c.ts',
    );
    expect(config.suites.api!.chaos.map((e) => [e.startAfterMs, e.durationMs, e.selector.app])).toEqual([
      [5_000, 8_000, 'hastecrm-redis'],
      [15_000, 8_000, 'hastecrm-redis'],
    ]);
  });

  it('names the import and the place in the YAML when the file is missing, unparsable or invalid', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'resilience-import-'));
    dirs.push(dir);
    expect(issuesOf(minimal({ chaos: [{ import: 'nope.yaml', startAfter: '1s' }] }))).toContainEqual(expect.stringMatching(/^suites\.api\.chaos\.0\.import: got "nope\.yaml"; a readable ChaosEngine YAML file/));
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: litmuschaos.io/v1alpha1\nkind: ChaosEngine\nmetadata: { name: x }\nspec:\n  appinfo: { appns: a, applabel: app=a, appkind: deployment }\n  chaosServiceAccount: sa\n  experiments:\n    - name: pod-cpu-hog\n      spec: { components: { env: [ { name: CPU_LOAD, value: "300" } ] } }\n');
    expect(issuesOf(minimal({ chaos: [{ import: bad, startAfter: '1s' }] }))).toContainEqual(expect.stringMatching(/^suites\.api\.chaos\.0\.import \(bad\.yaml: spec\.experiments\.0\.spec\.components\.env\.0 \(CPU_LOAD\)\): got "300"; expected a percentage/));
    const override = issuesOf(minimal({ chaos: [{ import: SEED, startAfter: '1s', env: { TOTAL_CHAOS_DURATION: 'soon' } }] }));
    expect(override).toContainEqual(expect.stringMatching(/^suites\.api\.chaos\.0\.import \(hastecrm-chaos\.yaml: spec\.experiments\.0\)\.env\.TOTAL_CHAOS_DURATION: got "soon"/));
  });
});
