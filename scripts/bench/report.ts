/**
 * The benchmark's verdicts and its results file: medians per generator, the issue's targets judged
 * on them, and the Markdown page (docs/benchmarks/load.md) written from the same JSON.
 */
import type { GeneratorName, GeneratorRun } from './generators.ts';
import { median } from './parse.ts';
import type { BenchPlan } from './plan.ts';

export interface BenchResults {
  /** ISO date-time the run finished. */
  date: string;
  plan: BenchPlan;
  machine: Record<string, string>;
  versions: Record<string, string>;
  throughput: Partial<Record<GeneratorName, GeneratorRun[]>>;
  cpu: Partial<Record<GeneratorName, GeneratorRun[]>>;
  accuracy: GeneratorRun[];
  rss: GeneratorRun[];
  /** 1-minute load average at the start of each round: above ~2 on this 2-core machine, other work competed. */
  loadAverages: number[];
}

export interface TargetVerdict {
  target: string;
  measured: string;
  pass: boolean;
  /** For a miss: by how much, in the target's own terms. */
  shortfall?: string;
}

function allRuns(results: BenchResults): GeneratorRun[] {
  return [...Object.values(results.throughput).flat(), ...Object.values(results.cpu).flat(), ...results.accuracy, ...results.rss];
}

function medianOf(runs: readonly GeneratorRun[] | undefined, pick: (run: GeneratorRun) => number): number {
  if (runs === undefined || runs.length === 0) return Number.NaN;
  return median(runs.map(pick));
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const pct = (n: number): string => `${fmt(n * 100, 1)} %`;

/** The four targets of issue 3, each judged on the medians (accuracy on the worst run, RSS on the highest). */
export function judgeTargets(results: BenchResults): TargetVerdict[] {
  const rate = (gen: GeneratorName): number => medianOf(results.throughput[gen], (r) => r.ratePerSec);
  const engine = rate('engine');
  const autocannon = rate('autocannon');
  const wrk = rate('wrk');
  const verdicts: TargetVerdict[] = [];
  const vsAutocannon = engine / autocannon;
  verdicts.push({
    target: 'max throughput ≥ autocannon',
    measured: `${fmt(engine)} vs ${fmt(autocannon)} req/s (×${fmt(vsAutocannon, 2)})`,
    pass: vsAutocannon >= 1,
    ...(vsAutocannon < 1 ? { shortfall: `${pct(1 - vsAutocannon)} below autocannon` } : {}),
  });
  const vsWrk = engine / wrk;
  verdicts.push({
    target: 'max throughput ≥ 0.8 × wrk',
    measured: `${fmt(engine)} vs ${fmt(wrk)} req/s (×${fmt(vsWrk, 2)})`,
    pass: vsWrk >= 0.8,
    ...(vsWrk < 0.8 ? { shortfall: `×${fmt(vsWrk, 2)} of wrk, ${fmt(0.8 * wrk - engine)} req/s short of 0.8 × wrk` } : {}),
  });
  const cpuEngine = medianOf(results.cpu.engine, (r) => r.cpuSeconds);
  const cpuAutocannon = medianOf(results.cpu.autocannon, (r) => r.cpuSeconds);
  verdicts.push({
    target: `CPU at ${fmt(results.plan.cpuRate)} req/s ≤ autocannon`,
    measured: `${fmt(cpuEngine, 2)} vs ${fmt(cpuAutocannon, 2)} CPU s (×${fmt(cpuEngine / cpuAutocannon, 2)})`,
    pass: cpuEngine <= cpuAutocannon,
    ...(cpuEngine > cpuAutocannon ? { shortfall: `${pct(cpuEngine / cpuAutocannon - 1)} more CPU than autocannon` } : {}),
  });
  const worstError = Math.max(...results.accuracy.map((r) => Math.abs(r.ratePerSec - results.plan.accuracyRate) / results.plan.accuracyRate));
  verdicts.push({
    target: `rate at ${fmt(results.plan.accuracyRate)} req/s within 1 % (every run)`,
    measured: `median ${fmt(medianOf(results.accuracy, (r) => r.ratePerSec), 1)} req/s, worst error ${pct(worstError)}`,
    pass: worstError <= 0.01,
    ...(worstError > 0.01 ? { shortfall: `worst run off by ${pct(worstError)}` } : {}),
  });
  const peakRss = Math.max(...results.rss.map((r) => r.peakRssMiB));
  verdicts.push({
    target: `peak RSS at ${fmt(results.plan.rssRate)} req/s < 150 MB (highest run)`,
    measured: `${fmt(peakRss, 1)} MiB (median ${fmt(medianOf(results.rss, (r) => r.peakRssMiB), 1)} MiB)`,
    // MB as MiB: the stricter reading (150 MiB > 150 MB would be the looser one).
    pass: peakRss * 1.048576 < 150,
    ...(peakRss * 1.048576 >= 150 ? { shortfall: `${fmt(peakRss * 1.048576 - 150, 1)} MB over` } : {}),
  });
  return verdicts;
}

function generatorRows(byGenerator: Partial<Record<GeneratorName, GeneratorRun[]>>, baseline: GeneratorName): string[] {
  const baseRate = medianOf(byGenerator[baseline], (r) => r.ratePerSec);
  const baseCpu = medianOf(byGenerator[baseline], (r) => r.cpuSeconds);
  const rows: string[] = [];
  for (const [generator, runs] of Object.entries(byGenerator) as [GeneratorName, GeneratorRun[]][]) {
    const rate = medianOf(runs, (r) => r.ratePerSec);
    const cpu = medianOf(runs, (r) => r.cpuSeconds);
    const dropped = generator === 'engine' ? fmt(medianOf(runs, (r) => r.droppedIterations ?? 0)) : '–';
    rows.push(
      `| ${generator} | ${fmt(rate)} | ${fmt(rate / baseRate, 2)} | ${runs.map((r) => fmt(r.ratePerSec)).join(', ')} | ${fmt(cpu, 2)} | ${fmt(cpu / baseCpu, 2)} | ${fmt(medianOf(runs, (r) => r.peakRssMiB), 1)} | ${fmt(runs.reduce((s, r) => s + r.errors, 0))} | ${dropped} | ${fmt(Math.max(...runs.map((r) => r.interferenceSeconds)), 2)} |`,
    );
  }
  return rows;
}

const TABLE_HEAD = ['| generator | median req/s | ratio | req/s per run | median CPU s | CPU ratio | median peak RSS MiB | errors (all runs) | engine dropped (median) | interference CPU s (max) |', '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|'];

function commands(byGenerator: Partial<Record<GeneratorName, GeneratorRun[]>>): string[] {
  return Object.values(byGenerator).map((runs) => `taskset -c 1 ${runs[0]?.command ?? ''}`);
}

/** The results page. Everything in it comes from `results`, so it can be re-rendered from load.json. */
export function renderMarkdown(results: BenchResults): string {
  const { plan } = results;
  const verdicts = judgeTargets(results);
  const lines = [
    '# Load generator benchmark',
    '',
    `Written by \`npm run bench:load\` (scripts/bench/load.ts) on ${results.date}; mode **${plan.mode}**, ${plan.runs} run(s) per measurement, medians. Raw figures: [load.json](load.json).`,
    plan.mode === 'quick' ? '\n> A quick smoke run (1 run, short durations): indicative only; run `npm run bench:load` for the real figures.\n' : '',
    '## Verdicts (issue 3 targets)',
    '',
    '| target | measured | verdict |',
    '|---|---|---|',
    ...verdicts.map((v) => `| ${v.target} | ${v.measured} | ${v.pass ? 'pass' : `**miss**: ${v.shortfall ?? ''}`} |`),
    '',
    `Why a target is missed, and the profile behind it: [README.md](README.md#analysis). Machine load: 1-minute load average at each round's start ${results.loadAverages.map((l) => fmt(l, 2)).join(', ')}; CPU seconds other processes took on the generator core per run: median ${fmt(median(allRuns(results).map((r) => r.interferenceSeconds)), 2)}, max ${fmt(Math.max(...allRuns(results).map((r) => r.interferenceSeconds)), 2)} (0 on a quiet machine).`,
    '',
    `## Maximum throughput (${plan.connections} connections, ${plan.throughputSeconds} s; ratios to wrk)`,
    '',
    `The engine runs the open model at ${fmt(plan.engineMaxRate)} iterations/s, above what it can hold, with maxVUs = ${plan.connections} (one connection per VU, like the peers' connections); its achieved rate is its throughput and the iterations it could not start are counted as dropped.`,
    '',
    ...TABLE_HEAD,
    ...generatorRows(results.throughput, 'wrk'),
    '',
    `## CPU cost at a fixed ${fmt(plan.cpuRate)} req/s for ${plan.cpuSeconds} s (ratios to autocannon)`,
    '',
    'CPU seconds (user + system) of the whole generator process, start-up included, from `/usr/bin/time`.',
    '',
    ...TABLE_HEAD,
    ...generatorRows(results.cpu, 'autocannon'),
    '',
    `## Rate accuracy at ${fmt(plan.accuracyRate)} req/s (${plan.accuracySeconds} s, engine)`,
    '',
    `Achieved (finished requests per second of the schedule): ${results.accuracy.map((r) => `${fmt(r.ratePerSec, 1)} (${pct((r.ratePerSec - plan.accuracyRate) / plan.accuracyRate)}, dropped ${fmt(r.droppedIterations ?? 0)})`).join('; ')}.`,
    '',
    `## Peak RSS at ${fmt(plan.rssRate)} req/s (${plan.rssSeconds} s, engine)`,
    '',
    `Peak resident set (getrusage ru_maxrss, the same figure as /proc's VmHWM) per run, MiB: ${results.rss.map((r) => `${fmt(r.peakRssMiB, 1)} at ${fmt(r.ratePerSec)} req/s`).join('; ')}.`,
    '',
    '## Method',
    '',
    '- Target: nginx from apt, generated config in a temp dir, `worker_processes 1`, `access_log off`, keep-alive without a request cap, a static 80-byte JSON file on 127.0.0.1, pinned with `taskset -c 0`.',
    '- Generators pinned with `taskset -c 1`, one at a time, measured by `/usr/bin/time -f "%e %U %S %M"`; runs are interleaved (round 1 of every generator, then round 2, …) so drift over time hits all alike.',
    '- The engine runs in its own process (scripts/bench/engine-runner.ts, bundled with esbuild, run with plain node): a constant-arrival-rate scenario of `GET /`.',
    '- Commands (`<nginx>` is the nginx URL):',
    '',
    '```sh',
    ...commands(results.throughput),
    ...commands(results.cpu),
    ...(results.accuracy[0] !== undefined ? [`taskset -c 1 ${results.accuracy[0].command}`] : []),
    ...(results.rss[0] !== undefined ? [`taskset -c 1 ${results.rss[0].command}`] : []),
    '```',
    '',
    '## Machine and versions',
    '',
    ...Object.entries(results.machine).map(([k, v]) => `- ${k}: ${v}`),
    ...Object.entries(results.versions).map(([k, v]) => `- ${k}: ${v}`),
    '',
  ];
  return lines.join('\n');
}
