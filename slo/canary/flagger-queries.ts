import { counterIncrease } from '../promql.ts';
import { promqlRange } from './duration.ts';

/**
 * What Flagger's built-in metrics mean on a target. Flagger takes them from the mesh (Istio:
 * `istio_requests_total`, `istio_request_duration_milliseconds_bucket`, reporter="destination");
 * on the local target the mesh is the local ingress, so the same definitions are written over
 * the ingress's own metrics:
 * - request-success-rate: the percentage (0–100) of requests answered without a 5xx over the
 *   metric's interval (Istio: `response_code!~"5.*"`; a 499, the client going away, is not a 5xx);
 * - request-duration: the p99 of request duration over the interval, in milliseconds.
 *
 * Differences from Flagger's Istio queries, each toward a sure answer:
 * - `counterIncrease` instead of `rate`: a status series born inside the window (the first 503
 *   of an outage) is counted from its first value instead of being lost;
 * - success rate as `(good or total * 0) / total`: when every request failed there is no non-5xx
 *   series at all, and Flagger's `sum(good) / sum(total)` would return nothing ("no values"),
 *   where the truth is 0 %.
 */
export interface FlaggerBuiltinQueries {
  /** PromQL for request-success-rate over `intervalSeconds`: one series, a percentage. */
  successRate(intervalSeconds: number): string;
  /** PromQL for request-duration over `intervalSeconds`: one series, the p99 in milliseconds. */
  durationP99(intervalSeconds: number): string;
}

/** The built-in metrics over the local ingress (`ingress_requests_total{status}`, `ingress_request_duration_seconds`) of scrape job `job`. */
export function ingressBuiltinQueries(options: { job?: string } = {}): FlaggerBuiltinQueries {
  const job = JSON.stringify(options.job ?? 'ingress');
  const requests = `ingress_requests_total{job=${job}}`;
  const good = `ingress_requests_total{job=${job},status!~"5.."}`;
  const buckets = `ingress_request_duration_seconds_bucket{job=${job}}`;
  return {
    successRate(intervalSeconds) {
      const w = promqlRange(intervalSeconds);
      const total = counterIncrease(requests, w);
      return `100 * ((${counterIncrease(good, w)} or ${total} * 0) / ${total})`;
    },
    durationP99(intervalSeconds) {
      return `histogram_quantile(0.99, ${counterIncrease(buckets, promqlRange(intervalSeconds), 'le')}) * 1000`;
    },
  };
}
