import { describe, expect, it } from 'vitest';
import { LatencyRecorder, RateWindow } from './latency.ts';

describe('LatencyRecorder', () => {
  it('gives percentiles in ms to 3 significant digits, 0 when empty', () => {
    const recorder = new LatencyRecorder();
    expect(recorder.percentiles()).toEqual({ p50: 0, p90: 0, p95: 0, p99: 0, max: 0 });
    for (let ms = 1; ms <= 1_000; ms++) recorder.recordMs(ms);
    const p = recorder.percentiles();
    expect(p.p50).toBeCloseTo(500, -1);
    expect(p.p99).toBeCloseTo(990, -1);
    expect(p.max).toBeCloseTo(1_000, -1);
    expect(recorder.count).toBe(1_000);
  });

  it('clamps values outside 0 µs – 1 h instead of throwing', () => {
    const recorder = new LatencyRecorder();
    recorder.recordMs(-5);
    recorder.recordMs(10 * 3_600_000);
    expect(recorder.count).toBe(2);
    expect(recorder.percentiles().max).toBeCloseTo(3_600_000, -4);
  });
});

describe('RateWindow', () => {
  it('measures the rate over the last second from snapshots', () => {
    const window = new RateWindow(250, 1_000);
    // 100 requests per second for 3 s, sampled every 10 ms.
    for (let t = 0; t <= 3_000; t += 10) window.sample(t, t / 10);
    expect(window.ratePerSec(3_000, 300)).toBeCloseTo(100, 5);
    // Then the rate halves.
    for (let t = 3_010; t <= 5_000; t += 10) window.sample(t, 300 + (t - 3_000) / 20);
    expect(window.ratePerSec(5_000, 400)).toBeCloseTo(50, 5);
  });

  it('is 0 before any snapshot', () => {
    expect(new RateWindow().ratePerSec(1_000, 10)).toBe(0);
  });
});
