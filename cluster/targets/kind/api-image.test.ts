import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MissingBinaryError } from '../local/binaries.ts';
import { API_DOCKERFILE, apiImageTag, buildApiImage, bundleApi, kindLoad } from './api-image.ts';

// `docker` and `kind` here are TEST DOUBLES (shell scripts recording their arguments): a real
// `docker build` needs the node:20-slim base image from a registry, unreachable on this machine,
// and kind cannot create a cluster. The esbuild bundle is real and is run with the real node.

let root: string;
let bin: string;

function fakeBinary(name: string, script: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${script}\n`);
  chmodSync(join(bin, name), 0o755);
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'api-image-test-'));
  bin = join(root, 'bin');
  mkdirSync(bin);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('bundleApi', () => {
  it('bundles the API into one module that runs on plain node (no tsx, no node_modules)', async () => {
    const out = join(root, 'out');
    mkdirSync(out);
    const bundle = await bundleApi(out);
    // Run it away from the repository, so nothing can be resolved from node_modules.
    const result = await execa(process.execPath, [bundle], { cwd: out, env: { PATH: process.env.PATH ?? '' }, extendEnv: false, reject: false, timeout: 20_000 });
    // It loaded every module (pg, ioredis, prom-client) and reached config validation: exit 2 naming the variable.
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/hastecrm-api: .*DATABASE_URL/);
  });
});

describe('apiImageTag', () => {
  it('is a content hash: same inputs, same tag; any change, another tag', () => {
    const tag = apiImageTag('bundle', 'FROM node:20-slim');
    expect(tag).toMatch(/^hastecrm\/api:[0-9a-f]{12}$/);
    expect(apiImageTag('bundle', 'FROM node:20-slim')).toBe(tag);
    expect(apiImageTag('bundle2', 'FROM node:20-slim')).not.toBe(tag);
    expect(apiImageTag('bundle', 'FROM node:22-slim')).not.toBe(tag);
  });
});

describe('buildApiImage', () => {
  it('builds from a staged context holding only the bundle, the Dockerfile and .dockerignore, tagged with the content hash', async () => {
    const record = join(root, 'docker-calls');
    // Records its arguments and what the context holds, as docker would see it during the build.
    fakeBinary('docker', `echo "$@" > ${record}\neval ctx=\\\${$#}\nls -A "$ctx" > ${record}.context\ncp "$ctx/server.mjs" ${record}.bundle\necho "Successfully built"`);
    const lines: string[] = [];
    const image = await buildApiImage({ lookup: { path: bin }, onOutput: (l) => lines.push(l) });
    expect(image).toBe(apiImageTag(readFileSync(`${record}.bundle`), readFileSync(API_DOCKERFILE)));
    const args = readFileSync(record, 'utf8').trim().split(' ');
    expect(args.slice(0, 4)).toEqual(['build', '--tag', image, '--file']);
    const contextDir = args.at(-1) ?? '';
    expect(args[4]).toBe(join(contextDir, 'Dockerfile'));
    expect(readFileSync(`${record}.context`, 'utf8').trim().split('\n').sort()).toEqual(['.dockerignore', 'Dockerfile', 'server.mjs']);
    expect(existsSync(contextDir)).toBe(false);
    expect(lines).toContain('Successfully built');
    // Unchanged sources: the same tag again (nothing new to load into kind).
    await expect(buildApiImage({ lookup: { path: bin } })).resolves.toBe(image);
  });

  it('passes another base image as a build arg', async () => {
    const record = join(root, 'docker-calls');
    fakeBinary('docker', `echo "$@" > ${record}`);
    await buildApiImage({ lookup: { path: bin }, nodeImage: 'mirror.local/node:20-slim' });
    expect(readFileSync(record, 'utf8')).toContain('--build-arg NODE_IMAGE=mirror.local/node:20-slim');
  });

  it('names docker when it is missing, and shows the base image and docker’s error when the build fails', async () => {
    await expect(buildApiImage({ lookup: { path: join(root, 'empty') } })).rejects.toThrow(MissingBinaryError);
    fakeBinary('docker', 'echo "ERROR: failed to solve: node:20-slim: failed to resolve source metadata: dial tcp: lookup registry-1.docker.io: no such host" >&2; exit 1');
    await expect(buildApiImage({ lookup: { path: bin } })).rejects.toThrow(/`docker build` of the API image hastecrm\/api:[0-9a-f]{12} failed \(exit 1\); the Dockerfile's base image node:20-slim must be pullable or already present .*\nERROR: failed to solve: node:20-slim/);
  });
});

describe('kindLoad', () => {
  it('runs `kind load docker-image <image> --name <cluster>`', async () => {
    const record = join(root, 'kind-calls');
    fakeBinary('kind', `echo "$@" >> ${record}`);
    await kindLoad('hastecrm/api:0123456789ab', 'nightly', { lookup: { path: bin } });
    expect(readFileSync(record, 'utf8')).toBe('load docker-image hastecrm/api:0123456789ab --name nightly\n');
  });

  it('rejects a malformed image before running kind, names kind when missing, and shows kind’s error', async () => {
    const record = join(root, 'kind-calls');
    fakeBinary('kind', `echo "$@" >> ${record}; echo "ERROR: image: \\"hastecrm/api:x\\" not present locally" >&2; exit 1`);
    await expect(kindLoad('HasteCRM/API:latest', 'hastecrm', { lookup: { path: bin } })).rejects.toThrow('image "HasteCRM/API:latest" is not a valid image reference');
    expect(existsSync(record)).toBe(false);
    await expect(kindLoad('hastecrm/api:x', 'hastecrm', { lookup: { path: join(root, 'empty') } })).rejects.toThrow(MissingBinaryError);
    await expect(kindLoad('hastecrm/api:x', 'hastecrm', { lookup: { path: bin } })).rejects.toThrow(/`kind load docker-image hastecrm\/api:x --name hastecrm` failed \(exit 1\):\nERROR: image: "hastecrm\/api:x" not present locally/);
  });
});
