import { ReplicaSet } from '../../cluster/targets/local/replica-set.ts';
import { freePort } from '../../cluster/targets/local/ports.ts';
import type { Ledger } from '../ledger.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';

/**
 * For tests: a real ReplicaSet of tiny Node HTTP servers (`source` is the replica's script; it
 * listens on PORT and answers GET /health) with a real fault proxy in front of each slot, as the
 * local target puts them between the ingress and the replicas.
 */
export async function startProxiedReplicas(options: { source: string; replicas: number; runId: string; dir: string; ledger: Ledger; random?: () => number }): Promise<{
  set: ReplicaSet;
  proxies: FaultProxy[];
  stop(): Promise<void>;
}> {
  const ports = await Promise.all(Array.from({ length: options.replicas }, () => freePort()));
  const set = new ReplicaSet({
    app: 'hastecrm-api',
    replicas: options.replicas,
    ports,
    command: process.execPath,
    args: ['-e', options.source],
    env: (_slot, port) => ({ PATH: process.env.PATH, PORT: String(port) }),
    readyPath: '/health',
    readyTimeoutMs: 10_000,
    logDir: options.dir,
    runId: options.runId,
    ledger: options.ledger,
    log: () => undefined,
  });
  const proxies: FaultProxy[] = [];
  const stop = async (): Promise<void> => {
    // close() is bounded, so a connection that never reports 'close' cannot keep the replicas up.
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await set.stop();
  };
  try {
    await set.start(new AbortController().signal);
    for (const port of ports) proxies.push(await startFaultProxy({ target: { host: '127.0.0.1', port }, ...(options.random ? { random: options.random } : {}) }));
  } catch (error) {
    await stop();
    throw error;
  }
  return { set, proxies, stop };
}
