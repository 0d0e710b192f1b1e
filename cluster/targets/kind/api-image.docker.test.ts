import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../../scripts/util/wait.ts';
import { TestDependencies } from '../../apps/api/test-helpers.ts';
import { freePort } from '../local/ports.ts';
import { buildApiImage } from './api-image.ts';

// The real Dockerfile built by the real docker daemon, and the image run against a real PostgreSQL
// and Redis. The only stand-in is the base image: node:20-slim cannot be pulled here (no registry),
// so a minimal one is made from this machine's own Node 20 binary and its shared libraries
// (`docker import`) and passed as the NODE_IMAGE build arg. Everything is removed in afterAll.
// Skipped, with the reason printed, only where no docker daemon answers.

const dockerInfo = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false, timeout: 15_000 });
const dockerReason = dockerInfo.failed ? `docker is not usable here: ${dockerInfo.stderr.trim() || dockerInfo.message}` : undefined;
if (dockerReason) console.log(`[api image docker test] skipped: ${dockerReason}`);

const suffix = randomBytes(4).toString('hex');
const baseImage = `resilience-test/node-base:${suffix}`;
const container = `resilience-api-image-test-${suffix}`;

describe.skipIf(dockerReason !== undefined)('the API image (real docker build)', () => {
  const deps = new TestDependencies();
  let image: string | undefined;
  let rootfs: string | undefined;

  beforeAll(async () => {
    rootfs = mkdtempSync(join(tmpdir(), 'api-image-rootfs-'));
    const node = realpathSync(process.execPath);
    cpSync(node, join(rootfs, 'usr/local/bin/node'));
    const ldd = await execa('ldd', [node]);
    for (const lib of ldd.stdout.matchAll(/(\/\S+)/g)) {
      const path = lib[1]!;
      mkdirSync(join(rootfs, dirname(path)), { recursive: true });
      cpSync(realpathOrSelf(path), join(rootfs, path));
    }
    await execa('sh', ['-c', `tar -C "${rootfs}" -c . | docker import - ${baseImage}`]);
    await deps.start();
  }, 120_000);

  afterAll(async () => {
    await execa('docker', ['rm', '-f', container], { reject: false });
    if (image) await execa('docker', ['rmi', '-f', image], { reject: false });
    await execa('docker', ['rmi', '-f', baseImage], { reject: false });
    await deps.stop();
    if (rootfs) rmSync(rootfs, { recursive: true, force: true });
  });

  it('builds, runs as uid 10001, serves the API against PostgreSQL and Redis, and stops gracefully on SIGTERM', async () => {
    image = await buildApiImage({ nodeImage: baseImage });
    const inspect = await execa('docker', ['inspect', '--format', '{{.Config.User}}', image]);
    expect(inspect.stdout.trim()).toBe('10001:10001');

    const port = await freePort();
    const env = deps.env({ PORT: String(port), HOST: '127.0.0.1', REPLICA_NAME: 'api-in-docker' });
    await execa('docker', ['run', '-d', '--name', container, '--network', 'host', ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), image]);
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitUntil(
      async () => {
        const res = await fetch(`${baseUrl}/ready`, { signal: AbortSignal.timeout(2_000) });
        await res.body?.cancel();
        return res.status === 200;
      },
      { what: `the API container on ${baseUrl}`, timeoutMs: 30_000 },
    );
    const created = await fetch(`${baseUrl}/api/contacts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ada', email: `ada-${suffix}@example.com` }) });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-replica')).toBe('api-in-docker');
    const uid = await execa('docker', ['exec', container, 'node', '-e', 'process.stdout.write(String(process.getuid()))']);
    expect(uid.stdout).toBe('10001');

    // Node is PID 1 and handles SIGTERM itself: `docker stop` ends it with exit code 0, not a kill.
    await execa('docker', ['stop', '--time', '20', container]);
    const exit = await execa('docker', ['inspect', '--format', '{{.State.ExitCode}}', container]);
    expect(exit.stdout.trim()).toBe('0');
  });
});

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return readlinkSync(path);
  }
}
