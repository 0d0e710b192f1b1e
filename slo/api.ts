import type { PhaseKind, SloDefinition } from './types.ts';

/**
 * hasteCRM API's SLOs. The objectives are the seed's Flagger Canary analysis for hastecrm-api
 * (request-success-rate thresholdRange.min 99, request-duration thresholdRange.max 500 ms), judged
 * from both ends: the client (the load driver's k6-named metrics, what users experience through
 * the ingress, retries included) and the server (the API's own metrics, scrape job hastecrm-api).
 *
 * minSamples: a typical local run is ~20 s at 50 req/s with 5–10 s phases, i.e. 250–500 requests
 * per phase. 20 requests is well below that, so a healthy phase always qualifies, while a phase in
 * which load did not actually run (a driver that stalled, a target nobody hit) is inconclusive.
 */

const ALL_PHASES: readonly PhaseKind[] = ['baseline', 'experiment', 'recovery', 'overall'];
const MIN_SAMPLES = 20;
/** Flagger's request-success-rate min 99 (percent). */
const SUCCESS_OBJECTIVE = 0.99;
/** Flagger's request-duration max 500 (ms); Flagger's built-in metric is the p99, the seed's runbook speaks of p95. */
const LATENCY_THRESHOLD_MS = 500;

export const apiSlos: SloDefinition[] = [
  {
    name: 'api-client-success-ratio',
    description: 'Requests the load driver sent that got the expected response, as users see it through the ingress.',
    kind: 'ratio',
    side: 'client',
    severity: 'error',
    phases: ALL_PHASES,
    minSamples: MIN_SAMPLES,
    good: 'k6_http_reqs_total{expected_response="true"}',
    total: 'k6_http_reqs_total',
    objective: SUCCESS_OBJECTIVE,
  },
  {
    name: 'api-client-latency-p95',
    description: '95th percentile of request duration measured by the load driver, from the scheduled start (no coordinated omission).',
    kind: 'latency',
    side: 'client',
    severity: 'error',
    phases: ALL_PHASES,
    minSamples: MIN_SAMPLES,
    histogram: 'k6_http_req_duration_seconds',
    quantile: 0.95,
    thresholdMs: LATENCY_THRESHOLD_MS,
  },
  {
    name: 'api-server-success-ratio',
    description: 'Requests the API replicas answered without a 5xx, from their own metrics.',
    kind: 'ratio',
    side: 'server',
    severity: 'error',
    phases: ALL_PHASES,
    minSamples: MIN_SAMPLES,
    good: 'http_requests_total{job="hastecrm-api",status!~"5.."}',
    total: 'http_requests_total{job="hastecrm-api"}',
    objective: SUCCESS_OBJECTIVE,
  },
  {
    name: 'api-server-latency-p95',
    description: "95th percentile of the API replicas' own request duration on /api routes.",
    kind: 'latency',
    side: 'server',
    severity: 'error',
    phases: ALL_PHASES,
    minSamples: MIN_SAMPLES,
    histogram: 'http_request_duration_seconds',
    matchers: 'job="hastecrm-api",route=~"/api.*"',
    quantile: 0.95,
    thresholdMs: LATENCY_THRESHOLD_MS,
  },
];
