import { sleep } from '../scripts/util/wait.ts';

/**
 * Waits until Prometheus has scraped every target of `jobs` at least once after `after` (epoch ms),
 * so the last requests of the load are in the data before any phase is judged. Gives up at the
 * deadline without throwing: the evaluator's scrape-coverage check then says what is missing.
 *
 * Returns true when every job was scraped after `after`.
 */
export async function waitForScrapesAfter(prometheusUrl: string, jobs: readonly string[], after: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const query = `min by (job) (timestamp(up{job=~"${jobs.map(escapeRegex).join('|')}"}))`;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    try {
      const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`;
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = (await response.json()) as { status: string; data?: { result?: { metric: { job?: string }; value: [number, string] }[] } };
      const seen = new Map((body.data?.result ?? []).map((r) => [r.metric.job ?? '', Number(r.value[1]) * 1_000]));
      if (jobs.every((job) => (seen.get(job) ?? 0) > after)) return true;
    } catch {
      // Prometheus busy or gone: keep polling until the deadline; evaluation reports the gap.
    }
    await sleep(200, signal);
  }
  return false;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
