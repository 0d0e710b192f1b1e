/**
 * A TCP fault proxy: listens on 127.0.0.1:P, forwards every connection to 127.0.0.1:Q, and injects
 * Litmus's network faults at the connection and byte level. This machine's kernel has no `netem`,
 * so pod-network-latency and pod-network-loss are reproduced here, in front of a replica.
 *
 * How each fault maps to what Litmus does (`tc qdisc … netem` on the pod's egress interface):
 *
 * - **latency** (NETWORK_LATENCY): every chunk the *target sends back* (target → client) is held
 *   for the delay before it is written, and the connection to the target is opened only after the
 *   delay. netem delays the pod's outgoing packets, i.e. its SYN-ACK and its responses, so an HTTP
 *   client sees +delay on each request/response round trip and another +delay when it opens a new
 *   connection. Delaying the connect and the target's bytes gives exactly that: a fresh connection's
 *   first request takes +2×delay, each keep-alive request +1×delay. Client → target bytes are not
 *   delayed, as netem on the pod leaves its ingress alone. Chunks are delayed from their own
 *   arrival (pipelined, not cumulative) and stay in order, as TCP reassembles them.
 * - **jitter** (JITTER): each delay is drawn uniformly from [latency − jitter, latency + jitter]
 *   (clamped at 0), like netem's default distribution. To keep byte order a chunk never overtakes
 *   the one before it.
 * - **loss** (NETWORK_PACKET_LOSS_PERCENTAGE): a TCP proxy cannot drop packets (the kernel
 *   retransmits under it), so loss is modelled as that share of *new* connections black-holed:
 *   accepted, read and discarded, never forwarded nor answered, until the client gives up. That is
 *   what a client sees of heavy loss: a request that times out. Connections already open are not
 *   affected, so a client pooling keep-alive connections sees loss only as it opens new ones.
 * - **reset** (a share of new connections): the connection is reset (TCP RST) when the client sends
 *   its first bytes (or after {@link RESET_IDLE_MS} of silence, for server-speaks-first protocols);
 *   the client sees ECONNRESET.
 *
 * Faults switch at runtime (`setFault(spec | null)`), so the proxy can sit in front of replicas
 * for the whole run and act only during the experiment window. Loss and reset are decided when a
 * connection is accepted; latency and jitter apply to every chunk forwarded while they are set,
 * open connections included. Clearing the fault closes the black-holed connections (nothing stays
 * stuck after the revert) and lets every other connection run at full speed again.
 */
import net from 'node:net';

/** Litmus's network tunables, as the proxy applies them. Absent fields mean "no such fault". */
export interface FaultSpec {
  /** NETWORK_LATENCY, ms added to the target's responses and to connection setup. */
  latencyMs?: number;
  /** JITTER, ms: each delay is uniform in latency ± jitter. */
  jitterMs?: number;
  /** NETWORK_PACKET_LOSS_PERCENTAGE, 0-100: share of new connections black-holed. */
  lossPercent?: number;
  /** 0-100: share of new connections reset at their first bytes. */
  resetPercent?: number;
}

export interface FaultProxyOptions {
  /** Port to listen on (127.0.0.1); 0 or absent picks a free one (read it from `port`). */
  listenPort?: number;
  /** Where connections go; loopback only. */
  target: { host: string; port: number };
  /** Fault active from the start; default none. */
  fault?: FaultSpec | null;
  /** Random source in [0, 1); default Math.random. */
  random?: () => number;
}

/** Counters since start, for proofs ("took effect") and reports. */
export interface FaultProxyStats {
  /** Connections accepted. */
  connections: number;
  /** Connections open now (client side). */
  open: number;
  /** Target → client chunks, and connection setups, held back by latency/jitter. */
  delayedChunks: number;
  /** Connections black-holed by loss. */
  blackholed: number;
  /** Connections reset. */
  resets: number;
}

