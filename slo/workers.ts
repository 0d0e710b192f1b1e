import type { PhaseKind, SloDefinition } from './types.ts';

/**
 * hasteCRM background workers' SLOs (scrape job `hastecrm-workers`). Workers answer no HTTP
 * requests, so both SLOs are server-side and read the workers' own metrics:
 * - `worker_jobs_total{outcome}`: jobs finished, by outcome (`success`; anything else — `failure`,
 *   `retry`, `timeout` — is not a success, so a new outcome can never count as good);
 * - `worker_job_duration_seconds`: histogram of the time from a job being queued to it finishing,
 *   what a user waiting for an import or an e-mail experiences.
 * The objectives are the seed's (99 % success, < 500 ms) applied to jobs.
 *
 * minSamples is lower than the API's: a worker phase sees tens of jobs, not hundreds of requests.
 */

const ALL_PHASES: readonly PhaseKind[] = ['baseline', 'experiment', 'recovery', 'overall'];
const MIN_SAMPLES = 10;
const SUCCESS_OBJECTIVE = 0.99;
const LATENCY_THRESHOLD_MS = 500;

export const WORKERS_JOB = 'hastecrm-workers';

export const workerSlos: SloDefinition[] = [
  {
    name: 'workers-job-success-ratio',
    description: 'Background jobs that finished with outcome "success".',
    kind: 'ratio',
    side: 'server',
    severity: 'error',
    phases: ALL_PHASES,
    minSamples: MIN_SAMPLES,
    good: `worker_jobs_total{job="${WORKERS_JOB}",outcome="success"}`,
    total: `worker_jobs_total{job="${WORKERS_JOB}"}`,
    objective: SUCCESS_OBJECTIVE,
  },
  {
    name: 'workers-job-latency-p95',
    description: '95th percentile of the time from a job being queued to it finishing.',
    kind: 'latency',
    side: 'server',
    severity: 'error',
    phases: ALL_PHASES,
    minSamples: MIN_SAMPLES,
    histogram: 'worker_job_duration_seconds',
    matchers: `job="${WORKERS_JOB}"`,
    quantile: 0.95,
    thresholdMs: LATENCY_THRESHOLD_MS,
  },
];
