/** The engine runner's command-line contract, shared by the runner and the benchmark that starts it. */

/** One constant-arrival-rate run of GET <url>. */
export interface EngineRunnerArgs {
  url: string;
  rate: number;
  durationSeconds: number;
  preAllocatedVUs: number;
  maxVUs: number;
}

/** Validates the runner's one JSON argument; throws naming the bad field. */
export function parseRunnerArgs(text: string | undefined): EngineRunnerArgs {
  if (text === undefined) throw new Error('engine-runner needs one JSON argument: {"url","rate","durationSeconds","preAllocatedVUs","maxVUs"}');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`engine-runner argument is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const args = value as Record<string, unknown>;
  if (typeof args.url !== 'string' || !args.url.startsWith('http://127.0.0.1:')) throw new Error(`url must be http://127.0.0.1:<port>/…, got ${JSON.stringify(args.url)}`);
  for (const field of ['rate', 'durationSeconds', 'preAllocatedVUs', 'maxVUs'] as const) {
    const n = args[field];
    if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw new Error(`${field} must be a positive number, got ${JSON.stringify(n)}`);
  }
  return args as unknown as EngineRunnerArgs;
}
