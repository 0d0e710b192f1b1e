import { Fields, ManifestError, describe, selectManifest, type JsonObject } from './manifest.ts';
import { parseGoDuration } from './duration.ts';

/**
 * A Flagger `Canary` (flagger.app/v1beta1) reduced to what decides its analysis: the schedule,
 * the strategy, the metric checks. Parsed strictly: where Flagger silently falls back to a
 * default (an unparsable interval becomes 60 s) or silently never checks something (a metric
 * that is neither built-in nor has a query), the parser refuses with the field's name, because a
 * replay of a canary that does not do what its author thinks would answer the wrong question.
 */

/** Flagger's two built-in metrics, whose queries come from the mesh provider (here: the local ingress). */
export const BUILTIN_METRICS = ['request-success-rate', 'request-duration'] as const;
export type BuiltinMetric = (typeof BUILTIN_METRICS)[number];

export interface ThresholdRange {
  min?: number;
  max?: number;
}

export type FlaggerMetricSource =
  | { kind: 'builtin'; metric: BuiltinMetric }
  /** Inline PromQL (`metrics[].query`, deprecated in v1beta1 but still run by Flagger). */
  | { kind: 'query'; query: string }
  /** A `MetricTemplate` referenced by `templateRef`; its query is supplied to the replay. */
  | { kind: 'template'; name: string; namespace: string };

export interface FlaggerMetric {
  name: string;
  /** The metric's window as written ("30s"), which Flagger substitutes for `{{ interval }}`; Flagger's default is "1m". */
  interval: string;
  intervalSeconds: number;
  thresholdRange: ThresholdRange;
  source: FlaggerMetricSource;
}

/**
 * How traffic moves, in Flagger's order of precedence: `iterations` with `match` is A/B testing,
 * `iterations` alone is blue/green, otherwise progressive weights (stepWeight or stepWeights up to maxWeight).
 */
export type FlaggerStrategy =
  | { kind: 'canary'; stepWeight: number; stepWeights: readonly number[]; maxWeight: number }
  | { kind: 'blue-green'; iterations: number }
  | { kind: 'ab-testing'; iterations: number };

export interface FlaggerCanarySpec {
  name: string;
  namespace: string;
  /** `spec.targetRef.name`: Flagger's `{{ target }}`. */
  target: string;
  /** `spec.service.name`, else the target: Flagger's `{{ service }}`. */
  service: string;
  /** `spec.ingressRef.name`, else the target: Flagger's `{{ ingress }}`. */
  ingress: string;
  analysis: {
    /** As written; Flagger runs the analysis at max(interval, 10 s). */
    intervalSeconds: number;
    /** Failed checks (not necessarily consecutive) that make Flagger roll back. */
    threshold: number;
    strategy: FlaggerStrategy;
    metrics: FlaggerMetric[];
    /** Webhooks run during the analysis (type rollout, the default): their outcome is not replayed. */
    rolloutWebhooks: string[];
  };
  /** `spec.skipAnalysis`: Flagger promotes without checking anything. */
  skipAnalysis: boolean;
}

const API_VERSIONS = ['flagger.app/v1beta1'];
const TEMPLATE_VARIABLES = new Set(['name', 'namespace', 'target', 'service', 'ingress', 'interval']);

/**
 * Parses a Canary from YAML text (the document of kind Canary in a multi-document file; pass
 * `name` when there are several) or from a parsed object. Throws ManifestError naming the field.
 */
