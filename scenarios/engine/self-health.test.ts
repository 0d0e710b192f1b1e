import { describe, expect, it } from 'vitest';
import { SelfHealthMonitor, judgeOverload } from './self-health.ts';
import type { SelfHealthReadings } from './self-health.ts';

const healthy: SelfHealthReadings = { samples: [{ lagMs: 5, cpu: 0.3 }, { lagMs: 8, cpu: 0.4 }], maxEventLoopLagMs: 8, meanCpuUtilization: 0.35 };
const base = { readings: healthy, scheduled: 1_000, droppedNoVu: 0, droppedLate: 0, maxVUs: 200, lateStartBoundMs: 1_000 };

describe('judgeOverload', () => {
  it('is not overloaded with few drops, a quick loop and spare CPU', () => {
    expect(judgeOverload({ ...base, droppedNoVu: 10 })).toEqual({ overloaded: false });
  });

  it('is overloaded above 1 % dropped, saying how many and why', () => {
    const verdict = judgeOverload({ ...base, droppedNoVu: 8, droppedLate: 3 });
    expect(verdict.overloaded).toBe(true);
    expect(verdict.reason).toBe('dropped 11 of 1000 scheduled iterations (1.1 % > 1.0 %): 8 with all 200 VUs (maxVUs) busy, 3 more than 1000 ms behind schedule');
  });

  it('is overloaded when event-loop lag stays above 100 ms for two samples in a row, not for one spike', () => {
    const spike = { ...healthy, samples: [{ lagMs: 300, cpu: 0.3 }, { lagMs: 5, cpu: 0.3 }, { lagMs: 250, cpu: 0.3 }], maxEventLoopLagMs: 300 };
    expect(judgeOverload({ ...base, readings: spike }).overloaded).toBe(false);
    const sustained = { ...healthy, samples: [{ lagMs: 5, cpu: 0.3 }, { lagMs: 150, cpu: 0.3 }, { lagMs: 180, cpu: 0.3 }], maxEventLoopLagMs: 180 };
    expect(judgeOverload({ ...base, readings: sustained }).reason).toMatch(/event-loop lag above 100 ms for 2 consecutive samples \(max 180 ms\)/);
  });

  it('is overloaded when CPU is at or above 95 % for three samples in a row, or on average', () => {
    const busy = { samples: [{ lagMs: 1, cpu: 0.96 }, { lagMs: 1, cpu: 0.99 }, { lagMs: 1, cpu: 0.95 }, { lagMs: 1, cpu: 0.2 }], maxEventLoopLagMs: 1, meanCpuUtilization: 0.77 };
    expect(judgeOverload({ ...base, readings: busy }).reason).toMatch(/CPU at or above 95 %.*3 consecutive samples/);
    const shortAndBusy = { samples: [{ lagMs: 1, cpu: 0.97 }], maxEventLoopLagMs: 1, meanCpuUtilization: 0.97 };
    expect(judgeOverload({ ...base, readings: shortAndBusy }).overloaded).toBe(true);
  });

  it('lists every reason found', () => {
    const bad = { samples: [{ lagMs: 200, cpu: 1 }, { lagMs: 200, cpu: 1 }, { lagMs: 200, cpu: 1 }], maxEventLoopLagMs: 200, meanCpuUtilization: 1 };
    expect(judgeOverload({ ...base, readings: bad, droppedLate: 500 }).reason?.split('; ')).toHaveLength(3);
  });
});

describe('SelfHealthMonitor', () => {
  it('sees a blocked event loop and a busy CPU, and writes both into the gauges', async () => {
    const gauges = { vus: 0, vusMax: 0, eventLoopLagSeconds: 0, cpuUtilization: 0 };
    const monitor = new SelfHealthMonitor(gauges, 200);
    const startedAt = performance.now();
    monitor.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Block the loop until 300 ms of CPU time are burnt (by CPU, not wall time: other processes may share the cores).
    const cpuBefore = process.cpuUsage();
    const giveUpAt = performance.now() + 5_000;
    while (cpuTotalMs(process.cpuUsage(cpuBefore)) < 300 && performance.now() < giveUpAt);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const readings = monitor.stop();
    const wallMs = performance.now() - startedAt;

    expect(readings.maxEventLoopLagMs, 'a ≥ 300 ms block shows as ≥ 250 ms of lag').toBeGreaterThanOrEqual(250);
    expect(readings.meanCpuUtilization * wallMs, 'CPU utilisation × wall time accounts for the ≥ 300 ms of CPU burnt').toBeGreaterThanOrEqual(280);
    expect(readings.samples.length).toBeGreaterThanOrEqual(2);
    expect(gauges.eventLoopLagSeconds + gauges.cpuUtilization, 'gauges were written').toBeGreaterThan(0);
    expect(monitor.stop(), 'stop is idempotent').toBe(readings);
  });
});

function cpuTotalMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}
