import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinary, INSTALL_HINTS, MissingBinaryError, requireBinary, type BinaryName } from './binaries.ts';

/** A fixture tree: two PATH folders and a fake /usr/lib/postgresql with several versions. */
let root: string;

function executable(path: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, 0o755);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'binaries-test-'));
  executable(join(root, 'bin1', 'promtool'));
  executable(join(root, 'bin2', 'promtool'));
  executable(join(root, 'bin2', 'stress-ng'));
  writeFileSync(join(root, 'bin1', 'stress-ng'), 'not executable'); // must be skipped
  mkdirSync(join(root, 'bin1', 'k6')); // a folder, not a binary
  for (const version of ['9.6', '13', '15']) executable(join(root, 'pglib', version, 'bin', 'postgres'));
  executable(join(root, 'pglib', '13', 'bin', 'initdb'));
  mkdirSync(join(root, 'pglib', '16', 'bin'), { recursive: true }); // leftover of an uninstalled version
  mkdirSync(join(root, 'pglib', 'common'), { recursive: true });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const lookup = (): { path: string; postgresLibDir: string } => ({ path: [join(root, 'bin1'), join(root, 'bin2')].join(delimiter), postgresLibDir: join(root, 'pglib') });

describe('findBinary', () => {
  it('returns the first executable file on PATH, in PATH order', () => {
    expect(findBinary('promtool', lookup())).toBe(join(root, 'bin1', 'promtool'));
  });

  it('skips files that are not executable and folders', () => {
    expect(findBinary('stress-ng', lookup())).toBe(join(root, 'bin2', 'stress-ng'));
    expect(findBinary('k6', lookup())).toBeUndefined();
  });

  it('finds postgres under the highest installed version, compared as numbers (15 > 9.6), ignoring empty version folders', () => {
    expect(findBinary('postgres', lookup())).toBe(join(root, 'pglib', '15', 'bin', 'postgres'));
    expect(findBinary('initdb', lookup())).toBe(join(root, 'pglib', '13', 'bin', 'initdb'));
  });

  it('looks in the PostgreSQL lib folder only for postgres and initdb', () => {
    executable(join(root, 'pglib', '15', 'bin', 'kubectl'));
    expect(findBinary('kubectl', lookup())).toBeUndefined();
  });

  it('finds the real redis-server of this machine on the default PATH', () => {
    expect(findBinary('redis-server')).toMatch(/\/redis-server$/);
  });
});

describe('requireBinary', () => {
  it('returns the path when found', () => {
    expect(requireBinary('promtool', lookup())).toBe(join(root, 'bin1', 'promtool'));
  });

  it.each<[BinaryName, string]>([
    ['prometheus', 'apt-get install -y prometheus'],
    ['redis-server', 'apt-get install -y redis-server'],
    ['stress-ng', 'apt-get install -y stress-ng'],
    ['docker', 'apt-get install -y docker.io'],
    ['kind', 'https://kind.sigs.k8s.io/'],
    ['k6', 'https://grafana.com/docs/k6/'],
    ['kubectl', 'https://kubernetes.io/docs/tasks/tools/'],
  ])('throws MissingBinaryError for a missing %s naming the binary and "%s"', (name, hint) => {
    const empty = { path: join(root, 'nowhere'), postgresLibDir: join(root, 'nowhere') };
    let thrown: unknown;
    try {
      requireBinary(name, empty);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MissingBinaryError);
    const error = thrown as MissingBinaryError;
    expect(error.binary).toBe(name);
    expect(error.installHint).toBe(INSTALL_HINTS[name]);
    expect(error.message).toContain(`"${name}"`);
    expect(error.message).toContain(hint);
  });

  it('says where it looked for postgres and how to install it', () => {
    expect(() => requireBinary('postgres', { path: '', postgresLibDir: join(root, 'nowhere') })).toThrow(/"postgres".*\/usr\/lib\/postgresql.*apt-get install -y postgresql/);
  });
});
