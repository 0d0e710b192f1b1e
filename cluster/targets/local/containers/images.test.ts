import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { MissingBinaryError } from '../binaries.ts';
import { docker, imageExists } from './docker.ts';
import { describeWithDocker } from './docker-test-support.ts';
import { ensureImage, IMAGE_LABEL, resolveImage } from './images.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describeWithDocker('locally built images', () => {
  it('builds an image from the host binary, tagged by content hash, and finds it cached the second time', async () => {
    const first = await ensureImage('redis');
    expect(first.image).toMatch(/^hastecrm-resilience\/redis:[0-9a-f]{16}$/);
    // Rebuild from scratch to prove the build path, then the cached path.
    await docker(['rmi', '--force', first.image]);
    const started = Date.now();
    const built = await ensureImage('redis');
    const buildMs = Date.now() - started;
    expect(built).toEqual({ image: first.image, built: true });
    const cachedStart = Date.now();
    expect(await ensureImage('redis')).toEqual({ image: first.image, built: false });
    console.log(`redis image: built in ${buildMs} ms, cached lookup ${Date.now() - cachedStart} ms`);
    const config = JSON.parse(await docker(['image', 'inspect', '--format', '{{json .Config}}', first.image])) as { User: string; Labels: Record<string, string>; Cmd: string[] };
    expect(config.User).toBe('999:999'); // never root
    expect(config.Labels).toEqual({ [IMAGE_LABEL]: 'hastecrm-resilience' });
    expect(config.Cmd).toEqual(['redis-server']);
    // The binary really runs inside: its shared libraries came along.
    expect(await docker(['run', '--rm', '--network', 'none', first.image, 'redis-server', '--version'])).toMatch(/Redis server v=7\./);
  });

  it('PostgreSQL and Prometheus images carry runnable binaries', async () => {
    const postgres = await ensureImage('postgres');
    expect(await docker(['run', '--rm', '--network', 'none', postgres.image, 'postgres', '--version'], { timeoutMs: 60_000 })).toMatch(/PostgreSQL\) 15\./);
    const prometheus = await ensureImage('prometheus');
    expect(await docker(['run', '--rm', '--network', 'none', prometheus.image, '--version'], { timeoutMs: 60_000 })).toMatch(/prometheus, version 2\./);
  });

  it('fails with the install command when the host has no binary to build from', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'images-test-'));
    dirs.push(empty);
    await expect(ensureImage('redis', { path: empty })).rejects.toThrow(MissingBinaryError);
    await expect(ensureImage('postgres', { path: empty, postgresLibDir: empty })).rejects.toThrow(/"postgres" was not found.*apt-get install -y postgresql/);
  });

  it('resolveImage: a configured image must be present locally; absent official images fall back to the local build', async () => {
    await expect(resolveImage('redis', { image: 'example.invalid/redis:none' })).rejects.toThrow(/"example.invalid\/redis:none" for redis is not present.*docker load/);
    const local = await ensureImage('redis');
    expect(await resolveImage('redis', { image: local.image })).toEqual({ image: local.image, source: 'configured' });
    // No registry here: redis:7 is absent, so the default is the local build.
    expect(await imageExists('redis:7')).toBe(false);
    expect(await resolveImage('redis')).toEqual({ image: local.image, source: 'cached-build' });
  });
});
