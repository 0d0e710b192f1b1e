/**
 * Latency percentiles (HDR histogram) and the recent request rate, for the summary and the live
 * progress line.
 */
import { build } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/** One hour in microseconds: longer latencies are recorded as one hour. */
const HIGHEST_TRACKABLE_US = 3_600_000_000;

export interface LatencyPercentilesMs {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Records latencies with 3 significant digits from 1 µs to 1 h in fixed memory (about 100 KB);
 * recording is O(1) and allocation-free. Percentiles are 0 before the first value.
 */
export class LatencyRecorder {
  private readonly histogram: Histogram = build({
    // The pure-JS build: no WebAssembly instance to set up or leak, and fast enough for this rate.
    useWebAssembly: false,
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
  });

  recordMs(ms: number): void {
    const us = Math.round(ms * 1000);
    this.histogram.recordValue(us < 0 ? 0 : us > HIGHEST_TRACKABLE_US ? HIGHEST_TRACKABLE_US : us);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  percentileMs(percentile: number): number {
    return this.histogram.totalCount === 0 ? 0 : this.histogram.getValueAtPercentile(percentile) / 1000;
  }

  percentiles(): LatencyPercentilesMs {
    return {
      p50: this.percentileMs(50),
      p90: this.percentileMs(90),
      p95: this.percentileMs(95),
      p99: this.percentileMs(99),
      max: this.histogram.totalCount === 0 ? 0 : this.histogram.maxValue / 1000,
    };
  }
}

/**
 * The rate of a growing counter over roughly the last 1–2 s, from snapshots taken every
 * `snapshotEveryMs`. `sample` is cheap to call often: it keeps at most one snapshot per period.
 */
export class RateWindow {
  private readonly times: Float64Array;
  private readonly counts: Float64Array;
  private next = 0;
  private filled = 0;
  private lastSnapshotAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly snapshotEveryMs = 250,
    private readonly windowMs = 1_000,
  ) {
    // Enough slots to always hold a snapshot at least windowMs old, plus slack for late timers.
    const slots = Math.ceil((2 * windowMs) / snapshotEveryMs) + 2;
    this.times = new Float64Array(slots);
    this.counts = new Float64Array(slots);
  }

  sample(now: number, count: number): void {
    if (now - this.lastSnapshotAt < this.snapshotEveryMs) return;
    this.lastSnapshotAt = now;
    this.times[this.next] = now;
    this.counts[this.next] = count;
    this.next = (this.next + 1) % this.times.length;
    this.filled = Math.min(this.filled + 1, this.times.length);
  }

  /** Per-second rate between the newest snapshot at least `windowMs` old (else the oldest) and now. */
  ratePerSec(now: number, count: number): number {
    let baseTime = Number.NaN;
    let baseCount = 0;
    // Walk from newest to oldest; stop at the first snapshot that is old enough.
    for (let i = 1; i <= this.filled; i++) {
      const slot = (this.next - i + this.times.length) % this.times.length;
      baseTime = this.times[slot] ?? Number.NaN;
      baseCount = this.counts[slot] ?? 0;
      if (now - baseTime >= this.windowMs) break;
    }
    const elapsedMs = now - baseTime;
    return Number.isFinite(elapsedMs) && elapsedMs > 0 ? ((count - baseCount) * 1000) / elapsedMs : 0;
  }
}
