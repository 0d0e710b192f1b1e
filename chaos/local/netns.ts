/**
 * A "lossy hop": a network namespace the harness creates in front of one local replica, so that
 * iptables can drop real packets on their way to it (this kernel has no netem).
 *
 *   ingress → 127.0.0.1:<hop.port>  (host relay)
 *           → <ns address>:<NS_PORT> over the veth      (packets enter the namespace: loss applies)
 *           → (relay inside the namespace) → <host address>:<Q> back over the veth
 *           → (host relay) → 127.0.0.1:<replica port>
 *
 * The replicas listen on 127.0.0.1 only, which a namespace cannot reach, hence the host relay on
 * the veth's host address. Every packet that enters the namespace (requests on the first leg,
 * responses on the second) passes the namespace's INPUT chain, where the loss rule goes
 * (netns-loss.ts); TCP retransmits what is dropped, so the client sees latency and timeouts.
 *
 * Everything is written to the ledger before it exists: the namespace (deleting it removes its
 * veth and rules), and each relay process. Relays also exit by themselves when the harness dies.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Ledger } from '../ledger.ts';
import { processStartTime } from '../../cluster/targets/local/managed-process.ts';
import { sleep } from '../../scripts/util/wait.ts';

/** The environment variable carrying a relay's routes to netns-forwarder-main.ts. */
export const FORWARDER_ROUTES_ENV = 'NETNS_FORWARDER_ROUTES';
/** Every hop takes a /30 out of `10.203.0.0/16`: host side `.1`, namespace side `.2`. */
export const HOP_SUBNET_PREFIX = '10.203';
/** Names of namespaces (and host veth ends) the harness creates start with this; cleanup lists by it. */
export const HARNESS_NETNS_PREFIX = 'rsl-';
/** The veth end inside the namespace; the namespace is ours alone, so the name is fixed. */
export const NS_LINK = 'eth0';
/** The namespace relay's port; the namespace is fresh, so it is always free. */
export const NS_PORT = 8080;
/** The iptables rule counting every packet that enters the namespace and survives the loss rule. */
export const HOP_COUNT_COMMENT = 'rsl-hop-count';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FORWARDER_MAIN = fileURLToPath(new URL('./netns-forwarder-main.ts', import.meta.url));
const FORWARDER_READY_TIMEOUT_MS = 20_000;
const COMMAND_TIMEOUT_MS = 10_000;

/** Thrown when this machine cannot create hops: not root, or `ip`/`iptables` missing. */
export class NetnsEnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetnsEnvironmentError';
  }
}

/** Throws {@link NetnsEnvironmentError} naming what is missing and how to get it. */
export function requireNetnsTools(): void {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new NetnsEnvironmentError(`packet loss in a network namespace needs root (running as uid ${String(uid)}): run the harness as root, or use pod-network-loss through the fault proxy instead`);
  }
  for (const [binary, pkg] of [
    ['ip', 'iproute2'],
    ['iptables', 'iptables'],
  ] as const) {
    if (findOnPath(binary) === undefined) throw new NetnsEnvironmentError(`\`${binary}\` is not on PATH; install it with \`apt-get install -y ${pkg}\``);
  }
}

