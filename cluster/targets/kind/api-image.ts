import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { execa } from 'execa';
import { requireBinary, type BinaryLookupOptions } from '../local/binaries.ts';
import { loadImage } from './kind-cluster.ts';

/**
 * The reference API (cluster/apps/api) as a container image for kind, with no registry involved:
 * 1. esbuild bundles server.ts and its dependencies into one ES module (server.mjs) on the host;
 * 2. `docker build` with cluster/apps/api/Dockerfile and a context holding only that bundle;
 * 3. the tag is a hash of the bundle and the Dockerfile, so an unchanged API is not rebuilt into a
 *    new tag, and a changed one can never be confused with a stale image on the kind nodes;
 * 4. `kind load docker-image` copies it into every node (kindLoad).
 */

const API_DIR = fileURLToPath(new URL('../../apps/api/', import.meta.url));
export const API_DOCKERFILE = join(API_DIR, 'Dockerfile');
const API_DOCKERIGNORE = join(API_DIR, '.dockerignore');
const API_ENTRY = join(API_DIR, 'server.ts');
/** The repository of the image; the kind overlay's `hastecrm/api` image is replaced by it. */
export const API_IMAGE_REPOSITORY = 'hastecrm/api';

/** Bundles the API into `outDir/server.mjs`; returns its path. Rejects with esbuild's messages. */
export async function bundleApi(outDir: string): Promise<string> {
  const outfile = join(outDir, 'server.mjs');
  await build({
    entryPoints: [API_ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // pg loads its optional native binding only when `pg.native` is read, which the API never does.
    external: ['pg-native'],
    // CommonJS dependencies (pg, ioredis) call require() for Node built-ins: give the ES module one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'silent',
    legalComments: 'none',
  });
  return outfile;
}

/** `hastecrm/api:<first 12 hex of sha256(bundle, Dockerfile)>`. */
export function apiImageTag(bundle: Buffer | string, dockerfile: Buffer | string): string {
  const hash = createHash('sha256').update('bundle\0').update(bundle).update('\0dockerfile\0').update(dockerfile).digest('hex');
  return `${API_IMAGE_REPOSITORY}:${hash.slice(0, 12)}`;
}

/** The `docker build` arguments for a staged context (exported for `resilience plan`). */
export function dockerBuildArgs(image: string, contextDir: string, options: { nodeImage?: string } = {}): string[] {
  return ['build', '--tag', image, '--file', join(contextDir, 'Dockerfile'), ...(options.nodeImage ? ['--build-arg', `NODE_IMAGE=${options.nodeImage}`] : []), contextDir];
}

export interface BuildApiImageOptions {
  /** Where `docker` is looked up (tests put a test double first). Default: PATH. */
  lookup?: BinaryLookupOptions;
  /** Another Node 20 base image (e.g. a mirror), passed as the NODE_IMAGE build arg. */
  nodeImage?: string;
  signal?: AbortSignal;
  onOutput?: (line: string) => void;
}

/**
 * Bundles the API and builds its image; resolves with the image reference (`hastecrm/api:<hash>`).
 * Rejects with MissingBinaryError when docker is absent (before bundling), with esbuild's message
 * when the API does not bundle, and with docker's last lines when the build fails.
 */
export async function buildApiImage(options: BuildApiImageOptions = {}): Promise<string> {
  const docker = requireBinary('docker', options.lookup);
  const contextDir = mkdtempSync(join(tmpdir(), 'resilience-api-image-'));
  try {
    const bundle = await bundleApi(contextDir);
    copyFileSync(API_DOCKERFILE, join(contextDir, 'Dockerfile'));
    copyFileSync(API_DOCKERIGNORE, join(contextDir, '.dockerignore'));
    const image = apiImageTag(readFileSync(bundle), readFileSync(API_DOCKERFILE));
    const args = dockerBuildArgs(image, contextDir, options.nodeImage ? { nodeImage: options.nodeImage } : {});
    const child = execa(docker, args, { reject: false, all: true, ...(options.signal ? { cancelSignal: options.signal } : {}) });
    if (options.onOutput) {
      child.all?.setEncoding('utf8');
      child.all?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line.trim() !== '') options.onOutput?.(line);
      });
    }
    const result = await child;
    options.signal?.throwIfAborted();
    if (result.failed) {
      const tail = String(result.all ?? '').trim().split('\n').slice(-20).join('\n') || result.message;
      throw new Error(`\`docker build\` of the API image ${image} failed (exit ${String(result.exitCode)}); the Dockerfile's base image ${options.nodeImage ?? 'node:20-slim'} must be pullable or already present (\`docker pull node:20-slim\`):\n${tail}`);
    }
    return image;
  } finally {
    rmSync(contextDir, { recursive: true, force: true });
  }
}

/** Loads a locally built image into every node of the kind cluster (`kind load docker-image`). */
export async function kindLoad(image: string, cluster: string, options: { lookup?: BinaryLookupOptions; signal?: AbortSignal; onOutput?: (line: string) => void } = {}): Promise<void> {
  if (!/^([a-z0-9.-]+(:\d+)?\/)?[a-z0-9]+([._/-][a-z0-9]+)*(:\w[\w.-]{0,127})?$/.test(image)) throw new Error(`image "${image}" is not a valid image reference (lowercase repository, optional :tag)`);
  await loadImage({ name: cluster, image, ...(options.lookup ? { lookup: options.lookup } : {}), ...(options.signal ? { signal: options.signal } : {}), ...(options.onOutput ? { onOutput: options.onOutput } : {}) });
}
