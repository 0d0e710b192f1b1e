import path from 'node:path';
import type { z } from 'zod';
import { parseDuration } from '../util/duration.ts';
import { ConfigError, describeValue, type ConfigIssue } from './errors.ts';
import { userConfigSchema, type ParsedChaosEntry, type ParsedConfig, type ParsedSuite } from './schema.ts';
import { checkExperiment, EXPERIMENTS, parseLabelSelector, type ExperimentDefinition, type ExperimentName } from '../../chaos/litmus/experiments.ts';
import { importChaosEngine, scheduleSequentially } from '../../chaos/litmus/chaos-engine.ts';
import { readFileSync } from 'node:fs';
import type { SloDefinition } from '../../slo/types.ts';
import type { ContainerService } from '../../cluster/targets/local/containers/images.ts';
import type { RuntimePreference } from '../../cluster/targets/local/containers/runtime.ts';

/**
 * One experiment on the run's timeline, with every Litmus default filled in and every duration in
 * milliseconds. `definition` is the typed experiment (name, target, all tunables); the flat fields
 * are what schedulers and injectors read most.
 */
export interface ResolvedExperiment {
  experiment: ExperimentName;
  /** Unique within the suite: "pod-delete", or "pod-delete-2" for a second one. */
  name: string;
  definition: ExperimentDefinition;
  /** From the start of load to the moment the fault is injected (RAMP_TIME already added). */
  startAfterMs: number;
  /** TOTAL_CHAOS_DURATION. */
  durationMs: number;
  /** CHAOS_INTERVAL where the experiment repeats (pod-delete, container-kill, pod-pause), else the whole duration. */
  intervalMs: number;
  podsAffectedPerc: number;
  /** pod-delete's FORCE; false elsewhere. */
  force: boolean;
  sequence: 'serial' | 'parallel';
  /** Label selector as pairs, e.g. { app: "hastecrm-api" }. */
  selector: Record<string, string>;
  /** Where it was defined: `config` or `ChaosEngine hastecrm-chaos (chaos.yaml)`. */
  source: string;
}

/** A pod-delete experiment: what `runPodDelete` reads. */
export type ResolvedPodDelete = ResolvedExperiment & { experiment: 'pod-delete' };

export interface ResolvedLocalTarget {
  type: 'local';
  replicas: number;
  api: { latencyMs: number; latencyJitterMs: number; pgPoolSize: number; env: Record<string, string> };
  ingress: { timeoutMs: number; attempts: number; perTryTimeoutMs: number };
  prometheus: { scrapeIntervalMs: number };
  readyTimeoutMs: number;
  /** Where each dependency runs (`auto`: the binary when present, else a container); see docs/containers.md. */
  runtime: Record<ContainerService, RuntimePreference>;
  /** Image overrides for the container runtime; absent: the official image when present locally, else one built here. */
  images: Partial<Record<ContainerService, string>>;
}

/** hasteCRM on a kind cluster; see the `kind` target in schema.ts. */
export interface ResolvedKindTarget {
  type: 'kind';
  cluster: string;
  reuse: boolean;
  workers: number;
  namespace: string;
  chaosNamespace: string;
  replicas: number;
  addons: string[];
  ingressPort: number;
  prometheusPort: number;
  apiHost: string;
  prometheus: { scrapeIntervalMs: number };
  readyTimeoutMs: number;
}

export type ResolvedTarget = ResolvedLocalTarget | ResolvedKindTarget;

export interface ResolvedSuite {
  name: string;
  description: string;
  target: ResolvedTarget;
  load: { scenarioFile: string; rate: number | undefined; durationMs: number | undefined };
  chaos: ResolvedExperiment[];
  slos: SloDefinition[];
  canary: { flaggerFile?: string; argo?: { templateFile: string; args: Record<string, string> }; gate: boolean } | undefined;
  settleMs: number;
  timeoutMs: number;
}

/** What the rest of the harness sees: validated, complete, absolute. */
export interface ResolvedConfig {
  configFile: string;
  rootDir: string;
  reportsDir: string;
  historyDir: string;
  stateDir: string;
  suites: Record<string, ResolvedSuite>;
}

/**
 * Validates a user config and fills in every default. Throws ConfigError listing every invalid
 * field with its path, the value given and what is allowed.
 */
