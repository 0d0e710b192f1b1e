/**
 * Builds the k6 script for a scenario file: one self-contained ES module that k6 runs with
 * `k6 run <name>.k6.js` (or that a k6-operator ConfigMap carries).
 *
 * esbuild bundles the scenario file, `runtime.ts`, `k6-options.ts` and `../types.ts` into one file,
 * leaving `k6` and `k6/*` as imports for k6 to resolve. Platform `neutral`: k6 is neither a browser
 * nor Node, so a scenario that imports a Node module fails here, naming the file, instead of inside
 * k6. Target `es2020`: k6's JavaScript engine (sobek, a goja fork) runs ES2020 syntax (optional
 * chaining, `??`, async/await), while esbuild lowers what it does not reliably support (class
 * fields, logical assignment, private methods).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { ScenarioDefinition } from '../types.ts';
import { buildK6Options, execFunctionName } from './k6-options.ts';
import type { K6Options, K6OptionsInput } from './k6-options.ts';

export interface BundleOptions extends K6OptionsInput {
  /** The scenario file (exports `defineScenario(...)`, or a list of them, as default). */
  scenarioFile: string;
  /** Where `<basename>.k6.js` is written; created if missing. */
  outDir: string;
}

export interface BundleResult {
  /** Absolute path of the written script. */
  scriptPath: string;
  /** The options the script exports (what k6 will run), for plans and reports. */
  options: K6Options;
  /** Exported exec functions, one per scenario, in definition order. */
  execNames: string[];
}

/** The scenario file could not be loaded or bundled; the message names the file. */
export class K6BundleError extends Error {
  override name = 'K6BundleError';
}

/** esbuild's syntax target for k6 (see the module comment). */
export const K6_ESBUILD_TARGET = 'es2020';

const RUNTIME_FILE = fileURLToPath(new URL('./runtime.ts', import.meta.url));

/**
 * Loads `scenarioFile` (to validate it and learn its scenario names), then writes
 * `<outDir>/<basename>.k6.js`. The script reads the target from `__ENV.BASE_URL`
 * (`k6 run -e BASE_URL=…`). Throws K6BundleError naming the file when it cannot be imported, has
 * no scenario as default export, has invalid options, or does not bundle for k6.
 */
export async function bundleScenario(options: BundleOptions): Promise<BundleResult> {
  const scenarioFile = path.resolve(options.scenarioFile);
  const definitions = await loadDefinitions(scenarioFile);
  const { scenarioFile: _file, outDir: _out, ...optionsInput } = options;
  let k6Options: K6Options;
  try {
    k6Options = buildK6Options(definitions, optionsInput);
  } catch (error) {
    throw new K6BundleError(`scenario file ${scenarioFile}: ${(error as Error).message}`);
  }
  const execNames = definitions.map((definition) => execFunctionName(definition.name));
  const outDir = path.resolve(options.outDir);
  await mkdir(outDir, { recursive: true });
  const scriptPath = path.join(outDir, `${path.basename(scenarioFile).replace(/\.[cm]?[jt]s$/, '')}.k6.js`);
  try {
    await build({
      stdin: { contents: entrySource(scenarioFile, optionsInput, execNames), resolveDir: path.dirname(scenarioFile), sourcefile: 'k6-entry.js', loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: K6_ESBUILD_TARGET,
      external: ['k6', 'k6/*'],
      outfile: scriptPath,
      write: true,
      logLevel: 'silent',
      legalComments: 'none',
      charset: 'utf8',
    });
  } catch (error) {
    throw new K6BundleError(`cannot bundle scenario file ${scenarioFile} for k6: ${(error as Error).message}`);
  }
  return { scriptPath, options: k6Options, execNames };
}

async function loadDefinitions(scenarioFile: string): Promise<ScenarioDefinition<unknown>[]> {
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(scenarioFile).href)) as { default?: unknown };
  } catch (error) {
    throw new K6BundleError(`cannot load scenario file ${scenarioFile}: ${(error as Error).message}`);
  }
  const exported = loaded.default;
  const list = Array.isArray(exported) ? exported : [exported];
  if (list.length === 0 || list.some((d) => typeof d !== 'object' || d === null || typeof (d as { name?: unknown }).name !== 'string')) {
    throw new K6BundleError(`scenario file ${scenarioFile} has no scenario as default export: write \`export default defineScenario({ name, executor, requests, … })\``);
  }
  return list as ScenarioDefinition<unknown>[];
}

/** The generated entry module: k6 reads `options`, `setup` and the exec functions as named exports. */
function entrySource(scenarioFile: string, input: K6OptionsInput, execNames: readonly string[]): string {
  const config = {
    ...(input.thresholds === undefined ? {} : { thresholds: input.thresholds }),
    ...(input.setupTimeout === undefined ? {} : { setupTimeout: input.setupTimeout }),
    ...(input.summaryTrendStats === undefined ? {} : { summaryTrendStats: input.summaryTrendStats }),
  };
  return [
    `import scenarios from ${JSON.stringify(scenarioFile)};`,
    `import { createK6Script } from ${JSON.stringify(RUNTIME_FILE)};`,
    `const script = createK6Script(Array.isArray(scenarios) ? scenarios : [scenarios], { ...${JSON.stringify(config)}, baseUrl: __ENV.BASE_URL });`,
    'export const options = script.options;',
    'export function setup() { return script.setup(); }',
    ...execNames.map((name) => `export function ${name}(data) { return script.exec[${JSON.stringify(name)}](data); }`),
    '',
  ].join('\n');
}
