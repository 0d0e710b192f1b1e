import { parseAllDocuments, stringify } from 'yaml';
import { ConfigError, describeValue, type ConfigIssue } from '../../scripts/config/errors.ts';
import {
  EXPERIMENTS,
  checkExperiment,
  formatLabelSelector,
  parseLabelSelector,
  tunablesAsEnv,
  type ExperimentDefinition,
  type RawTunables,
} from './experiments.ts';

export type AppKind = 'deployment' | 'statefulset' | 'daemonset' | 'deploymentconfig' | 'rollout';
const APP_KINDS: readonly AppKind[] = ['deployment', 'statefulset', 'daemonset', 'deploymentconfig', 'rollout'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** The ChaosEngine (litmuschaos.io/v1alpha1) fields the harness writes and reads. */
export interface ChaosEngine {
  apiVersion: 'litmuschaos.io/v1alpha1';
  kind: 'ChaosEngine';
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: {
    appinfo: { appns: string; applabel: string; appkind: AppKind };
    engineState: 'active' | 'stop';
    annotationCheck: 'true' | 'false';
    chaosServiceAccount: string;
    jobCleanUpPolicy?: 'delete' | 'retain';
    experiments: { name: string; spec: { components: { env: { name: string; value: string }[] } } }[];
  };
}

export interface RenderChaosEngineOptions {
  name: string;
  /** Where the engine, its runner and the helper pods run (the chaos namespace). */
  namespace: string;
  /** Where the target application runs; may differ from `namespace`. */
  appns: string;
  /** "app=hastecrm-api" or the pairs; every experiment's target must equal it. */
  applabel: string | Record<string, string>;
  appkind: AppKind;
  chaosServiceAccount?: string;
  experiments: ExperimentDefinition[];
  engineState?: 'active' | 'stop';
  annotationCheck?: 'true' | 'false';
  jobCleanUpPolicy?: 'delete' | 'retain';
}

/**
 * Renders a ChaosEngine. Every non-empty tunable is written explicitly as a string, so the
 * engine runs the values the plan showed even where a ChaosExperiment's own defaults differ.
 * Throws ConfigError naming each invalid field (names, kinds, non-Litmus experiments, targets).
 */
export function renderChaosEngine(options: RenderChaosEngineOptions): { object: ChaosEngine; yaml: string } {
  const { name, namespace, appns, appkind, chaosServiceAccount = 'litmus-admin', experiments, engineState = 'active', annotationCheck = 'false', jobCleanUpPolicy } = options;
  const issues: ConfigIssue[] = [];
  const selector = typeof options.applabel === 'string' ? parseLabelSelector(options.applabel) : ({ ok: true, labels: options.applabel } as const);
  if (!DNS_SUBDOMAIN.test(name)) issues.push({ path: 'name', given: describeValue(name), expected: 'expected a DNS subdomain (lowercase letters, digits, "-", ".")' });
  if (!DNS_LABEL.test(namespace)) issues.push({ path: 'namespace', given: describeValue(namespace), expected: 'expected a namespace name (DNS label)' });
  if (!DNS_LABEL.test(appns)) issues.push({ path: 'appns', given: describeValue(appns), expected: 'expected a namespace name (DNS label)' });
  if (!APP_KINDS.includes(appkind)) issues.push({ path: 'appkind', given: describeValue(appkind), expected: `expected one of ${APP_KINDS.join(', ')}` });
  if (!DNS_SUBDOMAIN.test(chaosServiceAccount)) issues.push({ path: 'chaosServiceAccount', given: describeValue(chaosServiceAccount), expected: 'expected a service account name' });
  if (!selector.ok) issues.push({ path: 'applabel', given: describeValue(options.applabel), expected: selector.expected });
  const labels = selector.ok ? selector.labels : {};
  if (experiments.length === 0) issues.push({ path: 'experiments', given: '[]', expected: 'expected at least one experiment' });
  experiments.forEach((e, i) => {
    if (!EXPERIMENTS[e.experiment].litmus) {
      issues.push({ path: `experiments.${i}.experiment`, given: describeValue(e.experiment), expected: `${e.experiment} has no Litmus ChaosExperiment; it runs on the local target only` });
    }
    if (selector.ok && formatLabelSelector(e.target) !== formatLabelSelector(labels)) {
      issues.push({ path: `experiments.${i}.target`, given: describeValue(formatLabelSelector(e.target)), expected: `the engine's applabel ${formatLabelSelector(labels)} (render one ChaosEngine per target)` });
    }
  });
  if (issues.length > 0) throw new ConfigError(`ChaosEngine ${name}`, issues);

  const object: ChaosEngine = {
    apiVersion: 'litmuschaos.io/v1alpha1',
    kind: 'ChaosEngine',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'hastecrm-resilience' } },
    spec: {
      appinfo: { appns, applabel: formatLabelSelector(labels), appkind },
      engineState,
      annotationCheck,
      chaosServiceAccount,
      ...(jobCleanUpPolicy ? { jobCleanUpPolicy } : {}),
      experiments: experiments.map((e) => ({ name: e.experiment, spec: { components: { env: tunablesAsEnv(e) } } })),
    },
  };
  return { object, yaml: stringify(object) };
}