export interface FaultProxy {
  readonly port: number;
  /** Replaces the active fault; `null` clears it. Throws {@link FaultSpecError} on invalid values. */
  setFault(spec: FaultSpec | null): void;
  fault(): FaultSpec | null;
  stats(): FaultProxyStats;
  /**
   * Resets every open connection (both sides) and returns how many client connections it cut. With
   * 100 % loss set first, this is a partition: kept-alive connections die and new ones hang.
   */
  dropConnections(): number;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

/** A reset connection that never sends is reset after this much silence. */
export const RESET_IDLE_MS = 1_000;
/** The longest close() waits for sockets to report closed after destroying them. */
const CLOSE_WAIT_MS = 2_000;

export class FaultSpecError extends Error {
  constructor(
    readonly field: keyof FaultSpec,
    readonly problem: string,
    readonly value: unknown,
  ) {
    super(`${field}: ${problem} (got ${JSON.stringify(value)})`);
    this.name = 'FaultSpecError';
  }
}

/** Checks a spec's ranges; returns a frozen copy with only the fields that are set. */
export function validateFaultSpec(spec: FaultSpec): FaultSpec {
  const out: FaultSpec = {};
  const check = (field: keyof FaultSpec, max: number): void => {
    const value = spec[field];
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
      throw new FaultSpecError(field, `must be a number from 0 to ${max}`, value);
    }
    out[field] = value;
  };
  // One hour bounds the delays: larger is a typo, and would hold memory for the whole window.
  check('latencyMs', 3_600_000);
  check('jitterMs', 3_600_000);
  check('lossPercent', 100);
  check('resetPercent', 100);
  return Object.freeze(out);
}

/** True when the spec changes nothing (all absent or zero). */
export function isNoFault(spec: FaultSpec | null): boolean {
  return spec === null || ((spec.latencyMs ?? 0) === 0 && (spec.jitterMs ?? 0) === 0 && (spec.lossPercent ?? 0) === 0 && (spec.resetPercent ?? 0) === 0);
}

/**
 * Writes chunks to `to` each after its own delay, in order. `end()` ends `to` once every queued
 * chunk is written. A chunk with no delay and an empty queue is written at once.
 */
