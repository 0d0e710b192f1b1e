import { Document } from 'yaml';
import type { AlertSlo, LatencySlo, QuerySlo, RatioSlo, SloDefinition } from './types.ts';
import { WINDOW_PLACEHOLDER, counterIncrease, renderAlertQueries, thresholdText } from './promql.ts';
import { checkSloQueries, parseSelector, queryResultType } from './query-check.ts';

/**
 * One SLO spec, other tools' formats: the harness, the canary (Flagger), chaos experiments
 * (Litmus), load tests (k6) and production alerting (Prometheus rules) judge by the same numbers.
 *
 * Every format fails closed where the tool allows it. The PromQL formats gate each value on the
 * SLO's sample count (`value and on () (samples >= minSamples)`), so "too few requests" and
 * "no data" give an empty result, which Flagger treats as a failed check ("no values found") and
 * Litmus as a failed probe, instead of a number that happens to pass. k6 thresholds pass when a
 * metric has no samples at all, so each exported threshold comes with a request-count threshold.
 *
 * What a format cannot express is left out and listed (`skipped` in JSON, a comment in YAML),
 * never approximated silently. Pure: the same SLOs and options give the same text.
 */

export type ExportFormat = 'k6-thresholds' | 'prometheus-rules' | 'flagger-metric-template' | 'litmus-promprobe';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['k6-thresholds', 'prometheus-rules', 'flagger-metric-template', 'litmus-promprobe'];

export type LitmusProbeMode = 'SOT' | 'EOT' | 'Edge' | 'Continuous' | 'OnChaos';

export interface ExportOptions {
  /** Prometheus as the tool reaches it: Flagger's `provider.address`, Litmus's `endpoint`. Default `http://prometheus.monitoring:9090`. */
  prometheusUrl?: string;
  k6?: {
    /** For `critical` SLOs (exported with abortOnFail): how long k6 waits before judging. Default `10s`. */
    delayAbortEval?: string;
  };
  rules?: {
    /** Range of the recording rules. Default `5m`. */
    window?: string;
    /** How long an objective must be violated before the alert fires. Default `5m`, as the seed's alerts. */
    alertFor?: string;
    /** Default `hastecrm-slos`. */
    groupName?: string;
  };
  flagger?: {
    /** `interval` of each analysis metric, the range `{{ interval }}` stands for. Default `1m`. */
    interval?: string;
    /** Namespace of the MetricTemplates; default none (the Canary's namespace). */
    namespace?: string;
    /**
     * Label matchers added to ratio and latency selectors so that only the canary's pods count.
     * Default `namespace="{{ namespace }}",pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"`
     * (Kubernetes service discovery labels; the regex matches the canary Deployment's pods, not
     * `<target>-primary-…`). Empty string: add none.
     */
    workloadMatchers?: string;
  };
  litmus?: {
    /** Range of each probe's query. Default `1m`. */
    window?: string;
    /** Default: from the SLO's phases (baseline → SOT, recovery → EOT, both → Edge, experiment only → OnChaos, otherwise Continuous). */
    mode?: LitmusProbeMode;
    /** Default `10s`. */
    probeTimeout?: string;
    /** Time between retries. Default `5s`. */
    interval?: string;
    /** Continuous and OnChaos probes: time between checks. Default `5s`. */
    probePollingInterval?: string;
  };
}

/** The SLOs are not valid (the message lists the problems, as `resilience plan` does), or an option is malformed. */
export class SloExportError extends Error {
  override name = 'SloExportError';
}

/**
 * Renders `slos` in `format`. Throws SloExportError when an SLO fails the offline query check or an
 * option is malformed; SLOs the format cannot express are listed as skipped.
 */
export function exportSlos(slos: readonly SloDefinition[], format: ExportFormat, options: ExportOptions = {}): string {
  const problems = checkSloQueries(slos);
  if (problems.length > 0) throw new SloExportError(`cannot export invalid SLOs:\n${problems.map((p) => `  ✖ ${p.message}`).join('\n')}`);
  switch (format) {
    case 'k6-thresholds':
      return exportK6Thresholds(slos, options.k6 ?? {});
    case 'prometheus-rules':
      return exportPrometheusRules(slos, options.rules ?? {});
    case 'flagger-metric-template':
      return exportFlagger(slos, options.prometheusUrl ?? DEFAULT_PROMETHEUS_URL, options.flagger ?? {});
    case 'litmus-promprobe':
      return exportLitmus(slos, options.prometheusUrl ?? DEFAULT_PROMETHEUS_URL, options.litmus ?? {});
    default:
      throw new SloExportError(`unknown export format ${JSON.stringify(format)}; one of ${EXPORT_FORMATS.join(', ')}`);
  }
}

