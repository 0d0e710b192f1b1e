import { execa } from 'execa';

/**
 * The few Docker Engine operations the container runtime needs that testcontainers does not
 * expose (kill, pause, update, remove by label, image import), through the `docker` CLI. The CLI
 * honours DOCKER_HOST and docker contexts exactly as the user's own commands do, and works against
 * any engine from 20.10 on.
 */

/** Label every container we start carries; `resilience cleanup` removes everything with it. */
export const MANAGED_BY_LABEL = 'resilience.managed-by';
export const MANAGED_BY_VALUE = 'hastecrm-resilience';
/** Label naming the run that started the container. */
export const RUN_ID_LABEL = 'resilience.run-id';

/** How to install and start Docker, for error messages and `resilience doctor`. */
export const DOCKER_INSTALL_HINT = 'apt-get install -y docker.io, then start the engine (systemctl start docker, or `dockerd &` without systemd)';

/** A docker CLI call failed; the message carries the command and Docker's own error. */
export class DockerCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
    readonly exitCode: number | undefined,
  ) {
    super(`docker ${args.join(' ')} failed (exit ${exitCode ?? 'none'}): ${stderr.trim() || 'no output'}`);
    this.name = 'DockerCommandError';
  }
}

export interface DockerOptions {
  /** Written to the command's stdin (e.g. a rootfs tarball for `docker import`). */
  input?: Buffer | string;
  /** Default 60 s: every call is bounded. */
  timeoutMs?: number;
}

/** Runs `docker <args>` and returns trimmed stdout; throws DockerCommandError on failure. */
export async function docker(args: readonly string[], options: DockerOptions = {}): Promise<string> {
  const result = await execa('docker', args, {
    reject: false,
    timeout: options.timeoutMs ?? 60_000,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    stripFinalNewline: true,
  });
  if (result.exitCode !== 0 || result.failed) {
    const why = result.timedOut ? `timed out after ${options.timeoutMs ?? 60_000} ms` : (result.stderr || result.message || '');
    throw new DockerCommandError(args, String(why), result.exitCode);
  }
  return String(result.stdout);
}

/**
 * True when a Docker engine answers `docker version` within `timeoutMs`. Never throws: a missing
 * CLI, a stopped daemon and a permission error all mean "no".
 */
export async function dockerAnswers(timeoutMs = 3_000): Promise<{ ok: true; serverVersion: string } | { ok: false; reason: string }> {
  try {
    const serverVersion = await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs });
    return { ok: true, serverVersion };
  } catch (error) {
    const reason = error instanceof DockerCommandError ? error.stderr.trim().split('\n')[0] ?? error.message : (error as Error).message;
    return { ok: false, reason: reason || 'docker did not answer' };
  }
}

/** True when the image is present in the local engine (no registry is consulted). */
export async function imageExists(image: string): Promise<boolean> {
  try {
    await docker(['image', 'inspect', '--format', '{{.Id}}', image], { timeoutMs: 15_000 });
    return true;
  } catch (error) {
    if (error instanceof DockerCommandError && /no such image/i.test(error.stderr)) return false;
    throw error;
  }
}

/** The parts of `docker inspect <container>` the runtime and its faults read. */
export interface ContainerState {
  id: string;
  name: string;
  status: string;
  running: boolean;
  paused: boolean;
  pid: number;
  startedAt: string;
  restartCount: number;
  labels: Record<string, string>;
  /** HostConfig.NanoCpus (0 = unlimited). */
  nanoCpus: number;
  /** HostConfig.Memory in bytes (0 = unlimited). */
  memoryBytes: number;
  memorySwapBytes: number;
}

interface RawInspect {
  Id: string;
  Name: string;
  RestartCount?: number;
  State: { Status: string; Running: boolean; Paused: boolean; Pid: number; StartedAt: string };
  Config: { Labels: Record<string, string> | null };
  HostConfig: { NanoCpus?: number; Memory?: number; MemorySwap?: number };
}

/** Inspects a container by id or name; throws DockerCommandError (`No such container`) when absent. */
export async function inspectContainer(idOrName: string): Promise<ContainerState> {
  const parsed = JSON.parse(await docker(['container', 'inspect', idOrName], { timeoutMs: 15_000 })) as RawInspect[];
  const raw = parsed[0];
  if (!raw) throw new Error(`docker container inspect ${idOrName} returned nothing`);
  return {
    id: raw.Id,
    name: raw.Name.replace(/^\//, ''),
    status: raw.State.Status,
    running: raw.State.Running,
    paused: raw.State.Paused,
    pid: raw.State.Pid,
    startedAt: raw.State.StartedAt,
    restartCount: raw.RestartCount ?? 0,
    labels: raw.Config.Labels ?? {},
    nanoCpus: raw.HostConfig.NanoCpus ?? 0,
    memoryBytes: raw.HostConfig.Memory ?? 0,
    memorySwapBytes: raw.HostConfig.MemorySwap ?? 0,
  };
}

/**
 * Force-removes a container and its anonymous volumes. Idempotent: a container that is already
 * gone counts as removed. Works on running and paused containers alike.
 */
export async function removeContainer(idOrName: string): Promise<void> {
  try {
    await docker(['rm', '--force', '--volumes', idOrName], { timeoutMs: 30_000 });
  } catch (error) {
    if (error instanceof DockerCommandError && /no such container/i.test(error.stderr)) return;
    throw error;
  }
}

/** Ids of containers (running or not) carrying every given label. */
export async function listContainersByLabel(labels: Record<string, string>): Promise<string[]> {
  const filters = Object.entries(labels).flatMap(([key, value]) => ['--filter', `label=${key}=${value}`]);
  const out = await docker(['ps', '--all', '--quiet', '--no-trunc', ...filters], { timeoutMs: 15_000 });
  return out.split('\n').filter((line) => line.trim() !== '');
}

/** The last lines of a container's output, for ServiceStartError; '' when unavailable. */
export async function containerLogTail(idOrName: string, lines = 20): Promise<string> {
  try {
    const result = await execa('docker', ['logs', '--tail', String(lines), idOrName], { reject: false, timeout: 10_000, all: true, stdin: 'ignore' });
    return String(result.all ?? '').trim();
  } catch {
    return '';
  }
}
