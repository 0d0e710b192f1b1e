/**
 * Warms the engine's request path (undici's pool and HTTP parser, the run loop, metrics) in this
 * process before a load's clock starts, against a throwaway HTTP responder on 127.0.0.1 — never
 * against the target, which only ever sees the scheduled requests.
 *
 * Why: on a cold process the first few hundred requests run unoptimised code and compile undici's
 * WebAssembly parser, stalling the event loop for tens of milliseconds. In an arrival-rate run the
 * iterations that come due meanwhile pile onto new VUs, whose connections stall the loop further:
 * at 5,000 req/s this dropped ~300 iterations and put a ~150 ms stall into every run's p99.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { defineScenario } from '../types.ts';
import { LatencyRecorder, RateWindow } from './latency.ts';
import { EngineMetrics } from './metrics.ts';
import { resolveScenario } from './resolve.ts';
import { ScenarioRun } from './scenario-run.ts';

/** Requests of the warm-up: enough for V8 to optimise the per-request functions. */
export const WARM_UP_ITERATIONS = 400;
const WARM_UP_VUS = 16;
/** A fixed keep-alive answer to every request the responder reads. */
const RESPONSE = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok';

let warmed: Promise<WarmUpResult> | undefined;

export interface WarmUpResult {
  /** Requests the warm-up completed (0 when it could not run; the load then starts cold). */
  requests: number;
  durationMs: number;
}

/**
 * Runs the warm-up once per process (JIT-compiled code stays warm); later calls return the first
 * call's result. Never rejects: a warm-up that fails only means a cold start.
 */
export function warmUpHotPath(): Promise<WarmUpResult> {
  warmed ??= runWarmUp().catch(() => ({ requests: 0, durationMs: 0 }));
  return warmed;
}

async function runWarmUp(): Promise<WarmUpResult> {
  const startedAt = performance.now();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // One answer per chunk read: the warm-up's GETs are small and never pipelined.
    socket.on('data', () => socket.write(RESPONSE));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: WARM_UP_VUS, pipelining: 1 });
  try {
    const scenario = resolveScenario(
      defineScenario({
        name: 'warm-up',
        executor: 'shared-iterations',
        vus: WARM_UP_VUS,
        iterations: WARM_UP_ITERATIONS,
        maxDuration: '10s',
        requests: [{ name: 'warm-up', weight: 1, method: 'GET', path: '/' }],
      }),
    );
    const summary = await new ScenarioRun({
      scenario,
      dispatcher: pool,
      basePath: '',
      setupData: undefined,
      metrics: new EngineMetrics(scenario),
      latency: new LatencyRecorder(),
      rateWindow: new RateWindow(),
    }).run();
    return { requests: summary.requests, durationMs: performance.now() - startedAt };
  } finally {
    await pool.destroy();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
