/**
 * One measured run of each load generator: the exact command, pinned to the generator core, and
 * what it achieved (rate, requests, errors) with its own CPU seconds and peak RSS.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { LoadSummary } from '../../scenarios/engine/results.ts';
import { parseAutocannonJson, parseHey, parseWrk } from './parse.ts';
import { runPinned } from './processes.ts';
import type { EngineRunnerArgs } from './runner-args.ts';

export type GeneratorName = 'engine' | 'wrk' | 'autocannon' | 'hey';

export interface GeneratorRun {
  generator: GeneratorName;
  /** The command line as run (without the taskset/time wrapper), for the results file. */
  command: string;
  ratePerSec: number;
  requests: number;
  errors: number;
  cpuSeconds: number;
  wallSeconds: number;
  peakRssMiB: number;
  /** CPU seconds other processes took on the generator's core during the run (see MeasuredRun). */
  interferenceSeconds: number;
  /** Engine only: iterations due but not sent (the open model's honest "could not keep up"). */
  droppedIterations?: number;
  /** Engine only: its self-health verdict. */
  overloaded?: boolean;
}

export interface GeneratorContext {
  url: string;
  /** The core generators are pinned to (nginx has the other one). */
  core: number;
  /** The bundled engine runner (see `bundleEngineRunner`). */
  engineRunner: string;
  signal?: AbortSignal;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const AUTOCANNON = path.resolve(HERE, '../../node_modules/.bin/autocannon');

/** A run may take its duration plus start-up, graceful stop and slack; then it is killed. */
function limitMs(durationSeconds: number): number {
  return durationSeconds * 1_000 + 30_000;
}

/**
 * Bundles `engine-runner.ts` into `outDir/engine-runner.mjs` so it runs on plain node: the measured
 * CPU then excludes TypeScript compilation, as autocannon's excludes nothing of the kind.
 */
export async function bundleEngineRunner(outDir: string): Promise<string> {
  const outfile = path.join(outDir, 'engine-runner.mjs');
  await build({
    entryPoints: [path.join(HERE, 'engine-runner.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    // CommonJS dependencies (undici) call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);" },
  });
  return outfile;
}

export async function runEngine(ctx: GeneratorContext, args: Omit<EngineRunnerArgs, 'url'>): Promise<GeneratorRun> {
  const json = JSON.stringify({ url: ctx.url, ...args });
  const run = await runPinned({ core: ctx.core, command: process.execPath, args: [ctx.engineRunner, json], timeoutMs: limitMs(args.durationSeconds), signal: ctx.signal });
  const lastLine = run.stdout.trim().split('\n').pop() ?? '';
  let summary: LoadSummary;
  try {
    summary = JSON.parse(lastLine) as LoadSummary;
  } catch {
    throw new Error(`engine runner printed no summary JSON: ${JSON.stringify(run.stdout.slice(0, 300))}; stderr: ${run.stderr.slice(-300)}`);
  }
  return {
    generator: 'engine',
    command: `node engine-runner.mjs '${JSON.stringify({ url: '<nginx>', ...args })}'`,
    ratePerSec: summary.achievedRatePerSec,
    requests: summary.requests,
    errors: summary.errors,
    cpuSeconds: run.cpuSeconds,
    wallSeconds: run.wallSeconds,
    peakRssMiB: run.peakRssMiB,
    interferenceSeconds: run.interferenceSeconds,
    droppedIterations: summary.droppedIterations,
    overloaded: summary.selfHealth.overloaded,
  };
}

export async function runWrk(ctx: GeneratorContext, connections: number, durationSeconds: number): Promise<GeneratorRun> {
  const args = ['-t1', `-c${connections}`, `-d${durationSeconds}s`, ctx.url];
  const run = await runPinned({ core: ctx.core, command: 'wrk', args, timeoutMs: limitMs(durationSeconds), signal: ctx.signal });
  return { generator: 'wrk', command: `wrk ${args.slice(0, -1).join(' ')} <nginx>`, ...parseWrk(run.stdout), cpuSeconds: run.cpuSeconds, wallSeconds: run.wallSeconds, peakRssMiB: run.peakRssMiB, interferenceSeconds: run.interferenceSeconds };
}

/** autocannon at full speed, or at `overallRate` requests per second across all connections. */
export async function runAutocannon(ctx: GeneratorContext, connections: number, durationSeconds: number, overallRate?: number): Promise<GeneratorRun> {
  const args = ['--json', '-c', String(connections), '-d', String(durationSeconds), ...(overallRate === undefined ? [] : ['--overallRate', String(overallRate)]), ctx.url];
  const run = await runPinned({ core: ctx.core, command: AUTOCANNON, args, timeoutMs: limitMs(durationSeconds), signal: ctx.signal });
  return {
    generator: 'autocannon',
    command: `autocannon ${args.slice(0, -1).join(' ')} <nginx>`,
    ...parseAutocannonJson(run.stdout),
    cpuSeconds: run.cpuSeconds,
    wallSeconds: run.wallSeconds,
    peakRssMiB: run.peakRssMiB,
    interferenceSeconds: run.interferenceSeconds,
  };
}

/** hey at full speed, or with `perWorkerRate` (hey's -q is per worker: total = c × q). */
export async function runHey(ctx: GeneratorContext, connections: number, durationSeconds: number, perWorkerRate?: number): Promise<GeneratorRun> {
  const args = ['-z', `${durationSeconds}s`, '-c', String(connections), ...(perWorkerRate === undefined ? [] : ['-q', String(perWorkerRate)]), ctx.url];
  const run = await runPinned({ core: ctx.core, command: 'hey', args, timeoutMs: limitMs(durationSeconds), signal: ctx.signal });
  return { generator: 'hey', command: `hey ${args.slice(0, -1).join(' ')} <nginx>`, ...parseHey(run.stdout), cpuSeconds: run.cpuSeconds, wallSeconds: run.wallSeconds, peakRssMiB: run.peakRssMiB, interferenceSeconds: run.interferenceSeconds };
}
