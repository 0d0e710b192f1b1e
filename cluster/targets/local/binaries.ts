import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Where the local target finds the programs it runs. Everything comes from binaries already on
 * this machine; a missing one is an environment problem (exit code 4) reported with the command
 * that installs it, never a readiness timeout ten seconds later.
 */

export type BinaryName = 'prometheus' | 'promtool' | 'postgres' | 'initdb' | 'redis-server' | 'stress-ng' | 'docker' | 'kind' | 'k6' | 'kubectl';

/** How to install each binary, as printed by `resilience doctor` and in MissingBinaryError. */
export const INSTALL_HINTS: Readonly<Record<BinaryName, string>> = {
  prometheus: 'apt-get install -y prometheus',
  promtool: 'apt-get install -y prometheus (promtool ships with it)',
  postgres: 'apt-get install -y postgresql',
  initdb: 'apt-get install -y postgresql',
  'redis-server': 'apt-get install -y redis-server',
  'stress-ng': 'apt-get install -y stress-ng',
  docker: 'apt-get install -y docker.io',
  kind: 'see https://kind.sigs.k8s.io/docs/user/quick-start/#installation',
  k6: 'see https://grafana.com/docs/k6/latest/set-up/install-k6/',
  kubectl: 'see https://kubernetes.io/docs/tasks/tools/#kubectl',
};

/** Debian installs PostgreSQL's server binaries outside PATH, one folder per major version. */
export const DEBIAN_POSTGRES_LIB_DIR = '/usr/lib/postgresql';

/** Where to look; both default to this machine's real locations. Tests point them at fixtures. */
export interface BinaryLookupOptions {
  /** A PATH-style list of folders. Default: `process.env.PATH`. */
  path?: string;
  /** Folder holding `<version>/bin/` for postgres and initdb. Default: `/usr/lib/postgresql`. */
  postgresLibDir?: string;
}

/** A required binary is not installed. `installHint` is the command (or docs link) that fixes it. */
export class MissingBinaryError extends Error {
  readonly installHint: string;

  constructor(readonly binary: BinaryName) {
    const installHint = INSTALL_HINTS[binary];
    super(`required binary "${binary}" was not found on PATH${isPostgresBinary(binary) ? ` nor in ${DEBIAN_POSTGRES_LIB_DIR}/<version>/bin` : ''}; install it: ${installHint}`);
    this.name = 'MissingBinaryError';
    this.installHint = installHint;
  }
}

/**
 * A dependency was found but did not come up: it exited during startup or never became ready.
 * Callers map it, like MissingBinaryError, to exit code 4. `logTail` is the end of the service's
 * own log (also included in the message), which usually says why.
 */
export class ServiceStartError extends Error {
  constructor(
    readonly service: string,
    reason: string,
    readonly logTail: string,
    options?: { cause?: unknown },
  ) {
    super(`${service} did not start: ${reason}${logTail ? `\n--- last lines of the ${service} log ---\n${logTail}` : ' (its log is empty)'}`, options);
    this.name = 'ServiceStartError';
  }
}

/**
 * The absolute path of `name`, or undefined. PATH is searched first, in order; postgres and
 * initdb are then looked up under `/usr/lib/postgresql/<highest version>/bin`. Only regular,
 * executable files count.
 */
export function findBinary(name: BinaryName, options: BinaryLookupOptions = {}): string | undefined {
  const searchPath = options.path ?? process.env.PATH ?? '';
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  if (isPostgresBinary(name)) {
    const libDir = options.postgresLibDir ?? DEBIAN_POSTGRES_LIB_DIR;
    // Highest version that actually has the binary: a leftover folder of an uninstalled major
    // version (config only) must not hide the installed one.
    for (const version of postgresVersionsDescending(libDir)) {
      const candidate = join(libDir, version, 'bin', name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Like findBinary, but throws MissingBinaryError (naming the install command) when absent. */
export function requireBinary(name: BinaryName, options: BinaryLookupOptions = {}): string {
  const found = findBinary(name, options);
  if (found === undefined) throw new MissingBinaryError(name);
  return found;
}

function isPostgresBinary(name: BinaryName): boolean {
  return name === 'postgres' || name === 'initdb';
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Version folder names ("15", "9.6") sorted numerically, highest first; others are ignored. */
function postgresVersionsDescending(libDir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(libDir);
  } catch {
    return [];
  }
  const versionKey = (v: string): number[] => v.split('.').map(Number);
  return entries
    .filter((entry) => /^\d+(\.\d+)?$/.test(entry))
    .sort((a, b) => {
      const [ka, kb] = [versionKey(a), versionKey(b)];
      for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
        const diff = (kb[i] ?? 0) - (ka[i] ?? 0);
        if (diff !== 0) return diff;
      }
      return 0;
    });
}
