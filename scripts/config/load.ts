import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from './errors.ts';
import { resolveConfig, type ResolvedConfig } from './resolve.ts';

export const DEFAULT_CONFIG_FILE = 'resilience.config.ts';

/**
 * Imports `resilience.config.ts` (TypeScript, through tsx, which the CLI registers) and resolves
 * it. A missing file, a file that throws while loading, or an invalid config are ConfigErrors.
 */
export async function loadConfig(configFile: string = DEFAULT_CONFIG_FILE, cwd = process.cwd()): Promise<ResolvedConfig> {
  const file = path.resolve(cwd, configFile);
  if (!existsSync(file))
    throw new ConfigError(file, [{ path: '', given: 'missing', expected: `no config file at ${file}; create ${DEFAULT_CONFIG_FILE} or pass --config <file>` }]);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (error) {
    throw new ConfigError(file, [{ path: '', given: 'a file that failed to load', expected: `the file must import cleanly: ${(error as Error).message}` }]);
  }
  if (module.default === undefined)
    throw new ConfigError(file, [{ path: '', given: 'no default export', expected: 'export default defineConfig({ suites: { … } })' }]);
  return resolveConfig(module.default, file);
}
