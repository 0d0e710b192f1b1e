/**
 * What the benchmark measures, and how long: the four experiments of issue 3 with their durations,
 * run counts and targets, from the command line (`--runs N`, `--quick`).
 */

export interface BenchPlan {
  mode: 'full' | 'quick';
  runs: number;
  /** Connections for the max-throughput runs (wrk -c, autocannon -c, hey -c, the engine's maxVUs). */
  connections: number;
  throughputSeconds: number;
  /** The open-model engine's rate for max throughput: above what it can hold, so the achieved rate is its ceiling. */
  engineMaxRate: number;
  cpuRate: number;
  cpuSeconds: number;
  cpuConnections: number;
  accuracyRate: number;
  accuracySeconds: number;
  rssRate: number;
  rssSeconds: number;
  outDir: string;
}

export const USAGE = `usage: node --import tsx scripts/bench/load.ts [--runs N] [--quick] [--out-dir DIR]
  --runs N      runs per measurement (default 5; --quick: 1)
  --quick       smoke run: 1 run, short durations (~1 minute); results are marked "quick"
  --out-dir D   where load.md and load.json go, relative to the project root (default docs/benchmarks)`;

/** Parses the arguments; throws an Error naming the bad argument and the usage. */
export function parsePlan(argv: readonly string[]): BenchPlan {
  let quick = false;
  let runs: number | undefined;
  let outDir = 'docs/benchmarks';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--runs' || arg === '--out-dir') {
      const value = argv[i + 1];
      if (value === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      i += 1;
      if (arg === '--out-dir') outDir = value;
      else {
        runs = Number(value);
        if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`--runs must be an integer from 1 to 50, got ${JSON.stringify(value)}\n${USAGE}`);
      }
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return {
    mode: quick ? 'quick' : 'full',
    runs: runs ?? (quick ? 1 : 5),
    connections: 50,
    throughputSeconds: quick ? 3 : 10,
    // Far above any peer's quiet-machine maximum (wrk reached 83k req/s here): a lower ceiling would cap the
    // engine's figure by its schedule rather than by its speed.
    engineMaxRate: 200_000,
    cpuRate: 2_000,
    cpuSeconds: quick ? 5 : 20,
    cpuConnections: 20,
    accuracyRate: 5_000,
    accuracySeconds: quick ? 5 : 10,
    rssRate: 10_000,
    rssSeconds: quick ? 5 : 10,
    outDir,
  };
}