function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const candidate = path.join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs a command; resolves with stdout, rejects with its stderr in the message. */
export function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`\`${command} ${args.join(' ')}\` failed: ${stderr.trim() || error.message}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

/** Runs iptables inside the namespace. */
export function nsIptables(netns: string, args: readonly string[]): Promise<string> {
  return run('ip', ['netns', 'exec', netns, 'iptables', ...args]);
}

/** Names of the network namespaces the harness created (from `ip netns list`), for cleanup. */
export async function harnessNamespaces(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(HARNESS_NETNS_PREFIX));
}

/** Host links (veth ends) the harness created, for cleanup and for tests. */
export async function harnessHostLinks(): Promise<string[]> {
  const out = await run('ip', ['-o', 'link', 'show']);
  const names: string[] = [];
  for (const line of out.split('\n')) {
    // "6: rslab12cdh0@if2: <BROADCAST,…"
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    if (name?.startsWith(HARNESS_NETNS_PREFIX.replace('-', ''))) names.push(name);
  }
  return names;
}

async function linkExists(name: string): Promise<boolean> {
  return (await harnessHostLinks()).includes(name);
}

/**
 * Deletes a harness namespace: stops the processes still inside it (its relay) — a namespace held
 * by a process outlives `ip netns delete`, and so would its veth — deletes it, deletes the host
 * veth end if the kernel has not yet, and waits until both are gone. Already gone is done.
 */
export async function deleteNetns(name: string, hostLink: string): Promise<void> {
  if (!name.startsWith(HARNESS_NETNS_PREFIX)) throw new Error(`refusing to delete network namespace ${JSON.stringify(name)}: the harness only creates names starting with ${HARNESS_NETNS_PREFIX}`);
  if ((await harnessNamespaces()).includes(name)) {
    const pids = (await run('ip', ['netns', 'pids', name]))
      .split('\n')
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && pid > 0);
    await killPids(pids);
    await run('ip', ['netns', 'delete', name]).catch(async (error: unknown) => {
      if ((await harnessNamespaces()).includes(name)) throw error;
    });
  }
  // The kernel removes both veth ends with the namespace, asynchronously; make sure.
  for (let waited = 0; waited <= 5_000 && (await linkExists(hostLink)); waited += 100) {
    if (waited >= 1_000) await run('ip', ['link', 'delete', hostLink]).catch(() => undefined);
    await sleep(100);
  }
  if (await linkExists(hostLink)) throw new Error(`host link ${hostLink} of namespace ${name} is still there after 5 s; remove it with \`ip link delete ${hostLink}\``);
}

async function killPids(pids: readonly number[]): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  for (let waited = 0; waited < 3_000 && pids.some((pid) => processStartTime(pid) !== undefined); waited += 50) await sleep(50);
  for (const pid of pids) signal(pid, 'SIGKILL');
  for (let waited = 0; waited < 2_000 && pids.some((pid) => processStartTime(pid) !== undefined); waited += 50) await sleep(50);
}

/**
 * Deletes an iptables rule inside a harness namespace. Idempotent: a rule (or a namespace) that is
 * already gone counts as deleted.
 */
export async function deleteNetnsIptablesRule(netns: string, chain: string, rule: readonly string[]): Promise<void> {
  if (!(await harnessNamespaces()).includes(netns)) return;
  const present = await nsIptables(netns, ['-C', chain, ...rule]).then(
    () => true,
    () => false,
  );
  if (present) await nsIptables(netns, ['-D', chain, ...rule]);
}

/** The hop in front of one replica, while it exists. */
export interface LossyHop {
  /** Namespace name, `rsl-<run hash>-<index>`. */
  readonly netns: string;
  /** The veth end on the host. */
  readonly hostLink: string;
  readonly hostAddress: string;
  readonly nsAddress: string;
  /** Where the ingress sends the replica's traffic instead: 127.0.0.1:port. */
  readonly port: number;
  /** The replica's own port on 127.0.0.1. */
  readonly targetPort: number;
  /** Relay PIDs (host side, namespace side), for proofs and tests. */
  readonly relayPids: readonly number[];
  /** Stops the relays and deletes the namespace, then clears the ledger entries. Idempotent. */
  close(): Promise<void>;
}

export interface LossyHopOptions {
  runId: string;
  /** Tells hops of the same run apart (replica index). */
  index: number;
  /** The replica's port on 127.0.0.1. */
  targetPort: number;
  ledger: Ledger;
}

/** Namespace and host link names for a run and index; the run id is hashed to fit 15-char link names. */
export function hopNames(runId: string, index: number): { netns: string; hostLink: string } {
  if (!Number.isInteger(index) || index < 0 || index > 999) throw new Error(`hop index must be an integer from 0 to 999, got ${index}`);
  const short = createHash('sha256').update(runId).digest('hex').slice(0, 6);
  return { netns: `${HARNESS_NETNS_PREFIX}${short}-${index}`, hostLink: `rsl${short}h${index}` };
}

// One allocation at a time in this process; across processes, the check after assignment decides.
let allocation: Promise<{ host: string; ns: string } | undefined> = Promise.resolve(undefined);

/**
 * Creates the namespace, its veth pair and both relays, and returns the hop. Requires root, `ip`
 * and `iptables`. On any failure, what was created is removed before the error is thrown.
 */
