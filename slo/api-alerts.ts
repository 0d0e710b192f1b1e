import type { SloDefinition } from './types.ts';
import { counterIncrease } from './promql.ts';

/**
 * hasteCRM API's SLOs from the seed's alert rules (cluster/addons/prometheus/hastecrm-alerts.yaml),
 * beside `apiSlos` (slo/api.ts), which hold the Canary's objectives:
 *
 * - the APIHighErrorRate threshold (5xx ratio > 5 %) judged per phase, as a `critical` SLO: the
 *   alert itself needs 5 minutes (`for: 5m`) to fire, far longer than a phase, so the run judges
 *   its threshold directly, and aborts when it is crossed;
 * - no alert of severity `critical` firing in the run, from the alerts the run's Prometheus
 *   evaluated (inconclusive when it evaluated none);
 * - no `warning` alert either, reported only (a warning never fails a run).
 *
 * The alert SLOs are judged over the whole run (`overall`): rule groups are evaluated every
 * `interval` (30 s for the seed's group), so a phase of a few seconds may contain no evaluation
 * and could only be inconclusive.
 */

const API_REQUESTS = 'http_requests_total{job="hastecrm-api"}';
const API_ERRORS = 'http_requests_total{job="hastecrm-api",status=~"5.."}';
/** APIHighErrorRate: `… > 0.05`. */
const HIGH_ERROR_RATE = 0.05;

export const apiAlertSlos: SloDefinition[] = [
  {
    name: 'api-error-rate-below-alert',
    description: "The API's 5xx ratio stays at or under APIHighErrorRate's 5 % threshold (the seed's critical alert).",
    kind: 'query',
    side: 'server',
    severity: 'critical',
    phases: ['baseline', 'experiment', 'recovery', 'overall'],
    minSamples: 20,
    // counterIncrease, not rate(): the 5xx series chaos creates are born inside the phase.
    expr: `${counterIncrease(API_ERRORS, '$window')} / ${counterIncrease(API_REQUESTS, '$window')}`,
    op: '<=',
    bound: HIGH_ERROR_RATE,
    samples: counterIncrease(API_REQUESTS, '$window'),
  },
  {
    name: 'api-no-critical-alert',
    description: 'No alert of severity critical (APIHighErrorRate, PersistentVolumeSpaceLow …) fired during the run.',
    kind: 'alert',
    side: 'server',
    severity: 'error',
    phases: ['overall'],
    minSamples: 1,
    alertSeverity: 'critical',
  },
  {
    name: 'api-no-warning-alert',
    description: 'No alert of severity warning (DatabaseConnectionPoolExhausted, PodMemoryUsageHigh) fired during the run; reported only.',
    kind: 'alert',
    side: 'server',
    severity: 'warning',
    phases: ['overall'],
    minSamples: 1,
    alertSeverity: 'warning',
  },
];
