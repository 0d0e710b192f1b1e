/**
 * A plain TCP relay process for the lossy hop (netns.ts): `node --import tsx netns-forwarder-main.ts`.
 *
 * The fault proxy listens and connects on loopback only; the hop needs a relay that listens on a
 * veth address inside a network namespace and connects across the veth, so this one takes any IP
 * literal. It injects nothing: the loss comes from the iptables rule in the namespace.
 *
 * Contract with the harness (netns.ts):
 * - routes come from `NETNS_FORWARDER_ROUTES`, a JSON array of `{"listen":"IP:PORT","target":"IP:PORT"}`
 *   (listen port 0 picks a free one); invalid: exit 2 before listening, stderr names the problem;
 * - cannot listen: exit 4;
 * - once every route listens, prints one line `ready [P1,P2,…]` (the listening ports, in route order);
 * - SIGTERM or SIGINT: closes every connection and exits 0;
 * - exits by itself when its parent dies (the harness was SIGKILLed), so no relay outlives the run.
 */
import net from 'node:net';
import { ExitCode } from '../../scripts/exit-codes.ts';
import { FORWARDER_ROUTES_ENV } from './netns.ts';

const ORPHAN_CHECK_INTERVAL_MS = 500;

interface Endpoint {
  host: string;
  port: number;
}
interface Route {
  listen: Endpoint;
  target: Endpoint;
}

function parseEndpoint(text: unknown, field: string, allowZeroPort: boolean): Endpoint {
  if (typeof text !== 'string') throw new Error(`${field} must be a string "IP:PORT", got ${JSON.stringify(text)}`);
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon);
  const port = Number(text.slice(colon + 1));
  if (colon < 0 || net.isIPv4(host) === false) throw new Error(`${field} must start with an IPv4 literal, got ${JSON.stringify(text)}`);
  if (!Number.isInteger(port) || port < (allowZeroPort ? 0 : 1) || port > 65_535) throw new Error(`${field} has an invalid port in ${JSON.stringify(text)}`);
  return { host, port };
}

function parseRoutes(raw: string | undefined): Route[] {
  if (raw === undefined || raw === '') throw new Error(`${FORWARDER_ROUTES_ENV} is required: a JSON array of {"listen":"IP:PORT","target":"IP:PORT"}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new Error(`${FORWARDER_ROUTES_ENV} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error(`${FORWARDER_ROUTES_ENV} must be a non-empty JSON array`);
  return parsed.map((item: unknown, i) => {
    const record = (item ?? {}) as Record<string, unknown>;
    return { listen: parseEndpoint(record.listen, `${FORWARDER_ROUTES_ENV}[${i}].listen`, true), target: parseEndpoint(record.target, `${FORWARDER_ROUTES_ENV}[${i}].target`, false) };
  });
}

/** Starts a relay for one route; resolves with its server once listening. */
function relay(route: Route, sockets: Set<net.Socket>): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(route.target);
    sockets.add(client).add(upstream);
    // Either side failing ends both: a half-open relay would hang the client until its timeout.
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', () => {
        sockets.delete(socket);
        end();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(route.listen.port, route.listen.host, () => resolve(server));
  });
}

async function main(): Promise<void> {
  let routes: Route[];
  try {
    routes = parseRoutes(process.env[FORWARDER_ROUTES_ENV]);
  } catch (error) {
    process.stderr.write(`netns-forwarder: invalid configuration: ${(error as Error).message}\n`);
    process.exit(ExitCode.InvalidConfig);
  }
  const sockets = new Set<net.Socket>();
  const servers: net.Server[] = [];
  for (const route of routes) {
    try {
      servers.push(await relay(route, sockets));
    } catch (error) {
      process.stderr.write(`netns-forwarder: cannot listen on ${route.listen.host}:${route.listen.port}: ${(error as Error).message}\n`);
      process.exit(ExitCode.Environment);
    }
  }
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  process.stdout.write(`ready ${JSON.stringify(ports)}\n`);

  const parentAtStart = process.ppid;
  const stop = (): void => {
    for (const server of servers) server.close();
    for (const socket of sockets) socket.destroy();
    process.exit(ExitCode.Pass);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Re-parented means the harness is gone and nobody would stop us.
  setInterval(() => {
    if (process.ppid !== parentAtStart || process.ppid === 1) stop();
  }, ORPHAN_CHECK_INTERVAL_MS).unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`netns-forwarder: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(ExitCode.Environment);
});