export async function createLossyHop(options: LossyHopOptions): Promise<LossyHop> {
  requireNetnsTools();
  if (!Number.isInteger(options.targetPort) || options.targetPort < 1 || options.targetPort > 65_535) {
    throw new Error(`targetPort must be a TCP port from 1 to 65535, got ${options.targetPort}`);
  }
  const { netns, hostLink } = hopNames(options.runId, options.index);
  if ((await harnessNamespaces()).includes(netns)) {
    throw new Error(`network namespace ${netns} already exists (left by an earlier run?): run \`resilience cleanup\` or \`ip netns delete ${netns}\``);
  }
  const entries: string[] = [];
  const relays: Relay[] = [];
  const ledger = options.ledger;
  const teardown = async (): Promise<void> => {
    for (const relay of relays.splice(0).reverse()) await relay.stop();
    await deleteNetns(netns, hostLink);
    for (const id of entries.splice(0)) ledger.remove(id);
  };
  try {
    entries.push(
      ledger.record({
        runId: options.runId,
        kind: 'process',
        description: `lossy hop namespace ${netns} (veth ${hostLink}) in front of 127.0.0.1:${options.targetPort}`,
        revert: { type: 'netns-delete', name: netns, hostLink },
      }),
    );
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', NS_LINK, 'netns', netns]);
    const claim = allocation.catch(() => undefined).then(() => assignSubnet(netns, hostLink));
    allocation = claim;
    const subnet = await claim;
    await run('ip', ['link', 'set', hostLink, 'up']);
    await run('ip', ['-n', netns, 'link', 'set', NS_LINK, 'up']);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    // Counts what enters the namespace and survives; the loss rule goes above it.
    await nsIptables(netns, ['-A', 'INPUT', '-i', NS_LINK, '-m', 'comment', '--comment', HOP_COUNT_COMMENT]);

    const host = await Relay.start(
      [
        { listen: `${subnet.host}:0`, target: `127.0.0.1:${options.targetPort}` },
        { listen: '127.0.0.1:0', target: `${subnet.ns}:${NS_PORT}` },
      ],
      undefined,
      `lossy hop ${netns} host relay`,
      options,
      entries,
    );
    relays.push(host);
    const [returnPort, hopPort] = host.ports;
    if (returnPort === undefined || hopPort === undefined) throw new Error(`host relay of ${netns} reported ports ${JSON.stringify(host.ports)}, expected two`);
    const inside = await Relay.start([{ listen: `${subnet.ns}:${NS_PORT}`, target: `${subnet.host}:${returnPort}` }], netns, `lossy hop ${netns} namespace relay`, options, entries);
    relays.push(inside);

    let closing: Promise<void> | undefined;
    return {
      netns,
      hostLink,
      hostAddress: subnet.host,
      nsAddress: subnet.ns,
      port: hopPort,
      targetPort: options.targetPort,
      relayPids: [host.pid, inside.pid],
      close: () => (closing ??= teardown()),
    };
  } catch (error) {
    await teardown().catch(() => undefined);
    throw error;
  }
}

/**
 * Gives the veth pair the first free /30 of {@link HOP_SUBNET_PREFIX}. Free: no address on any
 * interface and no route overlaps it. After assigning, if another interface (another process's hop)
 * took an overlapping address meanwhile, the one with the higher interface index gives way.
 */
async function assignSubnet(netns: string, hostLink: string): Promise<{ host: string; ns: string }> {
  for (let attempt = 0; attempt < 256; attempt++) {
    const used = await usedIpv4Ranges();
    let third = -1;
    for (let x = 0; x < 256 && third < 0; x++) if (!used.some((r) => overlaps(r, { base: ipToInt(`${HOP_SUBNET_PREFIX}.${x}.0`), bits: 30 }))) third = x;
    if (third < 0) throw new Error(`no free /30 left in ${HOP_SUBNET_PREFIX}.0.0/16 for a lossy hop; delete leftover hops with \`resilience cleanup\``);
    const host = `${HOP_SUBNET_PREFIX}.${third}.1`;
    const ns = `${HOP_SUBNET_PREFIX}.${third}.2`;
    await run('ip', ['addr', 'add', `${host}/30`, 'dev', hostLink]);
    const mine = await interfaceIndex(hostLink);
    const rivals = (await ipv4Addresses()).filter((a) => a.link !== hostLink && a.index < mine && overlaps({ base: a.base, bits: a.bits }, { base: ipToInt(host), bits: 30 }));
    if (rivals.length > 0) {
      await run('ip', ['addr', 'delete', `${host}/30`, 'dev', hostLink]);
      await sleep(20 + Math.floor(Math.random() * 50));
      continue;
    }
    await run('ip', ['-n', netns, 'addr', 'add', `${ns}/30`, 'dev', NS_LINK]);
    return { host, ns };
  }
  throw new Error(`could not claim a /30 in ${HOP_SUBNET_PREFIX}.0.0/16 after 256 attempts`);
}

