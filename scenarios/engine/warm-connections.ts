/**
 * Connections opened before the load's clock starts, one per pre-allocated VU, and handed to the
 * engine's undici pool as it needs sockets.
 *
 * Why: k6 initialises its preAllocatedVUs before the test starts. Opening their connections inside
 * the schedule instead made the first ~200 ms of an arrival-rate run a cascade: connecting on a cold
 * process blocks the event loop (tens of ms), iterations come due meanwhile, find every VU busy
 * connecting, take new VUs whose connections block the loop further — at 5,000 req/s that dropped
 * ~250 iterations and put a 150 ms stall into every run's p99. Only TCP (and TLS) handshakes reach
 * the target here, never a request: the requests the run sends are exactly the scheduled ones.
 */
import type { Socket } from 'node:net';
import { buildConnector } from 'undici';

/** Connections opened at once while warming up: enough to be quick, few enough not to flood a small server's accept queue. */
const OPEN_CONCURRENCY = 64;

export class WarmConnections {
  /** Idle warm sockets, each with the close listener that forgets it. */
  private readonly idle = new Map<Socket, () => void>();
  private readonly connector: buildConnector.connector;
  private readonly target: buildConnector.Options;
  private closed = false;

  /**
   * @param origin the pool's origin (`http://host:port`); sockets are opened with undici's own
   *   connector, so they carry the options (keep-alive, no-delay, TLS) undici would have set.
   */
  constructor(origin: string, connectTimeoutMs: number) {
    const url = new URL(origin);
    // undici's URL host for IPv6 is bracketed; its connector wants the bare address.
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, url.hostname.indexOf(']')) : url.hostname;
    this.target = { hostname, host: url.host, protocol: url.protocol, port: url.port || (url.protocol === 'https:' ? '443' : '80') };
    this.connector = buildConnector({ timeout: connectTimeoutMs });
  }

  /** Idle warm sockets not yet handed out. */
  get available(): number {
    return this.idle.size;
  }

  /**
   * undici's `connect` option: a warm socket when one is still open, else a new connection made by
   * undici's connector.
   */
  readonly connect: buildConnector.connector = (options, callback) => {
    // Bounded by the idle map, which only shrinks here.
    for (const [socket, onClose] of this.idle) {
      this.idle.delete(socket);
      socket.removeListener('error', onIdleError);
      socket.removeListener('close', onClose);
      if (!socket.destroyed && socket.readyState === 'open') {
        // Asynchronously, as undici's connector answers: a synchronous answer re-enters undici's
        // resume loop and leaves the request unsent. No I/O event can reach the socket before
        // nextTick callbacks run, so it needs no error listener meanwhile.
        process.nextTick(callback, null, socket);
        return;
      }
      socket.destroy();
    }
    this.connector(options, callback);
  };

  /**
   * Opens up to `count` connections and resolves with how many are open. A connection that fails
   * is not an error here: the run's requests will meet (and count) the same failure.
   */
  async open(count: number, signal?: AbortSignal): Promise<number> {
    let next = 0;
    const stopped = (): boolean => this.closed || signal?.aborted === true;
    const worker = async (): Promise<void> => {
      // Bounded by count: every pass takes one index.
      while (next < count && !stopped()) {
        next += 1;
        const socket = await this.openOne();
        if (socket === undefined) continue;
        if (stopped()) {
          socket.destroy();
          continue;
        }
        // A warm socket the server closes while it waits is forgotten.
        const onClose = (): void => void this.idle.delete(socket);
        socket.on('error', onIdleError);
        socket.once('close', onClose);
        this.idle.set(socket, onClose);
      }
    };
    await Promise.all(Array.from({ length: Math.min(count, OPEN_CONCURRENCY) }, worker));
    return this.idle.size;
  }

  /** Closes the sockets not handed out; later `connect` calls connect afresh. Idempotent. */
  close(): void {
    this.closed = true;
    for (const [socket, onClose] of this.idle) {
      socket.removeListener('close', onClose);
      socket.destroy();
    }
    this.idle.clear();
  }

  private openOne(): Promise<Socket | undefined> {
    return new Promise((resolve) => {
      this.connector(this.target, (error, socket) => resolve(error === null && socket !== null ? socket : undefined));
    });
  }
}

/** An idle warm socket's error (a reset by the server): without a listener it would crash the process; the socket then closes and is forgotten. */
function onIdleError(): void {}
