/**
 * The load generator watches itself: when it cannot keep up (event loop stalled, CPU saturated,
 * iterations dropped), the latencies it measured say more about the generator than about the
 * system under test, and the harness must call the run `inconclusive` rather than pass or fail it.
 */
import type { EngineGauges } from './metrics.ts';

/** How often the lag timer ticks; lag below this (plus timer jitter) is not seen. */
const LAG_RESOLUTION_MS = 10;

export interface SelfHealthSample {
  /** Largest event-loop delay seen in the interval. */
  lagMs: number;
  /** Process CPU time / wall time in the interval. */
  cpu: number;
}

export interface SelfHealthThresholds {
  /** Event-loop lag above this is a stalled loop. */
  maxLagMs: number;
  /** …for this many consecutive samples in a row to count as sustained. */
  lagSustainedSamples: number;
  /** CPU utilisation at or above this is saturation… */
  maxCpu: number;
  /** …for this many consecutive samples, or over the whole run. */
  cpuSustainedSamples: number;
  /** Dropped iterations above this share of scheduled ones. */
  maxDroppedRatio: number;
}

export const DEFAULT_SELF_HEALTH_THRESHOLDS: SelfHealthThresholds = {
  maxLagMs: 100,
  lagSustainedSamples: 2,
  maxCpu: 0.95,
  cpuSustainedSamples: 3,
  maxDroppedRatio: 0.01,
};

export interface SelfHealthReadings {
  samples: readonly SelfHealthSample[];
  maxEventLoopLagMs: number;
  /** CPU time / wall time over the whole monitored span. */
  meanCpuUtilization: number;
}

/**
 * Samples event-loop lag and CPU every `intervalMs` into `gauges` (so /metrics shows them live) and
 * keeps the samples for the verdict. `start` and `stop` are each meant to be called once.
 */
export class SelfHealthMonitor {
  private readonly samples: SelfHealthSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private lagTickDueAt = 0;
  /** Largest lag seen since the last sample. */
  private windowLagMs = 0;
  private startedAt = 0;
  private startCpu: NodeJS.CpuUsage = { user: 0, system: 0 };
  private lastAt = 0;
  private lastCpu: NodeJS.CpuUsage = { user: 0, system: 0 };
  private maxLagMs = 0;
  private finalReadings: SelfHealthReadings | undefined;

  constructor(
    private readonly gauges: EngineGauges,
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    this.startedAt = this.lastAt = performance.now();
    this.startCpu = this.lastCpu = process.cpuUsage();
    // Lag is measured with a timer of our own rather than perf_hooks' monitorEventLoopDelay: that
    // histogram forgets the delay in progress when it is reset, so a stall that straddles a sample
    // boundary went unseen. A late tick here is counted in whichever window it lands in.
    this.lagTickDueAt = this.startedAt + LAG_RESOLUTION_MS;
    this.lagTimer = setTimeout(() => this.lagTick(), LAG_RESOLUTION_MS);
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    // The monitor must never be what keeps a finished process alive.
    this.lagTimer.unref();
    this.timer.unref();
  }

  /** Takes a last sample (when enough time passed for it to mean something) and stops. Idempotent. */
  stop(): SelfHealthReadings {
    if (this.finalReadings !== undefined) return this.finalReadings;
    clearInterval(this.timer);
    clearTimeout(this.lagTimer);
    this.lagTick(false);
    // A short last interval makes a noisy CPU sample, so it becomes a sample only when long enough;
    // its lag still counts, or a stall just before the end would go unseen.
    if (performance.now() - this.lastAt >= this.intervalMs / 2) this.sample();
    else this.maxLagMs = Math.max(this.maxLagMs, this.windowLagMs);
    const wallUs = (performance.now() - this.startedAt) * 1000;
    const cpu = process.cpuUsage(this.startCpu);
    this.finalReadings = {
      samples: this.samples,
      maxEventLoopLagMs: this.maxLagMs,
      meanCpuUtilization: wallUs > 0 ? (cpu.user + cpu.system) / wallUs : 0,
    };
    return this.finalReadings;
  }

  private lagTick(rearm = true): void {
    const now = performance.now();
    this.windowLagMs = Math.max(this.windowLagMs, now - this.lagTickDueAt);
    if (!rearm) return;
    this.lagTickDueAt = now + LAG_RESOLUTION_MS;
    // refresh() re-arms the same timer object: no allocation per tick.
    this.lagTimer?.refresh();
  }

  private sample(): void {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const wallUs = (now - this.lastAt) * 1000;
    const cpuUs = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    const lagMs = this.windowLagMs;
    this.windowLagMs = 0;
    const sample: SelfHealthSample = { lagMs, cpu: wallUs > 0 ? cpuUs / wallUs : 0 };
    this.samples.push(sample);
    this.maxLagMs = Math.max(this.maxLagMs, lagMs);
    this.gauges.eventLoopLagSeconds = lagMs / 1000;
    this.gauges.cpuUtilization = sample.cpu;
    this.lastAt = now;
    this.lastCpu = cpu;
  }
}

export interface OverloadInput {
  readings: SelfHealthReadings;
  scheduled: number;
  droppedNoVu: number;
  droppedLate: number;
  maxVUs: number;
  lateStartBoundMs: number;
}

/**
 * Whether the generator was overloaded, with every reason found (joined by "; "). Pure, so the
 * rules can be read and tested on their own.
 */
export function judgeOverload(input: OverloadInput, thresholds: SelfHealthThresholds = DEFAULT_SELF_HEALTH_THRESHOLDS): { overloaded: boolean; reason?: string } {
  const reasons: string[] = [];
  const dropped = input.droppedNoVu + input.droppedLate;
  if (input.scheduled > 0 && dropped / input.scheduled > thresholds.maxDroppedRatio) {
    const parts: string[] = [];
    if (input.droppedNoVu > 0) parts.push(`${input.droppedNoVu} with all ${input.maxVUs} VUs (maxVUs) busy`);
    if (input.droppedLate > 0) parts.push(`${input.droppedLate} more than ${input.lateStartBoundMs} ms behind schedule`);
    reasons.push(
      `dropped ${dropped} of ${input.scheduled} scheduled iterations (${percent(dropped / input.scheduled)} > ${percent(thresholds.maxDroppedRatio)}): ${parts.join(', ')}`,
    );
  }
  const lagRun = longestRun(input.readings.samples, (s) => s.lagMs > thresholds.maxLagMs);
  if (lagRun >= thresholds.lagSustainedSamples) {
    reasons.push(`event-loop lag above ${thresholds.maxLagMs} ms for ${lagRun} consecutive samples (max ${input.readings.maxEventLoopLagMs.toFixed(0)} ms)`);
  }
  const cpuRun = longestRun(input.readings.samples, (s) => s.cpu >= thresholds.maxCpu);
  if (cpuRun >= thresholds.cpuSustainedSamples || input.readings.meanCpuUtilization >= thresholds.maxCpu) {
    reasons.push(
      `CPU at or above ${percent(thresholds.maxCpu)} (mean ${percent(input.readings.meanCpuUtilization)}, ${cpuRun} consecutive samples at or above)`,
    );
  }
  return reasons.length > 0 ? { overloaded: true, reason: reasons.join('; ') } : { overloaded: false };
}

function longestRun<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  let longest = 0;
  let current = 0;
  for (const item of items) {
    current = predicate(item) ? current + 1 : 0;
    longest = Math.max(longest, current);
  }
  return longest;
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)} %`;
}
