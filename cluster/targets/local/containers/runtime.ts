import { findBinary, INSTALL_HINTS, type BinaryLookupOptions, type BinaryName } from '../binaries.ts';
import { DOCKER_INSTALL_HINT, dockerAnswers } from './docker.ts';
import { CONTAINER_SERVICES, type ContainerService } from './images.ts';

/**
 * Which runtime a local-target service uses: its binary on this machine (`process`), or a
 * container (`container`), or whichever is available (`auto`: the binary first, because it starts
 * faster and needs no engine).
 */

export type RuntimePreference = 'process' | 'container' | 'auto';
export type Runtime = 'process' | 'container';

export interface RuntimeChoice {
  service: ContainerService;
  runtime: Runtime;
  /** Why, in one sentence, for `resilience doctor` and the run log. */
  reason: string;
}

/** Neither runtime can run the service; the message names both ways to fix it. */
export class NoRuntimeError extends Error {
  constructor(
    readonly service: ContainerService,
    detail: string,
  ) {
    super(`${service} cannot run here: ${detail}`);
    this.name = 'NoRuntimeError';
  }
}

export interface SelectRuntimeOptions {
  binaries?: BinaryLookupOptions;
  /** How long Docker may take to answer. Default 3 s. */
  dockerTimeoutMs?: number;
  /** Injected Docker check (tests of the decision logic without an engine); default a real `docker version`. */
  dockerCheck?: (timeoutMs: number) => Promise<{ ok: true; serverVersion: string } | { ok: false; reason: string }>;
}

/** The binaries a service needs to run as a process. */
const SERVICE_BINARIES: Readonly<Record<ContainerService, readonly BinaryName[]>> = {
  postgres: ['postgres', 'initdb'],
  redis: ['redis-server'],
  prometheus: ['prometheus'],
};

/**
 * Resolves a preference to a runtime. `process` requires the binaries, `container` requires an
 * answering Docker engine, `auto` takes the binaries when present, else Docker. Throws
 * NoRuntimeError naming the apt package and the Docker route when the choice cannot be satisfied.
 */
export async function selectRuntime(service: ContainerService, preference: RuntimePreference, options: SelectRuntimeOptions = {}): Promise<RuntimeChoice> {
  if (!CONTAINER_SERVICES.includes(service)) throw new Error(`unknown service "${String(service)}": use one of ${CONTAINER_SERVICES.join(', ')}`);
  if (preference !== 'process' && preference !== 'container' && preference !== 'auto') {
    throw new Error(`runtime for ${service} is "${String(preference)}": use process, container or auto`);
  }
  const missing = SERVICE_BINARIES[service].filter((name) => findBinary(name, options.binaries) === undefined);
  const processRoute = INSTALL_HINTS[SERVICE_BINARIES[service][0]!];
  if (preference !== 'container' && missing.length === 0) {
    return { service, runtime: 'process', reason: `${SERVICE_BINARIES[service].join(' and ')} found on this machine` };
  }
  if (preference === 'process') {
    throw new NoRuntimeError(service, `runtime "process" needs ${missing.join(' and ')}, not found on PATH; install it (${processRoute}) or set the runtime to "container" or "auto" with Docker installed (${DOCKER_INSTALL_HINT})`);
  }
  const timeoutMs = options.dockerTimeoutMs ?? 3_000;
  const check = await (options.dockerCheck ?? dockerAnswers)(timeoutMs);
  if (check.ok) {
    const why = preference === 'auto' ? `${missing.join(' and ')} not found, Docker ${check.serverVersion} answers` : `runtime "container" requested, Docker ${check.serverVersion} answers`;
    return { service, runtime: 'container', reason: why };
  }
  const dockerProblem = `Docker did not answer within ${timeoutMs} ms (${check.reason})`;
  if (preference === 'container') throw new NoRuntimeError(service, `runtime "container" needs Docker: ${dockerProblem}; install and start it (${DOCKER_INSTALL_HINT}) or use runtime "process" (${processRoute})`);
  throw new NoRuntimeError(service, `${missing.join(' and ')} not found on PATH and ${dockerProblem}; either install the binary (${processRoute}) or install and start Docker (${DOCKER_INSTALL_HINT})`);
}

/** What `auto` (or the given preferences) picks for every service, for `resilience doctor`. Never throws. */
export async function describeRuntimes(
  preferences: Partial<Record<ContainerService, RuntimePreference>> = {},
  options: SelectRuntimeOptions = {},
): Promise<{ service: ContainerService; preference: RuntimePreference; runtime: Runtime | 'none'; reason: string }[]> {
  // One Docker check shared by all services: doctor should not wait three times for a dead engine.
  let cached: ReturnType<NonNullable<SelectRuntimeOptions['dockerCheck']>> | undefined;
  const dockerCheck: NonNullable<SelectRuntimeOptions['dockerCheck']> = (ms) => (cached ??= (options.dockerCheck ?? dockerAnswers)(ms));
  const rows = [];
  for (const service of CONTAINER_SERVICES) {
    const preference = preferences[service] ?? 'auto';
    try {
      const choice = await selectRuntime(service, preference, { ...options, dockerCheck });
      rows.push({ service, preference, runtime: choice.runtime, reason: choice.reason });
    } catch (error) {
      rows.push({ service, preference, runtime: 'none' as const, reason: (error as Error).message });
    }
  }
  return rows;
}