export function resolveConfig(raw: unknown, configFile: string): ResolvedConfig {
  const parsed = userConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(configFile, parsed.error.issues.flatMap((issue) => toConfigIssues(issue, raw)));
  const config: ParsedConfig = parsed.data;
  const rootDir = path.dirname(path.resolve(configFile));
  const suites: Record<string, ResolvedSuite> = {};
  const issues: ConfigIssue[] = [];
  for (const [name, suite] of Object.entries(config.suites)) {
    suites[name] = resolveSuite(name, suite, rootDir, issues);
    issues.push(...checkSchedule(name, suites[name]));
  }
  if (issues.length > 0) throw new ConfigError(configFile, issues);
  return {
    configFile: path.resolve(configFile),
    rootDir,
    reportsDir: path.resolve(rootDir, config.reportsDir),
    historyDir: path.resolve(rootDir, config.historyDir),
    stateDir: path.resolve(rootDir, config.stateDir),
    suites,
  };
}

function resolveSuite(name: string, suite: ParsedSuite, rootDir: string, issues: ConfigIssue[]): ResolvedSuite {
  const counts = new Map<string, number>();
  return {
    name,
    description: suite.description,
    target: resolveTarget(suite.target),
    load: {
      scenarioFile: path.resolve(rootDir, suite.load.scenario),
      rate: suite.load.rate,
      durationMs: suite.load.duration === undefined ? undefined : parseDuration(suite.load.duration),
    },
    chaos: suite.chaos.flatMap((e, i) => resolveChaosEntry(e, `suites.${name}.chaos.${i}`, rootDir, counts, issues)),
    slos: suite.slos,
    canary: suite.canary && {
      ...(suite.canary.flagger ? { flaggerFile: path.resolve(rootDir, suite.canary.flagger) } : {}),
      ...(suite.canary.argo ? { argo: { templateFile: path.resolve(rootDir, suite.canary.argo.template), args: suite.canary.argo.args } } : {}),
      gate: suite.canary.gate,
    },
    settleMs: parseDuration(suite.settle),
    timeoutMs: parseDuration(suite.timeout),
  };
}

function resolveTarget(t: ParsedSuite['target']): ResolvedTarget {
  if (t.type === 'kind') {
    return {
      type: 'kind',
      cluster: t.cluster,
      reuse: t.reuse,
      workers: t.workers,
      namespace: t.namespace,
      chaosNamespace: t.chaosNamespace,
      replicas: t.replicas,
      addons: [...t.addons],
      ingressPort: t.ingressPort,
      prometheusPort: t.prometheusPort,
      apiHost: t.apiHost,
      prometheus: { scrapeIntervalMs: parseDuration(t.prometheus.scrapeInterval) },
      readyTimeoutMs: parseDuration(t.readyTimeout),
    };
  }
  return {
    type: 'local',
    replicas: t.replicas,
    api: {
      latencyMs: parseDuration(t.api.latency),
      latencyJitterMs: parseDuration(t.api.latencyJitter),
      pgPoolSize: t.api.pgPoolSize,
      env: t.api.env,
    },
    ingress: {
      timeoutMs: parseDuration(t.ingress.timeout),
      attempts: t.ingress.attempts,
      perTryTimeoutMs: parseDuration(t.ingress.perTryTimeout),
    },
    prometheus: { scrapeIntervalMs: parseDuration(t.prometheus.scrapeInterval) },
    readyTimeoutMs: parseDuration(t.readyTimeout),
    runtime: { ...t.runtime },
    images: Object.fromEntries(Object.entries(t.images).filter(([, image]) => image !== undefined)),
  };
}

const DEFAULT_TARGET = 'app=hastecrm-api';

/**
 * One config entry → its experiments: one for an `experiment` entry, one per experiment of an
 * imported ChaosEngine (placed one after another, as the chaos-operator runs them). Problems are
 * appended to `issues` with the entry's path; the entry then contributes nothing.
 */
