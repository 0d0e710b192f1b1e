import path from 'node:path';
import type { z } from 'zod';
import { parseDuration } from '../util/duration.ts';
import { ConfigError, describeValue, type ConfigIssue } from './errors.ts';
import { userConfigSchema, type ParsedConfig, type ParsedExperiment, type ParsedSuite } from './schema.ts';
import type { SloDefinition } from '../../slo/types.ts';

/** A pod-delete experiment with every default filled in and every duration in milliseconds. */
export interface ResolvedPodDelete {
  experiment: 'pod-delete';
  /** Unique within the suite: "pod-delete", or "pod-delete-2" for a second one. */
  name: string;
  startAfterMs: number;
  durationMs: number;
  intervalMs: number;
  podsAffectedPerc: number;
  force: boolean;
  sequence: 'serial' | 'parallel';
  /** Label selector as pairs, e.g. { app: "hastecrm-api" }. */
  selector: Record<string, string>;
}

export type ResolvedExperiment = ResolvedPodDelete;

export interface ResolvedLocalTarget {
  type: 'local';
  replicas: number;
  api: { latencyMs: number; latencyJitterMs: number; pgPoolSize: number; env: Record<string, string> };
  ingress: { timeoutMs: number; attempts: number; perTryTimeoutMs: number };
  prometheus: { scrapeIntervalMs: number };
  readyTimeoutMs: number;
}

export interface ResolvedSuite {
  name: string;
  description: string;
  target: ResolvedLocalTarget;
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
    suites[name] = resolveSuite(name, suite, rootDir);
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

function resolveSuite(name: string, suite: ParsedSuite, rootDir: string): ResolvedSuite {
  const t = suite.target;
  const counts = new Map<string, number>();
  return {
    name,
    description: suite.description,
    target: {
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
    },
    load: {
      scenarioFile: path.resolve(rootDir, suite.load.scenario),
      rate: suite.load.rate,
      durationMs: suite.load.duration === undefined ? undefined : parseDuration(suite.load.duration),
    },
    chaos: suite.chaos.map((e) => resolveExperiment(e, counts)),
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

function resolveExperiment(e: ParsedExperiment, counts: Map<string, number>): ResolvedExperiment {
  const base = e.name ?? e.experiment;
  const seen = (counts.get(base) ?? 0) + 1;
  counts.set(base, seen);
  return {
    experiment: 'pod-delete',
    name: seen === 1 ? base : `${base}-${seen}`,
    startAfterMs: parseDuration(e.startAfter),
    durationMs: e.env.TOTAL_CHAOS_DURATION * 1_000,
    intervalMs: e.env.CHAOS_INTERVAL * 1_000,
    podsAffectedPerc: e.env.PODS_AFFECTED_PERC,
    force: e.env.FORCE,
    sequence: e.env.SEQUENCE,
    selector: Object.fromEntries(e.target.split(',').map((pair) => pair.split('=') as [string, string])),
  };
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
