import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatDoctor, localTargetRunnable, runDoctor, type DoctorReport } from './doctor.ts';

/** `resilience doctor` on this machine (real binaries, the real Docker engine), and its formatting. */

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('runDoctor', () => {
  it('reports that auto runs every dependency as a process when the binaries are on this machine', async () => {
    const report = await runDoctor();
    expect(report.runtimes.map((r) => `${r.service}=${r.runtime}`)).toEqual(['postgres=process', 'redis=process', 'prometheus=process']);
    expect(localTargetRunnable(report)).toBe(true);
    expect(formatDoctor(report)).toMatch(/✔ redis\s+process\s+redis-server found on this machine/);
  });

  it('reports containers when the binaries are missing and Docker answers (Docker runs here)', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'doctor-empty-path-'));
    scratch.push(empty);
    const report = await runDoctor({ runtime: { binaries: { path: empty, postgresLibDir: empty } } });
    expect(report.runtimes.map((r) => `${r.service}=${r.runtime}`)).toEqual(['postgres=container', 'redis=container', 'prometheus=container']);
    expect(report.runtimes[1]?.reason).toMatch(/redis-server not found, Docker \S+ answers/);
    expect(localTargetRunnable(report)).toBe(true);
  });

  it('marks the local target unrunnable and prints both fixes when a service has no runtime', () => {
    const report: DoctorReport = {
      binaries: [],
      capabilities: [],
      runtimes: [{ service: 'redis', preference: 'auto', runtime: 'none', reason: 'redis cannot run here: install redis-server or Docker' }],
    };
    expect(localTargetRunnable(report)).toBe(false);
    expect(localTargetRunnable({ ...report, runtimes: [] })).toBe(false);
    expect(formatDoctor(report)).toContain('✖ redis       none      redis cannot run here: install redis-server or Docker');
  });
});
