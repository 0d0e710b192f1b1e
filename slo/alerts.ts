import type { PrometheusClient } from './prometheus-client.ts';

/**
 * Which alert rules were pending or firing during the run, and when: read back from the run's own
 * Prometheus (the `ALERTS` series its rule manager writes for every active alert), so the report
 * shows what production alerting would have said about the same data.
 */

export type AlertState = 'pending' | 'firing';

/** One stretch of time during which one alert was in one state. */
export interface AlertInterval {
  alertname: string;
  /** The rule's `severity` label; empty when the rule has none. */
  severity: string;
  state: AlertState;
  /** First and last step (epoch ms) at which the alert was seen in this state, both inclusive. */
  from: number;
  to: number;
  /** The alert's other labels (rule labels and the expression's labels), without `__name__`, `alertname` and `alertstate`. */
  labels: Record<string, string>;
}

export interface AlertTimelineOptions {
  client: PrometheusClient;
  /** Epoch ms. */
  start: number;
  end: number;
  /**
   * Resolution of the timeline. Default 1 s, the harness's rule evaluation interval: a state seen
   * at consecutive steps is one interval; a gap of a step or more splits it in two.
   */
  stepSeconds?: number;
  signal?: AbortSignal;
}

/**
 * The alerts seen between `start` and `end`, ordered by start time, then alert name, then state.
 * Empty when no alert was pending or firing. Rejects with the client's error when Prometheus is
 * unreachable or rejects the query: the caller reports it (an absent timeline is not "no alerts").
 *
 * Prometheus writes a staleness marker when an alert resolves or changes state, so the `ALERTS`
 * series ends exactly there and does not linger for the 5-minute lookback.
 */
export async function alertTimeline(options: AlertTimelineOptions): Promise<AlertInterval[]> {
  const stepSeconds = options.stepSeconds ?? 1;
  if (!(stepSeconds > 0)) throw new RangeError(`stepSeconds must be positive, got ${stepSeconds}`);
  const stepMs = stepSeconds * 1000;
  const series = await options.client.rangeQuery('ALERTS', options.start, options.end, stepMs, { signal: options.signal });
  const intervals: AlertInterval[] = [];
  for (const { labels, points } of series) {
    const { __name__: _name, alertname = '', alertstate, ...rest } = labels;
    if (alertstate !== 'pending' && alertstate !== 'firing') continue;
    const severity = rest.severity ?? '';
    let current: AlertInterval | undefined;
    for (const [t] of points) {
      // Points are at start + k·step: anything further than one step from the previous one is a gap.
      if (current !== undefined && t - current.to <= stepMs * 1.5) {
        current.to = t;
        continue;
      }
      current = { alertname, severity, state: alertstate, from: t, to: t, labels: { ...rest } };
      intervals.push(current);
    }
  }
  return intervals.sort((a, b) => a.from - b.from || a.alertname.localeCompare(b.alertname) || STATE_ORDER[a.state] - STATE_ORDER[b.state]);
}

const STATE_ORDER: Record<AlertState, number> = { pending: 0, firing: 1 };