const DEFAULT_PROMETHEUS_URL = 'http://prometheus.monitoring:9090';
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+$/;

interface Skipped {
  slo: string;
  reason: string;
}

const WARNING_ONLY = 'severity warning is reported, never fails a run, and this tool has no non-failing check';

function requireDuration(value: string, option: string): string {
  if (!DURATION.test(value)) throw new SloExportError(`${option} must be a Prometheus duration such as 5m, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * The SLO's value over range `w`, in the SLO's own unit (ratio 0..1, milliseconds, the raw value,
 * a number of alerts), gated on its sample count: empty when there are fewer than minSamples.
 */
function gatedValue(slo: SloDefinition, w: string, selector: (s: string) => string = (s) => s): string {
  const { value, samples } = windowedQueries(slo, w, selector);
  return `(${value}) and on () (${samples} >= ${slo.minSamples})`;
}

/** Value and samples queries over range `w` (a duration or a template variable), selectors transformed by `selector`. */
function windowedQueries(slo: SloDefinition, w: string, selector: (s: string) => string = (s) => s): { value: string; samples: string } {
  switch (slo.kind) {
    case 'ratio': {
      const total = counterIncrease(selector(slo.total), w);
      return { value: `${counterIncrease(selector(slo.good), w)} / ${total}`, samples: total };
    }
    case 'latency': {
      const series = (suffix: string): string => selector(slo.matchers?.trim() ? `${slo.histogram}${suffix}{${slo.matchers}}` : `${slo.histogram}${suffix}`);
      return {
        value: `histogram_quantile(${slo.quantile}, ${counterIncrease(series('_bucket'), w, 'le')}) * 1000`,
        samples: counterIncrease(series('_count'), w),
      };
    }
    case 'query': {
      // A number cannot be combined with `and on ()` or compared without `bool`: make it a vector.
      const asVector = (expr: string): string => (queryResultType(expr) === 'scalar' ? `vector(${expr})` : expr);
      return { value: asVector(slo.expr).split(WINDOW_PLACEHOLDER).join(w), samples: asVector(slo.samples).split(WINDOW_PLACEHOLDER).join(w) };
    }
    case 'alert': {
      const queries = renderAlertQueries(slo, w);
      return { value: queries.value, samples: queries.samples };
    }
  }
}

/** The comparison that holds while the SLO is met. */
function objective(slo: RatioSlo | LatencySlo | QuerySlo | AlertSlo): { op: '<' | '<=' | '>' | '>=' | '=='; bound: number } {
  switch (slo.kind) {
    case 'ratio':
      return { op: '>=', bound: slo.objective };
    case 'latency':
      return { op: '<', bound: slo.thresholdMs };
    case 'query':
      return { op: slo.op, bound: slo.bound };
    case 'alert':
      return { op: '==', bound: 0 };
  }
}

function yamlWithComment(value: unknown, comment: string): string {
  // Repeated objects (the same labels on two rules) are written out, not as YAML aliases: tools read these files too.
  const document = new Document(value, { aliasDuplicateObjects: false });
  document.commentBefore = comment
    .split('\n')
    .map((line) => (line === '' ? '' : ` ${line}`))
    .join('\n');
  return document.toString({ lineWidth: 0 });
}

function skippedLines(skipped: readonly Skipped[]): string[] {
  return skipped.map((s) => `skipped ${s.slo}: ${s.reason}`);
}

/** `api-server-success-ratio` → `api_server_success_ratio` (a metric name part). */
function snake(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** `api-server-success-ratio` → `ApiServerSuccessRatio` (an alert name part). */
function pascal(name: string): string {
  return name
    .split(/[^a-zA-Z0-9]+/)
    .filter((part) => part !== '')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** 1 − 0.99 is 0.010000000000000009 in binary floating point; thresholds are written as people wrote them. */
function decimal(value: number): number {
  return Number(value.toPrecision(12));
}

function quantilePercent(quantile: number): number {
  return decimal(quantile * 100);
}

// ---- k6 ----------------------------------------------------------------------------------------

type K6Threshold = string | { threshold: string; abortOnFail: true; delayAbortEval: string };

/** Labels Prometheus adds when scraping; k6 has no such tags. */
const SCRAPE_LABELS = new Set(['job', 'instance']);

/**
 * k6 `options.thresholds` for the client-side SLOs on k6's own metrics: a ratio of
 * `k6_http_reqs_total{expected_response="true"}` to `k6_http_reqs_total` becomes `http_req_failed`
 * (`rate<=1-objective`), a latency quantile of `k6_http_req_duration_seconds` becomes
 * `http_req_duration` (`p(95)<500`, milliseconds), equality matchers become sub-metric tags.
 * `critical` SLOs abort the test (abortOnFail), as they abort a harness run.
 */
function exportK6Thresholds(slos: readonly SloDefinition[], options: NonNullable<ExportOptions['k6']>): string {
  const delayAbortEval = requireDuration(options.delayAbortEval ?? '10s', 'k6.delayAbortEval');
  const thresholds: Record<string, K6Threshold[]> = {};
  const skipped: Skipped[] = [];
  const add = (metric: string, threshold: K6Threshold): void => {
    const list = (thresholds[metric] ??= []);
    if (!list.some((existing) => JSON.stringify(existing) === JSON.stringify(threshold))) list.push(threshold);
  };
  for (const slo of slos) {
    if (slo.side !== 'client') {
      skipped.push({ slo: slo.name, reason: 'server-side: k6 measures only what its requests see' });
      continue;
    }
    if (slo.severity === 'warning') {
      skipped.push({ slo: slo.name, reason: WARNING_ONLY });
      continue;
    }
    const mapped = k6Mapping(slo);
    if (typeof mapped === 'string') {
      skipped.push({ slo: slo.name, reason: mapped });
      continue;
    }
    const expression = mapped.expression;
    add(`${mapped.metric}${mapped.tags}`, slo.severity === 'critical' ? { threshold: expression, abortOnFail: true, delayAbortEval } : expression);
    // A threshold over a metric without samples is not evaluated, i.e. passes: require the requests.
    add(`http_reqs${mapped.tags}`, `count>=${slo.minSamples}`);
  }
  return `${JSON.stringify({ thresholds, skipped }, null, 2)}\n`;
}

/** The k6 metric, sub-metric tags and threshold expression for a client-side SLO, or why there is none. */
function k6Mapping(slo: SloDefinition): { metric: string; tags: string; expression: string } | string {
  switch (slo.kind) {
    case 'ratio': {
      const good = parseSelector(slo.good);
      const total = parseSelector(slo.total);
      if (good?.metric !== 'k6_http_reqs_total' || total?.metric !== 'k6_http_reqs_total') return 'only ratios of k6_http_reqs_total map to k6 (http_req_failed)';
      const totalKeys = new Set(total.matchers.map((m) => m.text));
      const extra = good.matchers.filter((m) => !totalKeys.has(m.text));
      const sameOtherwise = total.matchers.every((m) => good.matchers.some((g) => g.text === m.text));
      if (!sameOtherwise || extra.length !== 1 || extra[0]?.label !== 'expected_response' || extra[0].op !== '=' || extra[0].value !== 'true') {
        return 'only good = total{expected_response="true"} maps to k6 (http_req_failed)';
      }
      const tags = k6Tags(total.matchers);
      if (tags === undefined) return 'only equality matchers with plain values map to k6 sub-metric tags';
      return { metric: 'http_req_failed', tags, expression: `rate<=${decimal(1 - slo.objective)}` };
    }
    case 'latency': {
      if (slo.histogram !== 'k6_http_req_duration_seconds') return 'only k6_http_req_duration_seconds maps to k6 (http_req_duration)';
      const parsed = parseSelector(`${slo.histogram}{${slo.matchers ?? ''}}`);
      const tags = parsed === undefined ? undefined : k6Tags(parsed.matchers);
      if (tags === undefined) return 'only equality matchers with plain values map to k6 sub-metric tags';
      return { metric: 'http_req_duration', tags, expression: `p(${quantilePercent(slo.quantile)})<${slo.thresholdMs}` };
    }
    case 'query':
      return 'a PromQL query has no k6 equivalent';
    case 'alert':
      return 'alerts are judged by Prometheus, not by k6';
  }
}

/** `{scenario:web,method:GET}` from equality matchers; scrape labels are left out. Undefined when a matcher cannot be a tag. */
function k6Tags(matchers: NonNullable<ReturnType<typeof parseSelector>>['matchers']): string | undefined {
  const tags: string[] = [];
  for (const matcher of matchers) {
    if (SCRAPE_LABELS.has(matcher.label)) continue;
    if (matcher.op !== '=' || /[,{}:]/.test(matcher.value) || matcher.value.trim() !== matcher.value) return undefined;
    tags.push(`${matcher.label}:${matcher.value}`);
  }
  return tags.length === 0 ? '' : `{${tags.join(',')}}`;
}

// ---- Prometheus rules ----------------------------------------------------------------------------

/**
 * A Prometheus rule file: per SLO, recording rules for its value and sample count over the window,
 * and an alert when the objective is violated with enough samples, labelled with the SLO's
 * severity. Client-side SLOs (the load driver's metrics do not exist in production) and alert SLOs
 * (production pages on those alerts themselves) are skipped.
 */
function exportPrometheusRules(slos: readonly SloDefinition[], options: NonNullable<ExportOptions['rules']>): string {
  const window = requireDuration(options.window ?? '5m', 'rules.window');
  const alertFor = requireDuration(options.alertFor ?? '5m', 'rules.alertFor');
  const skipped: Skipped[] = [];
  const rules: Record<string, unknown>[] = [];
  for (const slo of slos) {
    if (slo.side === 'client') {
      skipped.push({ slo: slo.name, reason: 'client-side: the load driver’s metrics do not exist in production' });
      continue;
    }
    if (slo.kind === 'alert') {
      skipped.push({ slo: slo.name, reason: 'production alerting pages on those alerts themselves' });
      continue;
    }
    const { value, samples } = windowedQueries(slo, window);
    const valueName = slo.kind === 'ratio' ? 'ratio' : slo.kind === 'latency' ? `p${snake(String(quantilePercent(slo.quantile)))}_ms` : 'value';
    const valueRecord = `slo:${snake(slo.name)}:${valueName}_${window}`;
    const samplesRecord = `slo:${snake(slo.name)}:samples_${window}`;
    const labels = { slo: slo.name };
    const { op, bound } = objective(slo);
    rules.push(
      { record: valueRecord, expr: value, labels },
      { record: samplesRecord, expr: samples, labels },
      {
        alert: `${pascal(slo.name)}SLOViolated`,
        expr: `${valueRecord} ${VIOLATION[op]} ${bound} and on () ${samplesRecord} >= ${slo.minSamples}`,
        for: alertFor,
        labels: { severity: slo.severity, slo: slo.name },
        annotations: {
          summary: `SLO ${slo.name} violated: ${thresholdText(slo)} not met over ${window}`,
          description: `${slo.description ? `${slo.description} ` : ''}Value {{ $value }} over the last ${window}; objective ${thresholdText(slo)}.`,
        },
      },
    );
  }
  const header = [
    'Generated from the harness SLOs (slo/export.ts, format prometheus-rules): the same objectives the',
    'harness judges each run by. Check with `promtool check rules`.',
    ...skippedLines(skipped),
  ].join('\n');
  return yamlWithComment({ groups: [{ name: options.groupName ?? 'hastecrm-slos', rules }] }, header);
}

/** The comparison that is true while the objective is violated. */
const VIOLATION = { '<': '>=', '<=': '>', '>': '<=', '>=': '<', '==': '!=' } as const;

// ---- Flagger -------------------------------------------------------------------------------------

const DEFAULT_WORKLOAD_MATCHERS = 'namespace="{{ namespace }}",pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"';

/**
 * Flagger MetricTemplates (provider prometheus, range `{{ interval }}`) and the Canary's
 * `analysis.metrics` entries referencing them, with thresholdRange from the SLO. Ratios are
 * exported in percent, as Flagger's own request-success-rate (the seed's `min: 99`). The last YAML
 * document is not a Kubernetes object: it is the `analysis.metrics` list to merge into the Canary.
 * Client-side SLOs are skipped: the canary is judged on what its own pods report.
 */
function exportFlagger(slos: readonly SloDefinition[], prometheusUrl: string, options: NonNullable<ExportOptions['flagger']>): string {
  const interval = requireDuration(options.interval ?? '1m', 'flagger.interval');
  const workload = options.workloadMatchers ?? DEFAULT_WORKLOAD_MATCHERS;
  const skipped: Skipped[] = [];
  const templates: string[] = [];
  const metrics: Record<string, unknown>[] = [];
  for (const slo of slos) {
    if (slo.side === 'client') {
      skipped.push({ slo: slo.name, reason: 'client-side: the canary is judged on its own pods’ metrics' });
      continue;
    }
    if (slo.severity === 'warning') {
      skipped.push({ slo: slo.name, reason: WARNING_ONLY });
      continue;
    }
    const selector = (text: string): string => (workload.trim() === '' ? text : addMatchers(text, workload));
    const gated = gatedValue(slo, '{{ interval }}', slo.kind === 'ratio' || slo.kind === 'latency' ? selector : undefined);
    const query = slo.kind === 'ratio' ? `100 * (${gated})` : gated;
    const { op, bound } = objective(slo);
    // Flagger's range is inclusive: `<` is exported as max (a value exactly at the bound passes there).
    const range = slo.kind === 'ratio' ? { min: decimal(bound * 100) } : op === '>' || op === '>=' ? { min: bound } : { max: bound };
    const metadata = options.namespace === undefined ? { name: slo.name } : { name: slo.name, namespace: options.namespace };
    templates.push(
      yamlWithComment(
        { apiVersion: 'flagger.app/v1beta1', kind: 'MetricTemplate', metadata, spec: { provider: { type: 'prometheus', address: prometheusUrl }, query: `${query}\n` } },
        `${slo.name}: ${thresholdText(slo)}${slo.kind === 'ratio' ? ' (in percent here, as Flagger’s request-success-rate)' : ''}`,
      ),
    );
    metrics.push({ name: slo.name, templateRef: options.namespace === undefined ? { name: slo.name } : { name: slo.name, namespace: options.namespace }, thresholdRange: range, interval });
  }
  const analysis = yamlWithComment(
    { analysis: { metrics } },
    ['Not a Kubernetes object: merge into the Canary as spec.analysis.metrics.', ...skippedLines(skipped)].join('\n'),
  );
  return [...templates, analysis].join('---\n');
}

/** `metric{a="b"}` + `c="d"` → `metric{a="b",c="d"}`. The selector has passed the query check. */
function addMatchers(selector: string, extra: string): string {
  const parsed = parseSelector(selector);
  if (parsed === undefined) throw new SloExportError(`not a series selector: ${selector}`);
  return `${parsed.metric ?? ''}{${[...parsed.matchers.map((m) => m.text), extra].join(',')}}`;
}

// ---- Litmus --------------------------------------------------------------------------------------

/**
 * Litmus promProbe entries for `.spec.experiments[].spec.probe` of a ChaosEngine: the SLO's value
 * over a short rolling window, compared as the harness compares it. `critical` SLOs stop the
 * experiment on failure (stopOnFailure), as they abort a harness run.
 */
function exportLitmus(slos: readonly SloDefinition[], endpoint: string, options: NonNullable<ExportOptions['litmus']>): string {
  const window = requireDuration(options.window ?? '1m', 'litmus.window');
  const probeTimeout = requireDuration(options.probeTimeout ?? '10s', 'litmus.probeTimeout');
  const interval = requireDuration(options.interval ?? '5s', 'litmus.interval');
  const pollingInterval = requireDuration(options.probePollingInterval ?? '5s', 'litmus.probePollingInterval');
  const skipped: Skipped[] = [];
  const probes: Record<string, unknown>[] = [];
  for (const slo of slos) {
    if (slo.severity === 'warning') {
      skipped.push({ slo: slo.name, reason: WARNING_ONLY });
      continue;
    }
    const mode = options.mode ?? litmusMode(slo);
    const { op, bound } = objective(slo);
    const runProperties: Record<string, unknown> = { probeTimeout, interval, retry: 1 };
    if (mode === 'Continuous' || mode === 'OnChaos') runProperties.probePollingInterval = pollingInterval;
    if (slo.severity === 'critical') runProperties.stopOnFailure = true;
    probes.push({
      name: slo.name,
      type: 'promProbe',
      mode,
      'promProbe/inputs': { endpoint, query: gatedValue(slo, window), comparator: { type: 'float', criteria: op, value: String(bound) } },
      runProperties,
    });
  }
  const header = [
    'Litmus promProbe entries: paste under .spec.experiments[].spec.probe of a ChaosEngine.',
    'An empty query result (too few samples, no data) fails the probe.',
    ...skippedLines(skipped),
  ].join('\n');
  return yamlWithComment(probes, header);
}

/** When the probe runs, from the phases the SLO is judged in. */
function litmusMode(slo: SloDefinition): LitmusProbeMode {
  const has = (kind: string): boolean => slo.phases.some((phase) => phase === kind);
  if (has('overall') || (has('experiment') && (has('baseline') || has('recovery')))) return 'Continuous';
  if (has('experiment')) return 'OnChaos';
  if (has('baseline') && has('recovery')) return 'Edge';
  return has('baseline') ? 'SOT' : 'EOT';
}
