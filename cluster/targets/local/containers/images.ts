import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { findBinary, MissingBinaryError, type BinaryName } from '../binaries.ts';
import { docker, imageExists, MANAGED_BY_VALUE } from './docker.ts';

/**
 * Container images built locally from the binaries already on this machine, for engines that
 * cannot pull from a registry. Each image is a `FROM scratch` root filesystem: the binary, the
 * shared libraries `ldd` lists, the data files it reads, and an /etc/passwd with a non-root user,
 * imported with `docker import`. The tag is a hash of everything that goes in, so a second build
 * with unchanged binaries finds the image and returns at once.
 */

export type ContainerService = 'postgres' | 'redis' | 'prometheus';

export const CONTAINER_SERVICES: readonly ContainerService[] = ['postgres', 'redis', 'prometheus'];

/** Official images used when they are already present locally (they are never pulled). */
export const OFFICIAL_IMAGES: Readonly<Record<ContainerService, string>> = {
  postgres: 'postgres:15',
  redis: 'redis:7',
  prometheus: 'prom/prometheus:v2.42.0',
};

/** Repository of the locally built images; the tag is the content hash. */
export const LOCAL_IMAGE_REPOSITORY = 'hastecrm-resilience';

/** Uid/gid the locally built images run as: not root, and the same as the official images' users where they have one. */
export const IMAGE_USERS: Readonly<Record<ContainerService, { uid: number; name: string }>> = {
  postgres: { uid: 999, name: 'postgres' },
  redis: { uid: 999, name: 'redis' },
  prometheus: { uid: 65534, name: 'nobody' },
};

/** Bumped whenever the recipe changes in a way the inputs' content does not show. */
const RECIPE_VERSION = 2;

/** Marks the images built here (`docker images --filter label=resilience.built-by=hastecrm-resilience`). */
export const IMAGE_LABEL = 'resilience.built-by';

interface ImageFile {
  /** Absolute path inside the image. */
  imagePath: string;
  /** Copied from this host file (symlinks followed) … */
  hostPath?: string;
  /** … or written with this content. */
  content?: string;
  mode?: number;
}

interface ImageRecipe {
  service: ContainerService;
  files: ImageFile[];
  /** Host directories copied whole to the same path in the image (symlinks kept). */
  trees: string[];
  /** Empty directories created world-writable (sticky), for a non-root user's data and sockets. */
  writableDirs: string[];
  /** `docker import --change` instructions (ENTRYPOINT, USER, ENV, WORKDIR). */
  changes: string[];
}

export interface EnsureImageOptions {
  /** Where to look for binaries; default PATH (and /usr/lib/postgresql for PostgreSQL). */
  path?: string;
  postgresLibDir?: string;
  /** Progress messages ("building hastecrm-resilience/postgres:… from /usr/lib/postgresql/15"). */
  log?: (message: string) => void;
}

export interface EnsuredImage {
  image: string;
  /** False when the image was already present (the cached path). */
  built: boolean;
}

/**
 * Returns the tag of the locally built image for `service`, building it first when absent.
 * Throws MissingBinaryError when the host does not have the service's binary to build from.
 */
export async function ensureImage(service: ContainerService, options: EnsureImageOptions = {}): Promise<EnsuredImage> {
  const recipe = await recipeFor(service, options);
  const image = `${LOCAL_IMAGE_REPOSITORY}/${service}:${hashRecipe(recipe)}`;
  if (await imageExists(image)) return { image, built: false };
  options.log?.(`building ${image} from this machine's binaries`);
  const rootfs = mkdtempSync(path.join(os.tmpdir(), `resilience-image-${service}-`));
  try {
    materialise(recipe, rootfs);
    // --numeric-owner/--owner=0: files are root-owned in the image whoever builds it; the
    // service's own writable directories are world-writable (sticky) instead.
    const tar = await execa('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'], { encoding: 'buffer', timeout: 120_000, maxBuffer: 2 ** 31 });
    // Not the managed-by label: containers inherit their image's labels, and cleanup must remove
    // only the containers the harness started, not any container run from these images.
    const changes = [...recipe.changes, `LABEL ${IMAGE_LABEL}=${MANAGED_BY_VALUE}`].flatMap((change) => ['--change', change]);
    await docker(['import', ...changes, '-', image], { input: Buffer.from(tar.stdout), timeoutMs: 180_000 });
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  return { image, built: true };
}

