import type { PhaseKind, SloDefinition } from './types.ts';

/**
 * hasteCRM web tier's SLOs (the Next.js app, scrape job `hastecrm-web`): the seed's objectives for
 * the API — 99 % success, latency < 500 ms (Flagger Canary) — applied to page requests, judged from
 * the client (the load driver's `web` scenario, k6 names) and from the server (the web app's own
 * `http_requests_total` / `http_request_duration_seconds`, the metric contract the API follows).
 *
 * Page requests: what a user's browser navigates to. Next.js serves its static chunks and page
 * data under `/_next/` and API routes under `/api/`; both are left out of the server side, so a
 * thousand cached chunk requests cannot hide a slow page.
 */

const ALL_PHASES: readonly PhaseKind[] = ['baseline', 'experiment', 'recovery', 'overall'];
/** As the API's: a phase of a typical run holds hundreds of page requests; fewer than 20 means the load did not run. */
const MIN_SAMPLES = 20;
const SUCCESS_OBJECTIVE = 0.99;
const LATENCY_THRESHOLD_MS = 500;

/** The load driver's scenario for the web tier (its `scenario` label). */
export const WEB_SCENARIO = 'web';
/** The web tier's page requests, as label matchers on its HTTP metrics. */
export const WEB_PAGE_MATCHERS = 'job="hastecrm-web",route!~"/_next/.*|/api/.*"';

export const webSlos: SloDefinition[] = [
  {
    name: 'web-client-success-ratio',
    description: 'Page requests of the web scenario that got the expected response, as the browser side sees them.',
    kind: 'ratio',
    side: 'client',
    severity: 'error',
    phases: ALL_PHASES,
    minSamples: MIN_SAMPLES,
    good: `k6_http_reqs_total{scenario="${WEB_SCENARIO}",expected_response="true"}`,
    total: `k6_http_reqs_total{scenario="${WEB_SCENARIO}"}`,
    objective: SUCCESS_OBJECTIVE,
  },
  {
    name: 'web-client-latency-p95',
    description: '95th percentile of page request duration measured by the load driver, from the scheduled start.',
    kind: 'latency',
    side: 'client',
    severity: 'error',
    phases: ALL_PHASES,
    minSamples: MIN_SAMPLES,
    histogram: 'k6_http_req_duration_seconds',
    matchers: `scenario="${WEB_SCENARIO}"`,
    quantile: 0.95,
    thresholdMs: LATENCY_THRESHOLD_MS,
  },
  {
    name: 'web-server-success-ratio',
    description: 'Page requests the web replicas answered without a 5xx, from their own metrics.',
    kind: 'ratio',
    side: 'server',
    severity: 'error',
    phases: ALL_PHASES,
    minSamples: MIN_SAMPLES,
    good: `http_requests_total{${WEB_PAGE_MATCHERS},status!~"5.."}`,
    total: `http_requests_total{${WEB_PAGE_MATCHERS}}`,
    objective: SUCCESS_OBJECTIVE,
  },
  {
    name: 'web-server-latency-p95',
    description: "95th percentile of the web replicas' own page rendering time.",
    kind: 'latency',
    side: 'server',
    severity: 'error',
    phases: ALL_PHASES,
    minSamples: MIN_SAMPLES,
    histogram: 'http_request_duration_seconds',
    matchers: WEB_PAGE_MATCHERS,
    quantile: 0.95,
    thresholdMs: LATENCY_THRESHOLD_MS,
  },
];