function resolveChaosEntry(entry: ParsedChaosEntry, where: string, rootDir: string, counts: Map<string, number>, issues: ConfigIssue[]): ResolvedExperiment[] {
  const startAfterMs = parseDuration(entry.startAfter);
  const targetText = entry.target ?? DEFAULT_TARGET;
  const parsedTarget = parseLabelSelector(targetText);
  if (!parsedTarget.ok) {
    issues.push({ path: `${where}.target`, given: describeValue(targetText), expected: parsedTarget.expected });
    return [];
  }
  if (entry.experiment !== undefined) {
    const definition = checkExperiment(entry.experiment, parsedTarget.labels, entry.env, where, issues);
    if (!definition) return [];
    const ramp = (definition.env as { RAMP_TIME?: number }).RAMP_TIME ?? 0;
    return [flatten(definition, uniqueName(entry.name ?? entry.experiment, counts), startAfterMs + ramp * 1_000, 'config')];
  }
  const file = path.resolve(rootDir, entry.import ?? '');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    issues.push({ path: `${where}.import`, given: describeValue(entry.import), expected: `a readable ChaosEngine YAML file (relative to the config file): ${(error as Error).message}` });
    return [];
  }
  let engine;
  try {
    engine = importChaosEngine(text, file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...error.issues.map((issue) => ({ ...issue, path: `${where}.import (${path.basename(file)}: ${issue.path})` })));
    return [];
  }
  // `env` and `target` on an import override every imported experiment (e.g. a shorter
  // TOTAL_CHAOS_DURATION for a quick local run); the ChaosEngine file stays as written.
  const definitions: ExperimentDefinition[] = [];
  for (const [i, imported] of engine.experiments.entries()) {
    const merged = { ...(imported.env as Record<string, string | number | boolean>), ...entry.env };
    const known = Object.fromEntries(Object.entries(merged).filter(([key]) => Object.hasOwn(EXPERIMENTS[imported.experiment].tunables, key)));
    const definition = checkExperiment(imported.experiment, entry.target ? parsedTarget.labels : imported.target, known, `${where}.import (${path.basename(file)}: spec.experiments.${i})`, issues);
    if (definition) definitions.push(definition);
  }
  if (definitions.length !== engine.experiments.length) return [];
  const source = `ChaosEngine ${engine.name} (${path.relative(rootDir, file) || file})`;
  return scheduleSequentially(definitions, { startAfterMs, gapMs: parseDuration(entry.gap) }).map((scheduled) =>
    flatten(scheduled.definition, uniqueName(entry.name ? `${entry.name}-${scheduled.definition.experiment}` : scheduled.definition.experiment, counts), scheduled.faultStartMs, source),
  );
}

function flatten(definition: ExperimentDefinition, name: string, startAfterMs: number, source: string): ResolvedExperiment {
  const env = definition.env as Record<string, string | number | boolean | undefined>;
  const durationMs = Number(env.TOTAL_CHAOS_DURATION) * 1_000;
  return {
    experiment: definition.experiment,
    name,
    definition,
    startAfterMs,
    durationMs,
    intervalMs: typeof env.CHAOS_INTERVAL === 'number' ? env.CHAOS_INTERVAL * 1_000 : durationMs,
    podsAffectedPerc: typeof env.PODS_AFFECTED_PERC === 'number' ? env.PODS_AFFECTED_PERC : 0,
    force: env.FORCE === true,
    sequence: env.SEQUENCE === 'serial' ? 'serial' : 'parallel',
    selector: { ...definition.target },
    source,
  };
}

function uniqueName(base: string, counts: Map<string, number>): string {
  const seen = (counts.get(base) ?? 0) + 1;
  counts.set(base, seen);
  return seen === 1 ? base : `${base}-${seen}`;
}

/** Cross-field checks the schema cannot express: every fault must fit inside the load. */
function checkSchedule(name: string, suite: ResolvedSuite): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const names = new Set<string>();
  suite.slos.forEach((slo, i) => {
    if (names.has(slo.name))
      issues.push({ path: `suites.${name}.slos.${i}.name`, given: describeValue(slo.name), expected: 'SLO names must be unique within a suite' });
    names.add(slo.name);
  });
  suite.chaos.forEach((e, i) => {
    if (e.intervalMs === 0 || e.intervalMs > e.durationMs)
      issues.push({
        path: `suites.${name}.chaos.${i}.env.CHAOS_INTERVAL`,
        given: describeValue(e.intervalMs / 1_000),
        expected: `expected seconds between 1 and TOTAL_CHAOS_DURATION (${e.durationMs / 1_000})`,
      });
    if (suite.load.durationMs !== undefined && e.startAfterMs + e.durationMs > suite.load.durationMs)
      issues.push({
        path: `suites.${name}.chaos.${i}.startAfter`,
        given: describeValue(`${e.startAfterMs / 1_000}s + TOTAL_CHAOS_DURATION ${e.durationMs / 1_000}s`),
        expected: `the fault must end before the load does (load.duration = ${suite.load.durationMs / 1_000}s), so a recovery phase exists`,
      });
  });
  return issues;
}

function toConfigIssues(issue: z.core.$ZodIssue, raw: unknown): ConfigIssue[] {
  const segments = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: [...segments, key].join('.'),
      given: describeValue(valueAt(raw, [...segments, key])),
      expected: `unknown field "${key}": remove it or correct its name`,
    }));
  }
  return [{ path: segments.join('.'), given: describeValue(valueAt(raw, segments)), expected: issue.message }];
}

function valueAt(root: unknown, segments: readonly string[]): unknown {
  let value: unknown = root;
  for (const segment of segments) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[segment] : undefined;
  return value;
}
