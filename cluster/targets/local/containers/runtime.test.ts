import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { describeWithDocker } from './docker-test-support.ts';
import { describeRuntimes, NoRuntimeError, selectRuntime } from './runtime.ts';

const dirs: string[] = [];
const savedDockerHost = process.env.DOCKER_HOST;

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = savedDockerHost;
});

/** A PATH folder holding executable files of the given names, and an empty postgres lib dir. */
function fixturePath(names: string[]): { path: string; postgresLibDir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runtime-test-'));
  dirs.push(dir);
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  mkdirSync(path.join(dir, 'pglib'));
  for (const name of names) {
    writeFileSync(path.join(bin, name), '#!/bin/sh\n');
    chmodSync(path.join(bin, name), 0o755);
  }
  return { path: bin, postgresLibDir: path.join(dir, 'pglib') };
}

/** Makes the real docker CLI talk to a socket where no engine listens: Docker "absent", for real. */
function dockerAbsent(): void {
  process.env.DOCKER_HOST = `unix://${path.join(os.tmpdir(), 'no-docker-here.sock')}`;
}

describeWithDocker('selectRuntime', () => {
  it('auto picks the process when the binary exists, the container when only Docker answers', async () => {
    const withRedis = fixturePath(['redis-server']);
    const chosen = await selectRuntime('redis', 'auto', { binaries: withRedis });
    expect(chosen.runtime).toBe('process');
    expect(chosen.reason).toContain('redis-server found');
    const empty = fixturePath([]);
    const choice = await selectRuntime('redis', 'auto', { binaries: empty });
    expect(choice).toMatchObject({ runtime: 'container' });
    expect(choice.reason).toMatch(/redis-server not found, Docker \S+ answers/);
    // postgres needs both of its binaries for the process runtime.
    expect((await selectRuntime('postgres', 'auto', { binaries: fixturePath(['postgres']) })).runtime).toBe('container');
    expect((await selectRuntime('postgres', 'container', { binaries: fixturePath(['postgres', 'initdb']) })).runtime).toBe('container');
  });

  it('fails with both install routes when neither the binary nor Docker is there', async () => {
    dockerAbsent();
    const empty = fixturePath([]);
    const error = await selectRuntime('prometheus', 'auto', { binaries: empty, dockerTimeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoRuntimeError);
    expect((error as Error).message).toMatch(/apt-get install -y prometheus/);
    expect((error as Error).message).toMatch(/apt-get install -y docker\.io/);
  });

  it('refuses an explicit runtime that cannot run, naming the fix', async () => {
    await expect(selectRuntime('redis', 'process', { binaries: fixturePath([]) })).rejects.toThrow(/runtime "process" needs redis-server.*apt-get install -y redis-server/);
    dockerAbsent();
    await expect(selectRuntime('redis', 'container', { binaries: fixturePath(['redis-server']), dockerTimeoutMs: 5_000 })).rejects.toThrow(/runtime "container" needs Docker.*docker\.io/);
    await expect(selectRuntime('redis', 'sometimes' as never)).rejects.toThrow(/"sometimes": use process, container or auto/);
    await expect(selectRuntime('mysql' as never, 'auto')).rejects.toThrow(/unknown service "mysql"/);
  });

  it('describeRuntimes reports every service, including the ones that cannot run, without throwing', async () => {
    dockerAbsent();
    const rows = await describeRuntimes({ redis: 'process' }, { binaries: fixturePath(['redis-server']), dockerTimeoutMs: 5_000 });
    expect(rows.map((r) => [r.service, r.preference, r.runtime])).toEqual([
      ['postgres', 'auto', 'none'],
      ['redis', 'process', 'process'],
      ['prometheus', 'auto', 'none'],
    ]);
    expect(rows[0]?.reason).toMatch(/postgres and initdb not found.*Docker did not answer/);
  });
});