/** The merge patch that aborts a running engine (`engineState: stop`); Litmus then reverts its chaos. */
export function renderStopPatch(name: string): { name: string; patchType: 'application/merge-patch+json'; body: { spec: { engineState: 'stop' } } } {
  return { name, patchType: 'application/merge-patch+json', body: { spec: { engineState: 'stop' } } };
}

/** A ChaosEngine read back into typed definitions. */
export interface ImportedChaosEngine {
  name: string;
  namespace: string;
  appns: string;
  applabel: Record<string, string>;
  appkind: AppKind;
  chaosServiceAccount: string;
  engineState: 'active' | 'stop';
  annotationCheck: 'true' | 'false';
  jobCleanUpPolicy?: 'delete' | 'retain';
  /** In the engine's order, which is the order Litmus runs them in. */
  experiments: ExperimentDefinition[];
}

/**
 * Imports one ChaosEngine document. Throws ConfigError listing every problem with its path, e.g.
 * `spec.experiments.0.name: got "pod-dns-chaos"; expected one of …` or an unknown env name.
 */
export function importChaosEngine(yamlText: string, source = 'ChaosEngine'): ImportedChaosEngine {
  const docs = parseAllDocuments(yamlText);
  const parsed: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new ConfigError(source, doc.errors.map((e) => ({ path: '(yaml)', given: 'unparsable YAML', expected: e.message })));
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) parsed.push(value);
  }
  const engines = parsed.filter((d) => isRecord(d) && d.kind === 'ChaosEngine');
  if (engines.length !== 1) throw new ConfigError(source, [{ path: '(root)', given: `${engines.length} ChaosEngine documents`, expected: 'expected exactly one ChaosEngine' }]);
  const doc = engines[0] as Record<string, unknown>;
  const issues: ConfigIssue[] = [];
  const str = (value: unknown, path: string, fallback?: string): string => {
    if (typeof value === 'string' && value !== '') return value;
    if (value === undefined && fallback !== undefined) return fallback;
    issues.push({ path, given: describeValue(value), expected: 'expected a non-empty string' });
    return '';
  };
  if (doc.apiVersion !== 'litmuschaos.io/v1alpha1') issues.push({ path: 'apiVersion', given: describeValue(doc.apiVersion), expected: 'expected litmuschaos.io/v1alpha1' });
  const metadata = isRecord(doc.metadata) ? doc.metadata : {};
  const spec = isRecord(doc.spec) ? doc.spec : {};
  const appinfo = isRecord(spec.appinfo) ? spec.appinfo : {};
  const name = str(metadata.name, 'metadata.name');
  const namespace = str(metadata.namespace, 'metadata.namespace', 'default');
  const appns = str(appinfo.appns, 'spec.appinfo.appns');
  const applabelText = str(appinfo.applabel, 'spec.appinfo.applabel');
  const selector = parseLabelSelector(applabelText);
  if (!selector.ok && applabelText !== '') issues.push({ path: 'spec.appinfo.applabel', given: describeValue(applabelText), expected: selector.expected });
  const applabel = selector.ok ? selector.labels : {};
  const appkind = str(appinfo.appkind, 'spec.appinfo.appkind') as AppKind;
  if (appkind && !APP_KINDS.includes(appkind)) issues.push({ path: 'spec.appinfo.appkind', given: describeValue(appkind), expected: `expected one of ${APP_KINDS.join(', ')}` });
  const engineState = oneOf(spec.engineState, ['active', 'stop'] as const, 'active', 'spec.engineState', issues);
  const annotationCheck = oneOf(spec.annotationCheck, ['true', 'false'] as const, 'true', 'spec.annotationCheck', issues);
  const jobCleanUpPolicy = spec.jobCleanUpPolicy === undefined ? undefined : oneOf(spec.jobCleanUpPolicy, ['delete', 'retain'] as const, 'retain', 'spec.jobCleanUpPolicy', issues);
  const chaosServiceAccount = str(spec.chaosServiceAccount, 'spec.chaosServiceAccount');

  const experiments: ExperimentDefinition[] = [];
  if (!Array.isArray(spec.experiments) || spec.experiments.length === 0) {
    issues.push({ path: 'spec.experiments', given: describeValue(spec.experiments), expected: 'expected a non-empty list of experiments' });
  } else {
    spec.experiments.forEach((entry: unknown, i) => {
      const where = `spec.experiments.${i}`;
      const item = isRecord(entry) ? entry : {};
      const env = readEnv(item, where, issues);
      if (!env) return;
      // checkExperiment names env paths "<where>.env.X"; point them at the YAML's own location.
      const mark = issues.length;
      const definition = checkExperiment(typeof item.name === 'string' ? item.name : describeValue(item.name), applabel, env.values, where, issues);
      for (const issue of issues.slice(mark)) {
        const key = /\.env\.(.+)$/.exec(issue.path)?.[1];
        const index = key === undefined ? undefined : env.index.get(key);
        if (index !== undefined) issue.path = `${where}.spec.components.env.${index} (${key})`;
      }
      if (definition) experiments.push(definition);
    });
  }
  if (issues.length > 0) throw new ConfigError(source, issues);
  return {
    name,
    namespace,
    appns,
    applabel,
    appkind,
    chaosServiceAccount,
    engineState,
    annotationCheck,
    ...(jobCleanUpPolicy ? { jobCleanUpPolicy } : {}),
    experiments,
  };
}