export interface ResolveImageOptions extends EnsureImageOptions {
  /** A configured image name; used as is when present locally, else an error says how to get it. */
  image?: string;
}

/**
 * The image a container service runs: the configured one when given (it must be present
 * locally: nothing is pulled), else the official image when present locally, else the locally
 * built one.
 */
export async function resolveImage(service: ContainerService, options: ResolveImageOptions = {}): Promise<{ image: string; source: 'configured' | 'official' | 'built' | 'cached-build' }> {
  if (options.image !== undefined) {
    if (await imageExists(options.image)) return { image: options.image, source: 'configured' };
    throw new Error(
      `the configured image "${options.image}" for ${service} is not present in the local Docker engine; ` +
        `load it (docker pull ${options.image} where a registry is reachable, or docker load -i <file>), or remove the setting to use the locally built image`,
    );
  }
  const official = OFFICIAL_IMAGES[service];
  if (await imageExists(official)) return { image: official, source: 'official' };
  const ensured = await ensureImage(service, options);
  return { image: ensured.image, source: ensured.built ? 'built' : 'cached-build' };
}

async function recipeFor(service: ContainerService, options: EnsureImageOptions): Promise<ImageRecipe> {
  const lookup = { ...(options.path !== undefined ? { path: options.path } : {}), ...(options.postgresLibDir !== undefined ? { postgresLibDir: options.postgresLibDir } : {}) };
  const need = (name: BinaryName): string => {
    const found = findBinary(name, lookup);
    if (found === undefined) throw new MissingBinaryError(name);
    // A PATH entry may be a symlink into the real installation (/usr/local/bin/postgres →
    // /usr/lib/postgresql/15/bin/postgres): the installation's layout is what the image needs.
    return realpathSync(found);
  };
  const user = IMAGE_USERS[service];
  const etc: ImageFile[] = [
    { imagePath: '/etc/passwd', content: `root:x:0:0:root:/root:/bin/sh\n${user.name}:x:${user.uid}:${user.uid}::/tmp:/bin/sh\n` },
    { imagePath: '/etc/group', content: `root:x:0:\n${user.name}:x:${user.uid}:\n` },
  ];
  switch (service) {
    case 'postgres': {
      const postgres = need('postgres');
      const initdb = need('initdb');
      const binDir = path.dirname(postgres);
      const version = path.basename(path.dirname(binDir));
      // Debian's build: share dir and pkglib dir by major version, system time zone data.
      const shareDir = `/usr/share/postgresql/${version}`;
      const libDir = path.join(path.dirname(binDir), 'lib');
      const shell = '/bin/sh';
      const modules = readdirSync(libDir).filter((f) => f.endsWith('.so')).map((f) => path.join(libDir, f));
      const elves = [postgres, initdb, shell, ...modules];
      return {
        service,
        files: [
          ...etc,
          { imagePath: `/usr/lib/postgresql/${version}/bin/postgres`, hostPath: postgres },
          { imagePath: `/usr/lib/postgresql/${version}/bin/initdb`, hostPath: initdb },
          { imagePath: '/bin/sh', hostPath: shell },
          { imagePath: '/usr/local/bin/docker-entrypoint.sh', content: POSTGRES_ENTRYPOINT, mode: 0o755 },
          ...(await sharedLibraries(elves)),
        ],
        trees: [shareDir, libDir, '/usr/share/zoneinfo'],
        writableDirs: ['/tmp', '/var/run/postgresql', '/var/lib/postgresql/data'],
        changes: [
          `ENV PATH=/usr/lib/postgresql/${version}/bin:/usr/local/bin:/usr/bin:/bin`,
          'ENV PGDATA=/var/lib/postgresql/data/pgdata',
          'ENV TZ=UTC',
          `USER ${user.uid}:${user.uid}`,
          'WORKDIR /tmp',
          'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]',
          'CMD ["postgres"]',
        ],
      };
    }
    case 'redis': {
      const redis = need('redis-server');
      return {
        service,
        // Debian ships redis-server as a symlink to redis-check-rdb; the binary picks its role
        // from argv[0], so it must be installed under the name redis-server.
        files: [...etc, { imagePath: '/usr/bin/redis-server', hostPath: redis }, ...(await sharedLibraries([redis]))],
        trees: [],
        writableDirs: ['/tmp', '/data'],
        changes: ['ENV PATH=/usr/bin:/bin', `USER ${user.uid}:${user.uid}`, 'WORKDIR /data', 'CMD ["redis-server"]'],
      };
    }
    case 'prometheus': {
      const prometheus = need('prometheus');
      return {
        service,
        // /bin/prometheus as in the official image, so the same arguments work with either.
        files: [...etc, { imagePath: '/bin/prometheus', hostPath: prometheus }, ...(await sharedLibraries([prometheus]))],
        trees: [],
        writableDirs: ['/tmp', '/prometheus', '/etc/prometheus'],
        changes: ['ENV PATH=/bin:/usr/bin', `USER ${user.uid}:${user.uid}`, 'WORKDIR /prometheus', 'ENTRYPOINT ["/bin/prometheus"]'],
      };
    }
  }
}

