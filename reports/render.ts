import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { grafanaDashboardReporter } from './grafana-dashboard.ts';
import { htmlReporter } from './html-reporter.ts';
import { junitReporter } from './junit-reporter.ts';
import { markdownReporter } from './markdown-reporter.ts';
import { writeReports, type ReportOutcome, type Reporter } from './reporter.ts';
import { RESULT_SCHEMA_VERSION, type RunResult } from './result.ts';

/**
 * `resilience report <run-dir>`: the views rendered again from a run folder's result.json (the
 * source), e.g. after the HTML view improved, or for a result copied from CI. The result is
 * validated against reports/schema/result.schema.json first: a view is never rendered from
 * something that only looks like a result.
 */

/** The views rendered from result.json (not result.json itself, which is their source). */
export const VIEW_REPORTERS: readonly Reporter[] = [htmlReporter, junitReporter, markdownReporter, grafanaDashboardReporter];

/** result.json schema versions this harness reads. */
export const SUPPORTED_SCHEMA_VERSIONS: readonly number[] = [RESULT_SCHEMA_VERSION];

/** The JSON Schema of result.json, as committed in reports/schema/. */
export const RESULT_SCHEMA_FILE = new URL('./schema/result.schema.json', import.meta.url);

/** A result.json that cannot be rendered: missing, not JSON, of another schema version, or not matching the schema. */
export class ResultFileError extends Error {
  override readonly name = 'ResultFileError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Re-renders every view in `runDir` from its result.json, with the same failure isolation as a run
 * (one failing view does not stop the others). Rejects with a ResultFileError, before writing
 * anything, when the result cannot be read or is not valid.
 */
export async function renderRunDir(runDir: string, reporters: readonly Reporter[] = VIEW_REPORTERS): Promise<ReportOutcome> {
  const info = await stat(runDir).catch(() => undefined);
  if (!info?.isDirectory()) throw new ResultFileError(runDir, `${runDir} is not a folder: give the run folder, e.g. reports/runs/<run-id>`);
  const result = await readRunResult(path.join(runDir, 'result.json'));
  return writeReports(reporters, result, runDir);
}

/** Reads and validates a result.json. Rejects with a ResultFileError naming the file and the first problem. */
export async function readRunResult(file: string): Promise<RunResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ResultFileError(file, code === 'ENOENT' ? `${file} does not exist: is ${path.dirname(file)} a run folder?` : `cannot read ${file}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ResultFileError(file, `${file} is not JSON: ${(error as Error).message}`);
  }
  const problem = resultProblem(data);
  if (problem) throw new ResultFileError(file, `${file}: ${problem}`);
  return data as RunResult;
}

/**
 * Why `data` is not a result this harness can render, or undefined when it is one. The schema
 * version is checked first, so a result of another version says so instead of listing the fields
 * that changed.
 */
export function resultProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'is not a run result: expected a JSON object';
  const version = (data as { schemaVersion?: unknown }).schemaVersion;
  const supported = SUPPORTED_SCHEMA_VERSIONS.join(', ');
  if (version === undefined) return `has no schemaVersion; this harness reads result schema version ${supported}`;
  if (!SUPPORTED_SCHEMA_VERSIONS.includes(version as number)) {
    const by = (data as { environment?: { harnessVersion?: unknown } }).environment?.harnessVersion;
    return `has schemaVersion ${JSON.stringify(version)}, which this harness cannot read (it reads ${supported})${typeof by === 'string' ? `; it was written by harness ${by}, render it with that version` : ''}`;
  }
  const validate = resultValidator();
  if (validate(data)) return undefined;
  return `does not match the result schema: ${describeSchemaError(validate.errors?.[0])}`;
}

let validator: ValidateFunction | undefined;

/** Compiled once, on first use: reports that never validate do not pay for it. */
function resultValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(RESULT_SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
    // allowUnionTypes: the schema says `"type": ["number", "null"]` for values that may be missing.
    // verbose: errors carry the offending value, so the message can quote it.
    validator = new Ajv2020({ strict: true, allowUnionTypes: true, verbose: true }).compile(schema);
  }
  return validator;
}

/** "/slos/3/verdict: must be one of pass, fail, inconclusive (got "maybe")". */
function describeSchemaError(error: ErrorObject | undefined): string {
  if (!error) return 'unknown error';
  const where = error.instancePath || '(the top level)';
  if (error.keyword === 'required') return `${where}: missing required field "${(error.params as { missingProperty: string }).missingProperty}"`;
  const got = error.data === undefined ? '' : ` (got ${truncate(JSON.stringify(error.data))})`;
  if (error.keyword === 'enum') return `${where}: must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}${got}`;
  return `${where}: ${error.message ?? error.keyword}${got}`;
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
