import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GeneratorName, GeneratorRun } from './generators.ts';
import { parsePlan } from './plan.ts';
import { judgeTargets, renderMarkdown } from './report.ts';
import type { BenchResults } from './report.ts';
import { rerender, writeResults } from './results-file.ts';

function run(generator: GeneratorName, ratePerSec: number, cpuSeconds = 1, peakRssMiB = 50): GeneratorRun {
  return { generator, command: `${generator} …`, ratePerSec, requests: ratePerSec * 10, errors: 0, cpuSeconds, wallSeconds: 10, peakRssMiB, interferenceSeconds: 0, ...(generator === 'engine' ? { droppedIterations: 0, overloaded: false } : {}) };
}

function results(engineRate: number, engineCpu: number, accuracy: number[], rssMiB: number[]): BenchResults {
  return {
    date: '2026-11-26T00:00:00.000Z',
    plan: parsePlan(['--runs', '3']),
    machine: { cpu: 'test × 2' },
    versions: { node: 'v20' },
    throughput: {
      engine: [run('engine', engineRate), run('engine', engineRate + 100), run('engine', engineRate - 100)],
      wrk: [run('wrk', 20_000), run('wrk', 21_000), run('wrk', 19_000)],
      autocannon: [run('autocannon', 10_000), run('autocannon', 10_000), run('autocannon', 10_000)],
    },
    cpu: { engine: [run('engine', 2_000, engineCpu)], autocannon: [run('autocannon', 2_000, 4)] },
    accuracy: accuracy.map((rate) => run('engine', rate)),
    rss: rssMiB.map((mib) => run('engine', 10_000, 1, mib)),
    loadAverages: [0.5, 0.4, 0.3],
  };
}

describe('benchmark verdicts', () => {
  it('passes every target when the engine meets them', () => {
    const verdicts = judgeTargets(results(17_000, 3, [5_000, 4_990, 5_040], [90, 100, 95]));
    expect(verdicts.map((v) => v.pass)).toEqual([true, true, true, true, true]);
    expect(verdicts[1]?.measured).toBe('17,000 vs 20,000 req/s (×0.85)');
  });

  it('misses each target with its shortfall, judged on medians, the worst accuracy run and the highest RSS', () => {
    const verdicts = judgeTargets(results(9_000, 5, [5_000, 5_000, 4_900], [100, 150, 100]));
    expect(verdicts.map((v) => v.pass)).toEqual([false, false, false, false, false]);
    expect(verdicts[0]?.shortfall).toBe('10.0 % below autocannon');
    expect(verdicts[1]?.shortfall).toBe('×0.45 of wrk, 7,000 req/s short of 0.8 × wrk');
    expect(verdicts[2]?.shortfall).toBe('25.0 % more CPU than autocannon');
    expect(verdicts[3]?.shortfall).toBe('worst run off by 2.0 %');
    expect(verdicts[4]?.shortfall).toBe('7.3 MB over');
  });

  it('renders the page with the verdicts, the tables and the commands', () => {
    const page = renderMarkdown(results(9_000, 5, [5_000], [100]));
    expect(page).toContain('| max throughput ≥ autocannon | 9,000 vs 10,000 req/s (×0.90) | **miss**: 10.0 % below autocannon |');
    expect(page).toMatch(/\| wrk \| 20,000 \| 1\.00 \|/);
    expect(page).toContain('taskset -c 1 wrk …');
    expect(page).toContain('mode **full**, 3 run(s)');
  });
});

describe('results files', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('writes load.json and load.md, and re-renders load.md from load.json alone', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-results-'));
    dirs.push(dir);
    const written = await writeResults(path.join(dir, 'out'), results(17_000, 3, [5_000], [90]));
    const page = await readFile(written.markdown, 'utf8');
    await writeFile(written.markdown, 'stale');
    expect(await rerender(path.join(dir, 'out'))).toBe(written.markdown);
    expect(await readFile(written.markdown, 'utf8')).toBe(page);
  });

  it('says what to do when load.json is missing or is not results', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-results-'));
    dirs.push(dir);
    await expect(rerender(dir)).rejects.toThrow(/cannot read .*load.json.*run the benchmark first/);
    await writeFile(path.join(dir, 'load.json'), '{"other": true}');
    await expect(rerender(dir)).rejects.toThrow(/is not a benchmark results file/);
  });
});
