import { Fields, ManifestError, selectManifest, type JsonObject } from './manifest.ts';
import { ArgoExpressionError, parseArgoCondition, type ArgoCondition } from './argo-expr.ts';

/**
 * Argo Rollouts' `AnalysisTemplate` / `ClusterAnalysisTemplate` (argoproj.io/v1alpha1) for the
 * Prometheus provider, and the analysis references of a `Rollout`. Validated as Argo's controller
 * validates an AnalysisRun (utils/analysis ValidateMetrics), plus what the replay needs: every
 * condition parses, every `{{args.x}}` is declared.
 */

export interface ArgoMetric {
  name: string;
  /** Seconds between measurements; undefined: measured once (or retried every 10 s after an error). */
  intervalSeconds?: number;
  initialDelaySeconds: number;
  /** Measurements (errors not counted) after which the metric is Successful; undefined: runs until the analysis stops. */
  count?: number;
  successCondition?: ArgoCondition;
  failureCondition?: ArgoCondition;
  /** Failed measurements tolerated; -1 disables the limit. Default 0. */
  failureLimit: number;
  /** Inconclusive measurements tolerated. Default 0. */
  inconclusiveLimit: number;
  /** Consecutive errors tolerated. Default 4. */
  consecutiveErrorLimit: number;
  /** `provider.prometheus.query`, `{{args.*}}` not yet substituted. */
  query: string;
  /** Listed in `spec.dryRun`: measured and reported, but not part of the analysis's phase. */
  dryRun: boolean;
}

export interface AnalysisTemplateSpec {
  kind: 'AnalysisTemplate' | 'ClusterAnalysisTemplate';
  name: string;
  /** Declared arguments with their default values (undefined when the caller must supply one). */
  args: { name: string; value?: string }[];
  metrics: ArgoMetric[];
}

const API_VERSIONS = ['argoproj.io/v1alpha1'];
/** Argo's default consecutiveErrorLimit. */
export const DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4;
const ARG_REFERENCE = /\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}/g;

