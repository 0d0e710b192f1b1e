import type { PrometheusClient } from '../../prometheus-client.ts';

/**
 * Test support: a start time for a replayed analysis whose check moments (start + whole seconds)
 * fall as far as possible from the scrapes of `jobs`. Prometheus scrapes each target at a fixed
 * offset within its 1 s interval; a check whose window edge coincided with a scrape could see one
 * sample instead of two (increase() then returns nothing) depending on a few milliseconds of jitter.
 */
export async function startBetweenScrapes(client: PrometheusClient, jobs: readonly string[], notBefore: number): Promise<number> {
  const samples = await client.instantQuery(`timestamp(up{job=~"${jobs.join('|')}"})`, Date.now());
  const phases = samples.map((sample) => Math.round(sample.value * 1000) % 1000);
  const distance = (a: number, b: number): number => Math.min(Math.abs(a - b), 1000 - Math.abs(a - b));
  let best = 0;
  let bestDistance = -1;
  for (let phase = 0; phase < 1000; phase += 5) {
    const nearest = Math.min(...phases.map((scrape) => distance(phase, scrape)));
    if (nearest > bestDistance) {
      best = phase;
      bestDistance = nearest;
    }
  }
  const start = Math.floor(notBefore / 1000) * 1000 + best;
  return start < notBefore ? start + 1000 : start;
}
