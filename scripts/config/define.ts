import type { UserConfig } from './schema.ts';

/**
 * Typed identity for `resilience.config.ts`: gives editors completion and type errors while the
 * file is written. Validation happens when the harness loads it.
 */
export function defineConfig(config: UserConfig): UserConfig {
  return config;
}

export type { UserConfig };