interface Range {
  base: number;
  bits: number;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function overlaps(a: Range, b: Range): boolean {
  const bits = Math.min(a.bits, b.bits);
  const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
  // Compare the shared prefix; `>>> 0` keeps the values unsigned.
  return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
}

async function ipv4Addresses(): Promise<(Range & { link: string; index: number })[]> {
  const out = await run('ip', ['-o', '-4', 'addr', 'show']);
  const found: (Range & { link: string; index: number })[] = [];
  for (const line of out.split('\n')) {
    // "6: rslab12cdh0    inet 10.203.0.1/30 scope global rslab12cdh0 …"
    const m = /^(\d+):\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line);
    if (m) found.push({ index: Number(m[1]), link: (m[2] ?? '').split('@')[0] ?? '', base: ipToInt(m[3] ?? ''), bits: Number(m[4]) });
  }
  return found;
}

async function usedIpv4Ranges(): Promise<Range[]> {
  const ranges: Range[] = (await ipv4Addresses()).map((a) => ({ base: a.base, bits: a.bits }));
  const routes = await run('ip', ['-4', 'route', 'show', 'table', 'all']);
  for (const line of routes.split('\n')) {
    // The default route covers everything by definition; it does not make a range "in use".
    const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?\s/.exec(line.replace(/^(local|broadcast|unicast)\s+/, ''));
    if (m) ranges.push({ base: ipToInt(m[1] ?? ''), bits: m[2] === undefined ? 32 : Number(m[2]) });
  }
  return ranges.filter((r) => r.bits > 0);
}

async function interfaceIndex(link: string): Promise<number> {
  const out = await run('ip', ['-o', 'link', 'show', 'dev', link]);
  const index = Number(/^(\d+):/.exec(out)?.[1]);
  if (!Number.isInteger(index)) throw new Error(`cannot read the interface index of ${link} from \`ip -o link show\`: ${out.trim()}`);
  return index;
}

/** A relay process (netns-forwarder-main.ts), in the ledger from the moment it has a PID. */
class Relay {
  private ledgerId: string | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly ports: readonly number[],
    private readonly ledger: Ledger,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }

  static async start(routes: { listen: string; target: string }[], netns: string | undefined, description: string, options: LossyHopOptions, entries: string[]): Promise<Relay> {
    const node = [process.execPath, '--import', 'tsx', FORWARDER_MAIN];
    // `ip netns exec` execs the command after entering the namespace: same PID, so the relay's
    // parent is the harness and its orphan guard works.
    const [command, ...args] = netns === undefined ? node : ['ip', 'netns', 'exec', netns, ...node];
    const child = spawn(command!, args, {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, [FORWARDER_ROUTES_ENV]: JSON.stringify(routes) },
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${description}: could not be started`);
    const id = options.ledger.record({ runId: options.runId, kind: 'process', description, revert: { type: 'kill-process', pid, startTime: processStartTime(pid), name: description } });
    entries.push(id);
    let stdout = '';
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4_000)));
    try {
      const ports = await new Promise<number[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${description} did not report ready within ${FORWARDER_READY_TIMEOUT_MS} ms; stderr: ${stderr.trim()}`)), FORWARDER_READY_TIMEOUT_MS);
        child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
          const m = /^ready (\[[\d,]*\])$/m.exec(stdout);
          if (m) {
            clearTimeout(timer);
            resolve(JSON.parse(m[1] ?? '[]') as number[]);
          }
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`${description} exited before ready (code ${code ?? signal}); stderr: ${stderr.trim()}`));
        });
      });
      const relay = new Relay(child, pid, ports, options.ledger);
      relay.ledgerId = id;
      return relay;
    } catch (error) {
      const relay = new Relay(child, pid, [], options.ledger);
      relay.ledgerId = id;
      await relay.stop();
      entries.splice(entries.indexOf(id), 1);
      throw error;
    }
  }

  /** SIGTERM, SIGKILL after 3 s; removes the ledger entry once the process is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const done = await Promise.race([this.exited.then(() => true), sleep(3_000).then(() => false)]);
      if (!done) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    if (this.ledgerId !== undefined) this.ledger.remove(this.ledgerId);
  }
}