function readEnv(item: Record<string, unknown>, where: string, issues: ConfigIssue[]): { values: RawTunables; index: Map<string, number> } | undefined {
  const spec = isRecord(item.spec) ? item.spec : {};
  const components = isRecord(spec.components) ? spec.components : {};
  const env = components.env ?? [];
  if (!Array.isArray(env)) {
    issues.push({ path: `${where}.spec.components.env`, given: describeValue(env), expected: 'expected a list of { name, value }' });
    return undefined;
  }
  const values: RawTunables = {};
  const index = new Map<string, number>();
  let ok = true;
  env.forEach((e: unknown, j) => {
    const path = `${where}.spec.components.env.${j}`;
    if (!isRecord(e) || typeof e.name !== 'string') {
      issues.push({ path, given: describeValue(e), expected: 'expected { name, value }' });
      ok = false;
    } else if (e.valueFrom !== undefined) {
      issues.push({ path, given: describeValue(e), expected: 'valueFrom is not supported: give the value inline so the plan can show it' });
      ok = false;
    } else if (typeof e.value !== 'string' && typeof e.value !== 'number' && typeof e.value !== 'boolean' && e.value !== undefined) {
      issues.push({ path: `${path}.value`, given: describeValue(e.value), expected: 'expected a string' });
      ok = false;
    } else if (index.has(e.name)) {
      issues.push({ path, given: describeValue(e.name), expected: `${e.name} is set twice (first at env.${index.get(e.name)})` });
      ok = false;
    } else {
      values[e.name] = e.value;
      index.set(e.name, j);
    }
  });
  return ok ? { values, index } : undefined;
}

function oneOf<const T extends readonly string[]>(value: unknown, allowed: T, fallback: T[number], path: string, issues: ConfigIssue[]): T[number] {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && allowed.includes(value)) return value;
  issues.push({ path, given: describeValue(value), expected: `expected one of ${allowed.join(', ')}` });
  return fallback;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One experiment placed on the run's timeline. */
export interface ScheduledExperiment {
  name: string;
  definition: ExperimentDefinition;
  /** From the start of load to the start of the experiment (its RAMP_TIME runs first). */
  startAfterMs: number;
  /** When the fault itself is in place: [faultStartMs, faultStartMs + durationMs). */
  faultStartMs: number;
  durationMs: number;
  /** When the experiment, with its closing RAMP_TIME, is over. */
  endMs: number;
}

/**
 * Places an engine's experiments on a timeline the way the chaos-operator runs them: one after
 * another, each taking RAMP_TIME + TOTAL_CHAOS_DURATION + RAMP_TIME. `startAfterMs` offsets the
 * first; `gapMs` leaves room between experiments (e.g. to see recovery).
 */
export function scheduleSequentially(experiments: readonly ExperimentDefinition[], options: { startAfterMs?: number; gapMs?: number } = {}): ScheduledExperiment[] {
  const counts = new Map<string, number>();
  let cursor = options.startAfterMs ?? 0;
  return experiments.map((definition) => {
    const seen = (counts.get(definition.experiment) ?? 0) + 1;
    counts.set(definition.experiment, seen);
    const env = definition.env as { TOTAL_CHAOS_DURATION: number; RAMP_TIME: number };
    const rampMs = env.RAMP_TIME * 1_000;
    const durationMs = env.TOTAL_CHAOS_DURATION * 1_000;
    const entry: ScheduledExperiment = {
      name: seen === 1 ? definition.experiment : `${definition.experiment}-${seen}`,
      definition,
      startAfterMs: cursor,
      faultStartMs: cursor + rampMs,
      durationMs,
      endMs: cursor + rampMs + durationMs + rampMs,
    };
    cursor = entry.endMs + (options.gapMs ?? 0);
    return entry;
  });
}