/**
 * The official postgres image's contract, reduced: initialise $PGDATA on first start (as the
 * image's non-root user, trust auth for the throwaway database), then exec the server. On a
 * restart of the same container the data directory already exists and is kept.
 */
const POSTGRES_ENTRYPOINT = `#!/bin/sh
set -e
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -D "$PGDATA" -U postgres --auth=trust --no-sync --encoding=UTF8 --locale=C --no-instructions
fi
exec "$@"
`;

/** Every shared library (and the dynamic loader) the given ELF files load, as image files at the same paths. */
async function sharedLibraries(elves: readonly string[]): Promise<ImageFile[]> {
  const libraries = new Set<string>();
  for (const elf of elves) {
    const result = await execa('ldd', [elf], { reject: false, timeout: 15_000 });
    // A static binary ("not a dynamic executable") needs nothing.
    if (result.exitCode !== 0) continue;
    for (const line of String(result.stdout).split('\n')) {
      if (/not found/.test(line)) throw new Error(`cannot build an image with ${elf}: ldd reports a missing library (${line.trim()}); reinstall the package that provides it`);
      const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (match?.[1]) libraries.add(match[1]);
    }
  }
  return [...libraries].sort().map((lib) => ({ imagePath: lib, hostPath: lib }));
}

/** sha256 over the recipe and the content of every input file, short enough for a tag. */
function hashRecipe(recipe: ImageRecipe): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ version: RECIPE_VERSION, service: recipe.service, changes: recipe.changes, writableDirs: recipe.writableDirs }));
  for (const file of [...recipe.files].sort((a, b) => a.imagePath.localeCompare(b.imagePath))) {
    hash.update(`\0file ${file.imagePath} ${file.mode ?? ''}\0`);
    hash.update(file.content ?? readFileSync(file.hostPath!));
  }
  for (const tree of recipe.trees) {
    for (const entry of walk(tree)) {
      const stat = lstatSync(entry);
      hash.update(`\0tree ${entry}\0`);
      if (stat.isSymbolicLink()) hash.update(`-> ${readlinkSync(entry)}`);
      else if (stat.isFile()) hash.update(readFileSync(entry));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** Every path below `root`, sorted, depth first; symlinks are listed, not followed. */
function walk(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      out.push(full);
      if (lstatSync(full).isDirectory()) visit(full);
    }
  };
  visit(root);
  return out;
}

/** Writes the recipe's files into `rootfs` (a fresh directory). */
function materialise(recipe: ImageRecipe, rootfs: string): void {
  const inRoot = (p: string): string => path.join(rootfs, p);
  for (const tree of recipe.trees) {
    for (const entry of walk(tree)) {
      const target = inRoot(entry);
      const stat = lstatSync(entry);
      if (stat.isDirectory()) mkdirSync(target, { recursive: true });
      else if (stat.isSymbolicLink()) {
        mkdirSync(path.dirname(target), { recursive: true });
        symlinkSync(readlinkSync(entry), target);
      } else if (stat.isFile()) {
        mkdirSync(path.dirname(target), { recursive: true });
        copyFileSync(entry, target);
        chmodSync(target, stat.mode & 0o777);
      }
    }
  }
  for (const file of recipe.files) {
    const target = inRoot(file.imagePath);
    mkdirSync(path.dirname(target), { recursive: true });
    rmSync(target, { force: true });
    if (file.content !== undefined) writeFileSync(target, file.content);
    else copyFileSync(file.hostPath!, target); // follows symlinks: the image gets the real file
    chmodSync(target, file.mode ?? (file.hostPath ? statSync(file.hostPath).mode & 0o777 : 0o644));
  }
  for (const dir of recipe.writableDirs) {
    mkdirSync(inRoot(dir), { recursive: true });
    chmodSync(inRoot(dir), 0o1777);
  }
}
