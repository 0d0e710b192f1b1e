import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError, type ConfigIssue } from '../config/errors.ts';
import type { ResolvedConfig, ResolvedExperiment, ResolvedSuite } from '../config/resolve.ts';
import { resolveScenario, ScenarioValidationError, type ResolvedScenario, type ScenarioOverrides } from '../../scenarios/engine/resolve.ts';
import type { ScenarioDefinition } from '../../scenarios/types.ts';
import type { PhaseKind, SloDefinition } from '../../slo/types.ts';
import { renderSloQueries, thresholdText, type SloQueries } from '../../slo/promql.ts';
import { checkSloQueries } from '../../slo/query-check.ts';
import { parseFlaggerCanary, type FlaggerCanarySpec } from '../../slo/canary/flagger.ts';
import { parseAnalysisTemplate, type AnalysisTemplateSpec } from '../../slo/canary/argo.ts';
import { readFileSync } from 'node:fs';
import { planLocalTargets, type LocalPodGroups } from '../../chaos/local/plan-targets.ts';
import { API_APP } from '../../cluster/targets/local/local-target.ts';
import type { K6Availability } from '../../scenarios/k6/k6-process.ts';
import type { PolicyFinding } from '../../chaos/litmus/policy.ts';
import { kindPolicyFindings, planKindTargets } from './kind-chaos.ts';
import { chooseLoadDriver, clientHistogramsOf, type LoadChoice, type LoadDriverChoice } from './k6-driver.ts';

/** A phase as planned: offsets from the start of load, in milliseconds. */
export interface PlannedPhase {
  name: string;
  kind: PhaseKind;
  startMs: number;
  endMs: number;
}

/**
 * Everything a run will do, validated and rendered to plain data before anything starts.
 * `resilience plan` prints it; `resilience run` executes it.
 */
export interface RunPlan {
  config: ResolvedConfig;
  suite: ResolvedSuite;
  scenario: ResolvedScenario;
  /** The scenario as written, and the suite's overrides: what the load driver runs. */
  scenarioSource: { definition: ScenarioDefinition<unknown>; overrides: ScenarioOverrides };
  schedule: ResolvedExperiment[];
  /** Per experiment name: which pods or processes it will hit, in words. */
  targets: Record<string, string>;
  /** Kind target: Pod Security findings for the chaos pods (errors already failed the plan; warnings remain). */
  policy: PolicyFinding[];
  /** `--allow-context`, carried to the run (kind target only). */
  allowContext?: string;
  phases: PlannedPhase[];
  /** Queries rendered for the `overall` phase's window; each phase uses its own duration. */
  slos: { slo: SloDefinition; queries: SloQueries; threshold: string }[];
  /** The load driver (`--load`) and why it was chosen. */
  load: LoadDriverChoice;
  /** Release analyses replayed over the run, parsed from the manifests at plan time. */
  canary: { flagger?: FlaggerCanarySpec; argo?: { template: AnalysisTemplateSpec; args: Record<string, string> }; gate: boolean } | undefined;
}

export interface PlanOptions {
  /** PODS_AFFECTED_PERC of 100 takes every matching pod down at once: only with this set (`--allow-all-pods`). */
  allowAllPods?: boolean;
  /** `--load`: default `auto` (k6 when it runs here, else the embedded engine). */
  load?: LoadChoice;
  /** `--allow-context`: the one non-kind kube context the kind target may modify. */
  allowContext?: string;
  /** How k6 is looked for; default `k6Available()` (tests pass a stand-in). */
  k6Availability?: () => Promise<K6Availability>;
}

