/**
 * The embedded engine as a stand-alone generator process, so the benchmark can pin it to a core and
 * measure its CPU and memory like wrk's or hey's. Bundled by `load.ts` with esbuild and run with
 * plain node (no TypeScript loader in the measured CPU time).
 *
 * Usage: node engine-runner.mjs '{"url":"http://127.0.0.1:8080/","rate":2000,"durationSeconds":20,"preAllocatedVUs":20,"maxVUs":20}'
 * Prints the LoadSummary as one JSON line on stdout; exits 2 on bad arguments, 1 on a failed run.
 */
import { createEmbeddedEngine } from '../../scenarios/engine/engine.ts';
import { defineScenario } from '../../scenarios/types.ts';
import { parseRunnerArgs } from './runner-args.ts';
import type { EngineRunnerArgs } from './runner-args.ts';

async function main(): Promise<void> {
  let args: EngineRunnerArgs;
  try {
    args = parseRunnerArgs(process.argv[2]);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const engine = await createEmbeddedEngine({
    scenario: defineScenario({
      name: 'bench',
      executor: 'constant-arrival-rate',
      rate: args.rate,
      duration: `${args.durationSeconds}s`,
      preAllocatedVUs: args.preAllocatedVUs,
      maxVUs: args.maxVUs,
      gracefulStop: '5s',
      requests: [{ name: 'GET /', weight: 1, method: 'GET', path: '/' }],
    }),
    baseUrl: new URL(args.url).origin,
  });
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await engine.run(controller.signal);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await engine.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`engine-runner failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