/** Parses an (Cluster)AnalysisTemplate from YAML text or an object. Throws ManifestError naming the field. */
export function parseAnalysisTemplate(input: string | JsonObject, options: { name?: string } = {}): AnalysisTemplateSpec {
  const raw = selectManifest(input, { apiVersions: API_VERSIONS, kinds: ['AnalysisTemplate', 'ClusterAnalysisTemplate'], ...options });
  const doc = Fields.of(raw, '');
  const name = doc.object('metadata').string('name');
  const spec = doc.object('spec');
  const args = spec.optionalList('args').map((item, index) => {
    const arg = Fields.of(item, `${spec.field('args')}[${index}]`);
    const value = arg.has('value') ? String(arg.value.value) : undefined;
    return { name: arg.string('name'), ...(value !== undefined ? { value } : {}) };
  });
  const declared = new Set(args.map((arg) => arg.name));
  const dryRun = new Set(
    spec.optionalList('dryRun').map((item, index) => Fields.of(item, `${spec.field('dryRun')}[${index}]`).string('metricName')),
  );
  const metricsList = spec.list('metrics');
  if (metricsList.length === 0) throw new ManifestError(spec.field('metrics'), 'must list at least one metric');
  const metrics = metricsList.map((item, index) => parseMetric(Fields.of(item, `${spec.field('metrics')}[${index}]`), declared, dryRun));
  const names = new Set<string>();
  metrics.forEach((metric, index) => {
    if (names.has(metric.name)) throw new ManifestError(`spec.metrics[${index}].name`, `${JSON.stringify(metric.name)} is listed twice`);
    names.add(metric.name);
  });
  for (const metricName of dryRun) {
    if (metricName !== '*' && !names.has(metricName)) throw new ManifestError('spec.dryRun', `names metric ${JSON.stringify(metricName)}, which the template does not define`);
  }
  return { kind: raw.kind === 'ClusterAnalysisTemplate' ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate', name, args, metrics };
}

function parseMetric(metric: Fields, declaredArgs: ReadonlySet<string>, dryRun: ReadonlySet<string>): ArgoMetric {
  const name = metric.string('name');
  const intervalSeconds = metric.optionalDuration('interval');
  if (intervalSeconds !== undefined && intervalSeconds <= 0) throw new ManifestError(metric.field('interval'), 'must be longer than 0s');
  const countValue = metric.optionalInteger('count', 0, Number.MAX_SAFE_INTEGER, true);
  const count = countValue === undefined || countValue === 0 ? (intervalSeconds === undefined ? 1 : undefined) : countValue;
  if (count !== undefined && count > 1 && intervalSeconds === undefined) throw new ManifestError(metric.field('interval'), 'is required when count is greater than 1');
  const failureLimit = metric.optionalInteger('failureLimit', -1, Number.MAX_SAFE_INTEGER, true) ?? 0;
  const inconclusiveLimit = metric.optionalInteger('inconclusiveLimit', 0, Number.MAX_SAFE_INTEGER, true) ?? 0;
  const consecutiveErrorLimit = metric.optionalInteger('consecutiveErrorLimit', 0, Number.MAX_SAFE_INTEGER, true) ?? DEFAULT_CONSECUTIVE_ERROR_LIMIT;
  if (count !== undefined && count < failureLimit) throw new ManifestError(metric.field('count'), `must be at least failureLimit (${failureLimit}), got ${count}`);
  if (count !== undefined && count < inconclusiveLimit) throw new ManifestError(metric.field('count'), `must be at least inconclusiveLimit (${inconclusiveLimit}), got ${count}`);
  if (metric.has('consecutiveSuccessLimit') && metric.value.consecutiveSuccessLimit !== 0) {
    throw new ManifestError(metric.field('consecutiveSuccessLimit'), 'is not supported by the replay');
  }
  const provider = metric.object('provider');
  const others = Object.keys(provider.value).filter((key) => key !== 'prometheus');
  if (!provider.has('prometheus')) {
    throw new ManifestError(provider.field(others[0] ?? 'prometheus'), `only the prometheus provider can be replayed from Prometheus, got ${others.join(', ') || 'none'}`);
  }
  const query = provider.object('prometheus').string('query');
  for (const match of query.matchAll(ARG_REFERENCE)) {
    if (!declaredArgs.has(match[1] ?? '')) throw new ManifestError(`${provider.field('prometheus')}.query`, `uses {{args.${match[1]}}}, which spec.args does not declare`);
  }
  const successCondition = condition(metric, 'successCondition');
  const failureCondition = condition(metric, 'failureCondition');
  return {
    name,
    ...(intervalSeconds !== undefined ? { intervalSeconds } : {}),
    initialDelaySeconds: metric.optionalDuration('initialDelay') ?? 0,
    ...(count !== undefined ? { count } : {}),
    ...(successCondition ? { successCondition } : {}),
    ...(failureCondition ? { failureCondition } : {}),
    failureLimit,
    inconclusiveLimit,
    consecutiveErrorLimit,
    query,
    dryRun: dryRun.has(name) || dryRun.has('*'),
  };
}

function condition(metric: Fields, key: 'successCondition' | 'failureCondition'): ArgoCondition | undefined {
  const text = metric.optionalString(key);
  if (text === undefined) return undefined;
  try {
    return parseArgoCondition(text);
  } catch (error) {
    if (error instanceof ArgoExpressionError) throw new ManifestError(metric.field(key), error.message);
    throw error;
  }
}

/**
 * The query of each metric with `{{args.name}}` substituted: `values` (e.g. from the Rollout)
 * override the template's defaults. Throws ManifestError for an argument without a value or a
 * value for an argument the template does not declare.
 */
export function resolveArgs(template: AnalysisTemplateSpec, values: Readonly<Record<string, string>> = {}): Map<string, string> {
  const declared = new Map(template.args.map((arg) => [arg.name, arg.value]));
  for (const name of Object.keys(values)) {
    if (!declared.has(name)) throw new ManifestError('args', `${name} is not an argument of ${template.name} (it declares ${[...declared.keys()].join(', ') || 'none'})`);
  }
  const resolved = new Map<string, string>();
  for (const metric of template.metrics) {
    resolved.set(
      metric.name,
      metric.query.replace(ARG_REFERENCE, (_whole, name: string) => {
        const value = values[name] ?? declared.get(name);
        if (value === undefined) throw new ManifestError(`args.${name}`, `has no value: the template declares it without a default, so the replay needs it (as the Rollout's analysis args would give it)`);
        return value;
      }),
    );
  }
  return resolved;
}

export interface RolloutAnalysisRef {
  /** Where the Rollout runs it. */
  when: 'prePromotionAnalysis' | 'postPromotionAnalysis' | 'background';
  templateNames: string[];
  /** Arguments with a literal value (valueFrom ones are resolved by Argo from the cluster and left out). */
  args: Record<string, string>;
}

/** The analyses a `Rollout` runs: blueGreen pre/post-promotion and canary background analysis. */
export function analysisRefsFromRollout(input: string | JsonObject, options: { name?: string } = {}): RolloutAnalysisRef[] {
  const doc = Fields.of(selectManifest(input, { apiVersions: API_VERSIONS, kinds: ['Rollout'], ...options }), '');
  const strategy = doc.object('spec').object('strategy');
  const refs: RolloutAnalysisRef[] = [];
  const read = (owner: Fields | undefined, key: string, when: RolloutAnalysisRef['when']): void => {
    const analysis = owner?.optionalObject(key);
    if (!analysis) return;
    const templateNames = analysis.list('templates').map((item, index) => Fields.of(item, `${analysis.field('templates')}[${index}]`).string('templateName'));
    const args: Record<string, string> = {};
    analysis.optionalList('args').forEach((item, index) => {
      const arg = Fields.of(item, `${analysis.field('args')}[${index}]`);
      if (arg.has('value')) args[arg.string('name')] = String(arg.value.value);
    });
    refs.push({ when, templateNames, args });
  };
  const blueGreen = strategy.optionalObject('blueGreen');
  read(blueGreen, 'prePromotionAnalysis', 'prePromotionAnalysis');
  read(blueGreen, 'postPromotionAnalysis', 'postPromotionAnalysis');
  read(strategy.optionalObject('canary'), 'analysis', 'background');
  return refs;
}
