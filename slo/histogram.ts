import type { LatencySlo } from './types.ts';

/** Where a quantile falls when `histogram_quantile` cannot be taken at its word. */
export type QuantilePlacement =
  /** In the +Inf bucket: Prometheus returns the highest finite bound; `certainlyAbove` when that bound is already ≥ the threshold. */
  | { where: 'above-finite'; highestFinite: number; certainlyAbove: boolean }
  /** In a bucket that contains the threshold: neither side is proven. */
  | { where: 'straddles'; lower: number; upper: number };

/**
 * `histogram_quantile` interpolates inside the bucket the quantile falls in. When that bucket
 * straddles the threshold, the true quantile may lie on either side; when it is the +Inf bucket,
 * the returned value is the highest finite bound whatever the real latency. Returns undefined when
 * the interpolated value can be judged as it is (or there is nothing to read). Buckets are
 * cumulative counts by upper bound in seconds, in any order. Shared by the phase evaluator and the
 * time-to-recover steps, so both read a histogram the same way.
 */
export function placeQuantile(slo: Pick<LatencySlo, 'quantile' | 'thresholdMs'>, buckets: readonly { le: number; count: number }[]): QuantilePlacement | undefined {
  const sorted = buckets.filter((b) => !Number.isNaN(b.le)).sort((a, b) => a.le - b.le);
  const total = sorted.at(-1);
  if (total === undefined || total.le !== Infinity || !(total.count > 0)) return undefined;
  const rank = slo.quantile * total.count;
  const threshold = slo.thresholdMs / 1000;
  let lower = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return { where: 'above-finite', highestFinite: lower, certainlyAbove: lower >= threshold };
      return lower < threshold && threshold < bucket.le ? { where: 'straddles', lower, upper: bucket.le } : undefined;
    }
    lower = bucket.le;
  }
  return undefined;
}