/** Builds the plan for one suite. Throws ConfigError (exit 2) for anything that would make the run invalid. */
export async function buildPlan(config: ResolvedConfig, suiteName: string, options: PlanOptions = {}): Promise<RunPlan> {
  const suite = config.suites[suiteName];
  if (!suite) {
    throw new ConfigError(config.configFile, [
      { path: `suites.${suiteName}`, given: 'missing', expected: `a suite defined in the config; defined: ${Object.keys(config.suites).join(', ')}` },
    ]);
  }
  const scenarioSource = await loadScenario(config, suite);
  const scenario = resolveScenarioOrConfigError(config, suite, scenarioSource);
  const issues: ConfigIssue[] = [];
  for (const [i, e] of suite.chaos.entries()) {
    if (e.startAfterMs + e.durationMs > scenario.durationMs) {
      issues.push({
        path: `suites.${suite.name}.chaos.${i}.startAfter`,
        given: JSON.stringify(`${e.startAfterMs / 1000}s + ${e.durationMs / 1000}s`),
        expected: `the fault must end before the load does (${scenario.durationMs / 1000}s), so that a recovery phase exists; shorten it or lengthen load.duration`,
      });
    }
  }
  const targets: Record<string, string> = {};
  const target = suite.target;
  const groups: LocalPodGroups | undefined =
    target.type === 'local'
      ? {
          replicas: { labels: { app: API_APP }, count: target.replicas },
          dataTier: [
            { name: 'hastecrm-postgresql-0', labels: { app: 'hastecrm-postgresql', tier: 'data' }, container: target.runtime.postgres === 'container' },
            { name: 'hastecrm-redis-0', labels: { app: 'hastecrm-redis', tier: 'data' }, container: target.runtime.redis === 'container' },
          ],
        }
      : undefined;
  // Kind: the pods each experiment can hit, listed from the cluster when it answers (reads only, bounded at 3 s).
  const kindTargets = target.type === 'kind' ? await planKindTargets(suite.chaos, target) : undefined;
  for (const e of suite.chaos) {
    const where = e.source === 'config' ? `suites.${suite.name}.chaos (${e.name})` : `suites.${suite.name}.chaos (${e.name} from ${e.source})`;
    const planned = kindTargets?.get(e) ?? planLocalTargets(e, groups as LocalPodGroups);
    if (planned.ok) targets[e.name] = planned.text;
    else issues.push({ path: `${where}.target`, given: JSON.stringify(Object.entries(e.selector).map(([k, v]) => `${k}=${v}`).join(',')), expected: planned.problem });
    if (e.podsAffectedPerc >= 100 && !options.allowAllPods)
      issues.push({
        path: `${where}.env.PODS_AFFECTED_PERC`,
        given: String(e.podsAffectedPerc),
        expected: 'PODS_AFFECTED_PERC=100 takes every matching pod down at once (a full outage); pass --allow-all-pods if that is the point, or lower it',
      });
  }
  for (const problem of checkSloQueries(suite.slos)) {
    const index = suite.slos.findIndex((s) => s.name === problem.slo);
    const slo = suite.slos[index] as unknown as Record<string, unknown> | undefined;
    const text = slo?.[problem.field];
    issues.push({ path: `suites.${suite.name}.slos.${index}.${problem.field}`, given: typeof text === 'string' ? JSON.stringify(text) : 'the query', expected: problem.message });
  }
  // On kind, helper pods the cluster's Pod Security admission rejects would never inject: refuse now.
  const policy = target.type === 'kind' ? kindPolicyFindings(suite.chaos, target) : [];
  for (const finding of policy.filter((f) => f.severity === 'error'))
    issues.push({ path: `suites.${suite.name}.target.chaosNamespace`, given: JSON.stringify(finding.namespace), expected: `${finding.message} (${finding.rule}); fix: ${finding.fix}` });
  if (target.type === 'kind' && options.load === 'k6')
    issues.push({ path: '--load', given: '"k6"', expected: 'the embedded engine on the kind target (it sends the Ingress Host header); k6 on kind is not wired yet: use --load engine or auto' });
  const canary = loadCanary(config, suite, issues);
  if (issues.length > 0) throw new ConfigError(config.configFile, issues);
  const phases = planPhases(scenario.durationMs, suite.chaos);
  const load: LoadDriverChoice =
    target.type === 'kind'
      ? { driver: 'engine', reason: 'the kind target runs the embedded engine, which sends the Ingress Host header' }
      : await chooseLoadDriver(options.load ?? 'auto', options.k6Availability);
  const clientHistograms = clientHistogramsOf(load.driver);
  return {
    config,
    suite,
    scenario,
    scenarioSource,
    schedule: suite.chaos,
    targets,
    policy,
    ...(options.allowContext ? { allowContext: options.allowContext } : {}),
    phases,
    load,
    canary,
    slos: suite.slos.map((slo) => ({ slo, queries: renderSloQueries(slo, Math.round(scenario.durationMs / 1000), { clientHistograms }), threshold: thresholdText(slo) })),
  };
}