class DelayedPipe {
  private readonly queue: { releaseAt: number; chunk: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastReleaseAt = 0;
  private ending = false;

  private waitingForDrain = false;

  /** `pauseSource`/`resumeSource` apply back-pressure when `to` cannot keep up. */
  constructor(
    private readonly to: net.Socket,
    private readonly pauseSource: () => void,
    private readonly resumeSource: () => void,
  ) {}

  push(chunk: Buffer, delayMs: number): void {
    const now = performance.now();
    // Never overtake the chunk before: TCP delivers bytes in order whatever the per-packet delay.
    const releaseAt = Math.max(now + delayMs, this.lastReleaseAt);
    this.lastReleaseAt = releaseAt;
    if (this.queue.length === 0 && releaseAt <= now) {
      this.write(chunk);
      return;
    }
    this.queue.push({ releaseAt, chunk });
    this.schedule();
  }

  end(): void {
    this.ending = true;
    if (this.queue.length === 0) this.to.end();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private write(chunk: Buffer): void {
    if (this.to.destroyed) return;
    if (!this.to.write(chunk) && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.pauseSource();
      this.to.once('drain', () => {
        this.waitingForDrain = false;
        this.resumeSource();
      });
    }
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const head = this.queue[0];
    if (head === undefined) return;
    this.timer = setTimeout(() => this.drain(), Math.max(0, head.releaseAt - performance.now()));
  }

  private drain(): void {
    this.timer = undefined;
    const now = performance.now();
    // setTimeout may fire up to 1 ms early relative to performance.now(); accept that slack.
    while (this.queue[0] !== undefined && this.queue[0].releaseAt <= now + 1) {
      const { chunk } = this.queue.shift()!;
      this.write(chunk);
    }
    if (this.queue.length > 0) this.schedule();
    else if (this.ending) this.to.end();
  }
}

/** Starts the proxy; resolves once it listens. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { host, port: targetPort } = options.target;
  if (net.isIP(host) === 0 || !(host.startsWith('127.') || host === '::1')) {
    throw new Error(`fault proxy target must be a loopback IP literal, got ${JSON.stringify(host)}`);
  }
  const random = options.random ?? Math.random;
  let active: FaultSpec | null = options.fault == null ? null : validateFaultSpec(options.fault);
  const counters = { connections: 0, delayedChunks: 0, blackholed: 0, resets: 0 };
  const sockets = new Set<net.Socket>();
  const blackholes = new Set<net.Socket>();
  let openClients = 0;
  let closing: Promise<void> | undefined;

  const chance = (percent: number | undefined): boolean => percent !== undefined && percent > 0 && random() * 100 < percent;
  /** This chunk's delay under the fault active now. */
  const delayNow = (): number => {
    const latency = active?.latencyMs ?? 0;
    const jitter = active?.jitterMs ?? 0;
    if (latency === 0 && jitter === 0) return 0;
    return Math.max(0, latency + (jitter === 0 ? 0 : (random() * 2 - 1) * jitter));
  };

  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    // Errors are handled where the socket is used; this keeps a late one from crashing the process.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      sockets.delete(socket);
      blackholes.delete(socket);
    });
  };

  const blackhole = (client: net.Socket): void => {
    counters.blackholed++;
    blackholes.add(client);
    // Read and discard, so the client's writes succeed and it waits for an answer that never comes.
    client.on('data', () => undefined);
    client.on('end', () => client.destroy());
  };

  const reset = (client: net.Socket): void => {
    let done = false;
    const fire = (): void => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      if (client.destroyed) return;
      counters.resets++;
      client.resetAndDestroy();
    };
    const idle = setTimeout(fire, RESET_IDLE_MS);
    client.once('data', fire);
    client.once('end', fire);
    client.once('close', () => clearTimeout(idle));
  };

  const forward = (client: net.Socket): void => {
    client.pause();
    const connectDelay = delayNow();
    if (connectDelay > 0) counters.delayedChunks++;
    const upstream = new net.Socket({ allowHalfOpen: true });
    track(upstream);
    const toUpstream = new DelayedPipe(
      upstream,
      () => client.pause(),
      () => client.resume(),
    );
    const toClient = new DelayedPipe(
      client,
      () => upstream.pause(),
      () => upstream.resume(),
    );
    const teardown = (): void => {
      toUpstream.dispose();
      toClient.dispose();
      clearTimeout(connectTimer);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => toUpstream.push(chunk, 0));
    client.on('end', () => toUpstream.end());
    upstream.on('data', (chunk: Buffer) => {
      const delay = delayNow();
      if (delay > 0) counters.delayedChunks++;
      toClient.push(chunk, delay);
    });
    upstream.on('end', () => toClient.end());
    // A reset (or refusal) on one side is passed on as a reset, so each side sees what the other did.
    client.on('error', () => {
      if (!upstream.destroyed && !upstream.pending) upstream.resetAndDestroy();
      teardown();
    });
    upstream.on('error', () => {
      if (!client.destroyed) client.resetAndDestroy();
      teardown();
    });
    client.on('close', teardown);
    upstream.on('close', () => {
      // Let data still queued for the client go out first; the pipe ends the client afterwards.
      if (!upstream.readableEnded) teardown();
    });
    const connectTimer = setTimeout(() => {
      if (client.destroyed) return;
      upstream.connect({ host, port: targetPort }, () => client.resume());
    }, connectDelay);
  };

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    counters.connections++;
    openClients++;
    client.once('close', () => openClients--);
    track(client);
    if (closing !== undefined) {
      client.destroy();
      return;
    }
    const fault = active;
    if (chance(fault?.lossPercent)) {
      blackhole(client);
      client.resume();
    } else if (chance(fault?.resetPercent)) {
      reset(client);
      client.resume();
    } else {
      forward(client);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy: no listening address');

  return {
    port: address.port,
    setFault(spec) {
      active = spec === null ? null : validateFaultSpec(spec);
      if ((active?.lossPercent ?? 0) === 0) {
        // Revert: a black-holed connection would otherwise stay stuck until its client gives up.
        for (const socket of blackholes) socket.destroy();
        blackholes.clear();
      }
    },
    fault: () => active,
    stats: () => ({ ...counters, open: openClients }),
    dropConnections() {
      const cut = openClients;
      for (const socket of [...sockets]) if (!socket.destroyed) socket.resetAndDestroy();
      return cut;
    },
    close() {
      // Resolves once the listener and every socket (both sides) have emitted 'close', or after
      // CLOSE_WAIT_MS at the latest: every socket is destroyed by then, and a teardown must never
      // hang on a 'close' event that does not come (seen rarely under load in tests).
      closing ??= Promise.race([
        Promise.all([
          new Promise<void>((resolve) => server.close(() => resolve())),
          ...[...sockets].map((socket) => {
            const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
            socket.destroy();
            return closed;
          }),
        ]).then(() => undefined),
        new Promise<void>((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref()),
      ]);
      return closing;
    },
  };
}

/** The process entry's environment variables (fault-proxy-main.ts). */
export const FAULT_PROXY_ENV = {
  target: 'FAULT_PROXY_TARGET',
  port: 'FAULT_PROXY_PORT',
  active: 'FAULT_PROXY_ACTIVE',
  latency: 'NETWORK_LATENCY',
  jitter: 'JITTER',
  loss: 'NETWORK_PACKET_LOSS_PERCENTAGE',
  reset: 'FAULT_PROXY_RESET_PERCENTAGE',
} as const;

export class FaultProxyConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
    readonly value: unknown,
  ) {
    super(`${variable}: ${problem} (got ${JSON.stringify(value)})`);
    this.name = 'FaultProxyConfigError';
  }
}

