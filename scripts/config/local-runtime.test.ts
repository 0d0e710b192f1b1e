import { describe, expect, it } from 'vitest';
import { apiSlos } from '../../slo/api.ts';
import { ConfigError } from './errors.ts';
import { resolveConfig } from './resolve.ts';

/** The local target's `runtime` and `images` fields (issue 8): defaults, overrides, errors. */

const withTarget = (target: Record<string, unknown>): unknown => ({
  suites: { api: { target: { type: 'local', ...target }, load: { scenario: 'scenarios/api.ts' }, slos: apiSlos } },
});

function issuesOf(raw: unknown): string[] {
  try {
    resolveConfig(raw, '/project/resilience.config.ts');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.path}: got ${i.given}; ${i.expected}`);
  }
  throw new Error('expected a ConfigError');
}

describe('local target runtime and images', () => {
  it('defaults every service to auto and no image override', () => {
    const target = resolveConfig(withTarget({}), '/project/resilience.config.ts').suites.api!.target;
    if (target.type !== 'local') throw new Error('expected a local target');
    expect(target.runtime).toEqual({ postgres: 'auto', redis: 'auto', prometheus: 'auto' });
    expect(target.images).toEqual({});
  });

  it('takes a runtime per service and image names, filling the rest with auto', () => {
    const target = resolveConfig(withTarget({ runtime: { postgres: 'container' }, images: { postgres: 'postgres:15', redis: 'registry.local:5000/redis@sha256:abc' } }), '/project/resilience.config.ts').suites.api!.target;
    if (target.type !== 'local') throw new Error('expected a local target');
    expect(target.runtime).toEqual({ postgres: 'container', redis: 'auto', prometheus: 'auto' });
    expect(target.images).toEqual({ postgres: 'postgres:15', redis: 'registry.local:5000/redis@sha256:abc' });
  });

  it('names the field, the value and the allowed values for a bad runtime, service or image', () => {
    const issues = issuesOf(withTarget({ runtime: { redis: 'docker', mysql: 'auto' }, images: { prometheus: 'Prom Image' } }));
    expect(issues.join('\n')).toMatch(/suites\.api\.target\.runtime\.redis: got "docker"; .*process.*container.*auto/);
    expect(issues.join('\n')).toMatch(/suites\.api\.target\.runtime.*mysql/);
    expect(issues.join('\n')).toMatch(/suites\.api\.target\.images\.prometheus: got "Prom Image"; expected a local image name like "postgres:15"/);
  });
});