export function parseFlaggerCanary(input: string | JsonObject, options: { name?: string } = {}): FlaggerCanarySpec {
  const doc = Fields.of(selectManifest(input, { apiVersions: API_VERSIONS, kinds: ['Canary'], ...options }), '');
  const metadata = doc.object('metadata');
  const name = metadata.string('name');
  const namespace = metadata.optionalString('namespace') ?? 'default';
  const spec = doc.object('spec');
  const target = spec.object('targetRef').string('name');
  const service = spec.optionalObject('service')?.optionalString('name') ?? target;
  const ingress = spec.optionalObject('ingressRef')?.optionalString('name') ?? target;
  if (spec.has('analysis') && spec.has('canaryAnalysis')) {
    throw new ManifestError('spec.canaryAnalysis', 'is the deprecated name of spec.analysis; set only one of them');
  }
  const analysis = spec.has('canaryAnalysis') ? spec.object('canaryAnalysis') : spec.object('analysis');

  const intervalSeconds = analysis.duration('interval');
  if (intervalSeconds <= 0) throw new ManifestError(analysis.field('interval'), 'must be longer than 0s');
  const threshold = analysis.integer('threshold', 1);
  const strategy = parseStrategy(analysis, spec.optionalString('provider'));
  const metricsList = analysis.optionalList('metrics');
  const metrics = metricsList.map((item, index) => parseMetric(Fields.of(item, `${analysis.field('metrics')}[${index}]`), namespace));
  const seen = new Set<string>();
  metrics.forEach((metric, index) => {
    if (seen.has(metric.name)) throw new ManifestError(`${analysis.field('metrics')}[${index}].name`, `${JSON.stringify(metric.name)} is listed twice`);
    seen.add(metric.name);
  });
  const rolloutWebhooks = analysis.optionalList('webhooks').flatMap((item, index) => {
    const hook = Fields.of(item, `${analysis.field('webhooks')}[${index}]`);
    const type = hook.optionalString('type') ?? 'rollout';
    return type === 'rollout' ? [hook.string('name')] : [];
  });
  const skipAnalysis = spec.has('skipAnalysis') ? spec.value.skipAnalysis === true : false;
  return { name, namespace, target, service, ingress, analysis: { intervalSeconds, threshold, strategy, metrics, rolloutWebhooks }, skipAnalysis };
}

function parseStrategy(analysis: Fields, provider: string | undefined): FlaggerStrategy {
  const iterations = analysis.optionalInteger('iterations', 0);
  if (provider === 'kubernetes') {
    // Flagger cannot shift traffic without a mesh or ingress: it drops `match` and runs blue/green,
    // with 10 iterations when none are set (scheduler.go, "Progressive traffic is not supported").
    return { kind: 'blue-green', iterations: iterations !== undefined && iterations > 0 ? iterations : 10 };
  }
  if (iterations !== undefined && iterations > 0) {
    return analysis.optionalList('match').length > 0 ? { kind: 'ab-testing', iterations } : { kind: 'blue-green', iterations };
  }
  const stepWeight = analysis.optionalInteger('stepWeight', 0, 100) ?? 0;
  const stepWeights = analysis.optionalList('stepWeights').map((value, index) => {
    const field = `${analysis.field('stepWeights')}[${index}]`;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 100) throw new ManifestError(field, `must be an integer between 1 and 100, got ${describe(value)}`);
    return value;
  });
  stepWeights.forEach((weight, index) => {
    if (index > 0 && weight <= (stepWeights[index - 1] ?? 0)) throw new ManifestError(`${analysis.field('stepWeights')}[${index}]`, `must be greater than the previous step (${stepWeights[index - 1]}), got ${weight}`);
  });
  if (stepWeight === 0 && stepWeights.length === 0) {
    throw new ManifestError(analysis.field('stepWeight'), 'is required (or stepWeights, or iterations): without a step Flagger never shifts traffic and never promotes');
  }
  const lastStep = stepWeights.at(-1);
  // Flagger's maxWeight(): the last of stepWeights (capped at 100) when they are set, else maxWeight, else 100.
  const maxWeight = stepWeight === 0 && lastStep !== undefined ? Math.min(100, lastStep) : (analysis.optionalInteger('maxWeight', 1, 100) ?? 100);
  return { kind: 'canary', stepWeight, stepWeights, maxWeight };
}