export interface FaultProxyProcessConfig {
  listenPort: number;
  target: { host: string; port: number };
  /** The fault SIGUSR1 switches on. */
  fault: FaultSpec;
  /** Whether `fault` is on from the start. */
  activeAtStart: boolean;
}

/**
 * Reads the process entry's configuration. Litmus's own names carry the tunables (NETWORK_LATENCY,
 * JITTER, NETWORK_PACKET_LOSS_PERCENTAGE); throws {@link FaultProxyConfigError} naming the variable.
 */
export function faultProxyConfigFromEnv(env: Record<string, string | undefined>): FaultProxyProcessConfig {
  const integer = (variable: string, min: number, max: number, fallback: number): number => {
    const raw = env[variable];
    if (raw === undefined || raw.trim() === '') return fallback;
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
      throw new FaultProxyConfigError(variable, `must be an integer from ${min} to ${max}`, raw);
    }
    return Number(raw);
  };
  const targetRaw = env[FAULT_PROXY_ENV.target];
  if (targetRaw === undefined || targetRaw.trim() === '') {
    throw new FaultProxyConfigError(FAULT_PROXY_ENV.target, 'required, as 127.0.0.1:PORT', targetRaw);
  }
  const match = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}):(\d{1,5})$/.exec(targetRaw.trim());
  const targetPort = Number(match?.[2]);
  if (match?.[1] === undefined || net.isIP(match[1]) !== 4 || targetPort < 1 || targetPort > 65_535) {
    throw new FaultProxyConfigError(FAULT_PROXY_ENV.target, 'must be a loopback address 127.x.x.x:PORT (PORT 1-65535)', targetRaw);
  }
  const activeRaw = (env[FAULT_PROXY_ENV.active] ?? 'true').trim();
  if (activeRaw !== 'true' && activeRaw !== 'false') {
    throw new FaultProxyConfigError(FAULT_PROXY_ENV.active, 'allowed: true, false', activeRaw);
  }
  return {
    listenPort: integer(FAULT_PROXY_ENV.port, 0, 65_535, 0),
    target: { host: match[1], port: targetPort },
    fault: {
      latencyMs: integer(FAULT_PROXY_ENV.latency, 0, 3_600_000, 0),
      jitterMs: integer(FAULT_PROXY_ENV.jitter, 0, 3_600_000, 0),
      lossPercent: integer(FAULT_PROXY_ENV.loss, 0, 100, 0),
      resetPercent: integer(FAULT_PROXY_ENV.reset, 0, 100, 0),
    },
    activeAtStart: activeRaw === 'true',
  };
}
