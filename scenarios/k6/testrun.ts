/**
 * Distributed k6 on Kubernetes: a k6-operator `TestRun` (k6.io/v1alpha1) plus the ConfigMap that
 * carries the bundled script (https://grafana.com/docs/k6/latest/set-up/set-up-distributed-k6/).
 *
 * The operator starts `parallelism` runner pods, each running an equal execution segment of the
 * same script (arrival rates and VUs are split between them), with `arguments` appended to
 * `k6 run`. Metrics go to Prometheus by remote write, as on the host: the output is chosen in
 * `arguments`, its target in the runners' environment (the output takes its URL only from there).
 */
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { stringify } from 'yaml';
import { DEFAULT_RW_TREND_STATS } from './k6-process.ts';

export interface TestRunInput {
  /** Name of the TestRun and of its ConfigMap; DNS-1123 label, at most 52 characters (the operator appends suffixes to Job names). */
  name: string;
  namespace: string;
  /** The bundled script's text (`bundle.ts`). */
  script: string;
  /** The key (file name) of the script in the ConfigMap. Default `script.k6.js`. */
  scriptFile?: string;
  /** Runner pods. */
  parallelism: number;
  /** Target of the load as the runners reach it, e.g. `http://hastecrm-api.hastecrm:8080`. */
  baseUrl: string;
  /** Prometheus as the runners reach it, e.g. `http://prometheus.monitoring:9090`; must run with `--web.enable-remote-write-receiver`. */
  prometheusUrl: string;
  /** Tagged as `testid` on every sample. */
  runId: string;
  /** Default true: trends as native histograms (Prometheus `--enable-feature=native-histograms`). */
  nativeHistograms?: boolean;
  /** Runner image. Default `grafana/k6:0.57.0`, the oldest k6 that awaits async setup. */
  image?: string;
  /** One runner per node (the operator's `separate`). Default false. */
  separate?: boolean;
}

export interface RenderedTestRun {
  configMap: Record<string, unknown>;
  testRun: Record<string, unknown>;
  /** Both objects as one multi-document YAML file, ConfigMap first (the TestRun refers to it). */
  yaml: string;
}

/** An input k6-operator or the API server would refuse; the message names the field and the fix. */
export class TestRunError extends Error {
  override name = 'TestRunError';
}

/** The API server's limit on one ConfigMap. */
export const CONFIGMAP_MAX_BYTES = 1_048_576;
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;

/** Renders the ConfigMap and the TestRun. Pure. Throws TestRunError naming the bad field. */
export function renderTestRun(input: TestRunInput): RenderedTestRun {
  if (!DNS_LABEL.test(input.name) || input.name.length > 52) {
    throw new TestRunError(`name: got ${JSON.stringify(input.name)}; a lower-case DNS label of at most 52 characters, e.g. "hastecrm-api-load"`);
  }
  if (!DNS_LABEL.test(input.namespace) || input.namespace.length > 63) throw new TestRunError(`namespace: got ${JSON.stringify(input.namespace)}; a lower-case DNS label`);
  if (!Number.isInteger(input.parallelism) || input.parallelism < 1) throw new TestRunError(`parallelism: got ${JSON.stringify(input.parallelism)}; an integer ≥ 1 (runner pods)`);
  for (const field of ['baseUrl', 'prometheusUrl'] as const) {
    if (!/^https?:\/\/[^/\s]+/.test(input[field])) throw new TestRunError(`${field}: got ${JSON.stringify(input[field])}; an http(s) URL as the runner pods reach it`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(input.runId)) throw new TestRunError(`runId: got ${JSON.stringify(input.runId)}; letters, digits, ".", "_" and "-" only`);
  const scriptFile = input.scriptFile ?? 'script.k6.js';
  if (!CONFIGMAP_KEY.test(scriptFile)) throw new TestRunError(`scriptFile: got ${JSON.stringify(scriptFile)}; a ConfigMap key (letters, digits, "-", "_", ".")`);
  const size = Buffer.byteLength(input.script, 'utf8');
  if (size === 0) throw new TestRunError('script: empty; pass the bundled script (bundle.ts)');
  if (size > CONFIGMAP_MAX_BYTES) {
    throw new TestRunError(`script: ${size} bytes exceed a ConfigMap's ${CONFIGMAP_MAX_BYTES}; serve the script from a volumeClaim instead (spec.script.volumeClaim)`);
  }

  const labels = { 'app.kubernetes.io/name': 'k6', 'app.kubernetes.io/part-of': 'hastecrm-resilience', 'resilience.hastecrm.io/run-id': input.runId };
  const configMap = new ConfigMap({ metadata: { name: input.name, namespace: input.namespace, labels }, data: { [scriptFile]: input.script } });
  try {
    configMap.validate();
  } catch (error) {
    throw new TestRunError(`ConfigMap ${input.name} is invalid: ${(error as Error).message}`);
  }

  const prometheus = input.prometheusUrl.replace(/\/+$/, '');
  const env = [
    { name: 'K6_PROMETHEUS_RW_SERVER_URL', value: `${prometheus}/api/v1/write` },
    { name: 'K6_PROMETHEUS_RW_PUSH_INTERVAL', value: '1s' },
    { name: 'K6_PROMETHEUS_RW_STALE_MARKERS', value: 'true' },
    (input.nativeHistograms ?? true)
      ? { name: 'K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM', value: 'true' }
      : { name: 'K6_PROMETHEUS_RW_TREND_STATS', value: DEFAULT_RW_TREND_STATS.join(',') },
  ];
  const testRun = {
    apiVersion: 'k6.io/v1alpha1',
    kind: 'TestRun',
    metadata: { name: input.name, namespace: input.namespace, labels },
    spec: {
      parallelism: input.parallelism,
      separate: input.separate ?? false,
      script: { configMap: { name: input.name, file: scriptFile } },
      arguments: `--out experimental-prometheus-rw --tag testid=${input.runId} -e BASE_URL=${input.baseUrl.replace(/\/+$/, '')}`,
      runner: { image: input.image ?? 'grafana/k6:0.57.0', env },
    },
  };
  const configMapObject = configMap.toJSON() as Record<string, unknown>;
  const yaml = `${stringify(configMapObject, { lineWidth: 0 })}---\n${stringify(testRun, { lineWidth: 0 })}`;
  return { configMap: configMapObject, testRun, yaml };
}