function parseMetric(metric: Fields, namespace: string): FlaggerMetric {
  const name = metric.string('name');
  const interval = metric.optionalString('interval') ?? '1m';
  const intervalSeconds = parseGoDuration(interval);
  if (intervalSeconds === undefined || intervalSeconds <= 0) {
    throw new ManifestError(metric.field('interval'), `must be a duration like "30s" or "1m", got ${JSON.stringify(interval)}`);
  }
  const builtin = (BUILTIN_METRICS as readonly string[]).includes(name) ? (name as BuiltinMetric) : undefined;
  const query = metric.optionalString('query');
  const templateRef = metric.optionalObject('templateRef');
  if (builtin && (query !== undefined || templateRef)) {
    throw new ManifestError(metric.field(query !== undefined ? 'query' : 'templateRef'), `${name} is a built-in metric; Flagger would run both the built-in check and this one: rename the metric`);
  }
  if (query !== undefined && templateRef) throw new ManifestError(metric.field('query'), 'set either query or templateRef, not both');
  let source: FlaggerMetricSource;
  if (builtin) source = { kind: 'builtin', metric: builtin };
  else if (templateRef) source = { kind: 'template', name: templateRef.string('name'), namespace: templateRef.optionalString('namespace') ?? namespace };
  else if (query !== undefined) {
    checkTemplateVariables(query, metric.field('query'));
    source = { kind: 'query', query };
  } else {
    throw new ManifestError(
      metric.field('name'),
      `${JSON.stringify(name)} is not a built-in metric (${BUILTIN_METRICS.join(', ')}) and has neither templateRef nor query, so Flagger would never check it`,
    );
  }
  return { name, interval, intervalSeconds, thresholdRange: parseThresholdRange(metric, builtin), source };
}

/**
 * `thresholdRange` {min?, max?}; or the deprecated `threshold`, which Flagger reads as a minimum
 * for request-success-rate and a maximum for everything else.
 */
function parseThresholdRange(metric: Fields, builtin: BuiltinMetric | undefined): ThresholdRange {
  const range = metric.optionalObject('thresholdRange');
  if (range) {
    const min = range.optionalNumber('min');
    const max = range.optionalNumber('max');
    if (min === undefined && max === undefined) throw new ManifestError(metric.field('thresholdRange'), 'needs min, max or both');
    if (min !== undefined && max !== undefined && min > max) throw new ManifestError(metric.field('thresholdRange'), `min (${min}) is greater than max (${max}): no value could pass`);
    return { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
  }
  const threshold = metric.optionalNumber('threshold');
  if (threshold === undefined) throw new ManifestError(metric.field('thresholdRange'), 'is required: a metric without a range is never judged as Flagger intends');
  return builtin === 'request-success-rate' ? { min: threshold } : { max: threshold };
}

/** Flagger renders queries with `{{ name }}`, `{{ namespace }}`, `{{ target }}`, `{{ service }}`, `{{ ingress }}`, `{{ interval }}`. */
export function checkTemplateVariables(query: string, field: string): void {
  for (const match of query.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    const variable = match[1] ?? '';
    if (!TEMPLATE_VARIABLES.has(variable)) {
      throw new ManifestError(field, `unknown template variable {{ ${variable} }}; Flagger knows ${[...TEMPLATE_VARIABLES].map((v) => `{{ ${v} }}`).join(', ')}`);
    }
  }
}

/** Substitutes Flagger's template variables for one metric, as Flagger's RenderQuery does. */
export function renderFlaggerQuery(query: string, canary: FlaggerCanarySpec, metric: FlaggerMetric): string {
  const values: Record<string, string> = {
    name: canary.name,
    namespace: canary.namespace,
    target: canary.target,
    service: canary.service,
    ingress: canary.ingress,
    interval: metric.interval,
  };
  return query.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (whole, variable: string) => values[variable] ?? whole);
}