/**
 * Baseline before the first fault, one window per experiment, recovery after the last one, and
 * the whole load as `overall`. Empty phases are left out (no chaos: no recovery).
 */
export function planPhases(loadDurationMs: number, experiments: readonly Pick<ResolvedExperiment, 'name' | 'startAfterMs' | 'durationMs'>[]): PlannedPhase[] {
  const phases: PlannedPhase[] = [];
  const firstStart = Math.min(loadDurationMs, ...experiments.map((e) => e.startAfterMs));
  const lastEnd = Math.max(0, ...experiments.map((e) => e.startAfterMs + e.durationMs));
  if (firstStart > 0) phases.push({ name: 'baseline', kind: 'baseline', startMs: 0, endMs: firstStart });
  for (const e of experiments) phases.push({ name: e.name, kind: 'experiment', startMs: e.startAfterMs, endMs: e.startAfterMs + e.durationMs });
  if (experiments.length > 0 && lastEnd < loadDurationMs) phases.push({ name: 'recovery', kind: 'recovery', startMs: lastEnd, endMs: loadDurationMs });
  phases.push({ name: 'overall', kind: 'overall', startMs: 0, endMs: loadDurationMs });
  return phases;
}

async function loadScenario(config: ResolvedConfig, suite: ResolvedSuite): Promise<RunPlan['scenarioSource']> {
  const field = `suites.${suite.name}.load.scenario`;
  const file = suite.load.scenarioFile;
  if (!existsSync(file)) throw new ConfigError(config.configFile, [{ path: field, given: JSON.stringify(file), expected: 'a scenario file that exists (path relative to the config file)' }]);
  let definition: unknown;
  try {
    definition = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
  } catch (error) {
    throw new ConfigError(config.configFile, [{ path: field, given: JSON.stringify(file), expected: `a scenario file that loads: ${(error as Error).message}` }]);
  }
  if (definition === undefined || definition === null || typeof definition !== 'object')
    throw new ConfigError(config.configFile, [{ path: field, given: JSON.stringify(file), expected: 'a file whose default export is defineScenario({ … })' }]);
  const overrides: ScenarioOverrides = {
    ...(suite.load.rate !== undefined ? { rate: suite.load.rate } : {}),
    ...(suite.load.durationMs !== undefined ? { durationMs: suite.load.durationMs } : {}),
  };
  return { definition: definition as ScenarioDefinition<unknown>, overrides };
}

function resolveScenarioOrConfigError(config: ResolvedConfig, suite: ResolvedSuite, source: RunPlan['scenarioSource']): ResolvedScenario {
  try {
    return resolveScenario(source.definition, source.overrides);
  } catch (error) {
    if (error instanceof ScenarioValidationError)
      throw new ConfigError(
        config.configFile,
        error.problems.map((p) => ({ path: `suites.${suite.name}.load.scenario (${suite.load.scenarioFile})`, given: `scenario "${error.scenario}"`, expected: p })),
      );
    throw error;
  }
}

/** Parses the suite's Flagger Canary and Argo AnalysisTemplate; a problem is a config issue naming the file and the field. */
function loadCanary(config: ResolvedConfig, suite: ResolvedSuite, issues: ConfigIssue[]): RunPlan['canary'] {
  if (!suite.canary) return undefined;
  const read = <T>(field: string, file: string, parse: (text: string) => T): T | undefined => {
    try {
      return parse(readFileSync(file, 'utf8'));
    } catch (error) {
      issues.push({ path: `suites.${suite.name}.canary.${field}`, given: JSON.stringify(file), expected: `a readable manifest: ${(error as Error).message}` });
      return undefined;
    }
  };
  const flagger = suite.canary.flaggerFile ? read('flagger', suite.canary.flaggerFile, (text) => parseFlaggerCanary(text)) : undefined;
  const argoSpec = suite.canary.argo;
  const template = argoSpec ? read('argo.template', argoSpec.templateFile, (text) => parseAnalysisTemplate(text)) : undefined;
  return {
    ...(flagger ? { flagger } : {}),
    ...(template && argoSpec ? { argo: { template, args: argoSpec.args } } : {}),
    gate: suite.canary.gate,
  };
}
