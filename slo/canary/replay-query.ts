import { PrometheusQueryError, PrometheusUnreachableError, type PrometheusClient, type Sample } from '../prometheus-client.ts';
import { sleep } from '../../scripts/util/wait.ts';

/**
 * Instant queries for a replay, which asks Prometheus what a controller would have seen at a
 * past moment: never before Prometheus has scraped that moment, and without letting one
 * unreachable Prometheus cost every later query its retries.
 */

export type ReplayQueryResult = { ok: true; samples: Sample[] } | { ok: false; message: string };

export class ReplayQuerier {
  private unreachable: PrometheusUnreachableError | undefined;

  constructor(
    private readonly client: PrometheusClient,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /**
   * Resolves with the samples, or with the reason there are none to judge (Prometheus rejected
   * the query or did not answer). Rejects only with the abort reason.
   */
  async query(promql: string, atMs: number): Promise<ReplayQueryResult> {
    if (this.unreachable) return { ok: false, message: this.unreachable.message };
    try {
      return { ok: true, samples: await this.client.instantQuery(promql, atMs, { signal: this.signal }) };
    } catch (error) {
      if (this.signal?.aborted) throw this.signal.reason;
      // No answer at all (not a 5xx for one heavy query): later queries would fare no better.
      if (error instanceof PrometheusUnreachableError && error.status === undefined) this.unreachable ??= error;
      if (error instanceof PrometheusUnreachableError || error instanceof PrometheusQueryError) return { ok: false, message: error.message };
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  }
}

/**
 * Waits until Prometheus has scraped `atMs` (one scrape interval after it, a scrape's timeout
 * being its interval). Resolves false, without waiting, when that is more than `maxWaitMs` away:
 * the moment cannot be judged yet.
 */
export async function waitUntilScraped(atMs: number, scrapeIntervalSeconds: number, maxWaitMs: number, signal?: AbortSignal): Promise<boolean> {
  const waitMs = atMs + scrapeIntervalSeconds * 1000 - Date.now();
  if (waitMs > maxWaitMs) return false;
  if (waitMs > 0) await sleep(waitMs, signal);
  return true;
}
