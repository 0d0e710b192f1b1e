import type { RunResult } from './result.ts';

/** A view of a run's result. Reporters only read the result; they never run anything. */
export interface Reporter {
  readonly name: string;
  /** Writes the view into `runDir` and returns the file written. */
  write(result: RunResult, runDir: string): Promise<string>;
}

export interface ReportOutcome {
  written: { reporter: string; file: string }[];
  failed: { reporter: string; error: string }[];
}

/**
 * Runs every reporter, isolating failures: one broken reporter must not lose the others' output.
 */
export async function writeReports(reporters: readonly Reporter[], result: RunResult, runDir: string): Promise<ReportOutcome> {
  const outcome: ReportOutcome = { written: [], failed: [] };
  for (const reporter of reporters) {
    try {
      outcome.written.push({ reporter: reporter.name, file: await reporter.write(result, runDir) });
    } catch (error) {
      outcome.failed.push({ reporter: reporter.name, error: (error as Error).message });
    }
  }
  return outcome;
}
