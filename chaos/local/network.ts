import { formatLabelSelector } from '../litmus/experiments.ts';
import { request } from 'node:http';
import type { Pod } from '../../cluster/targets/local/replica-set.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import { sleep } from '../../scripts/util/wait.ts';
import type { ChaosAction, ExperimentRecord } from '../types.ts';
import type { FaultProxy, FaultSpec } from './fault-proxy.ts';
import type { InjectorContext } from './pod-delete.ts';
import { mergeRecords, notStarted, pickVictims } from './victims.ts';
import type { LossyHop } from './netns.ts';
import { runNetnsPacketLoss } from './netns-loss.ts';

export type NetworkExperiment = 'pod-network-latency' | 'pod-network-loss' | 'pod-network-partition';

/** What network experiments need from the local target: pods, and the proxy in front of each. */
export interface NetworkControl {
  pods(selector: Record<string, string>): Pod[];
  faultProxy(slot: number): FaultProxy | undefined;
  /** The network namespace in front of the replica, where packet loss is real (root only). */
  lossyHop?(slot: number): LossyHop | undefined;
}

/** The probe path: answered by the replica itself, without the data tier. */
const PROBE_PATH = '/health';
const PROBES = 5;

/**
 * Litmus's pod-network-latency, -loss and -partition on local replicas, through the fault proxy
 * between the ingress and each targeted replica (this kernel has no netem):
 * - latency: NETWORK_LATENCY ± JITTER ms on every reply chunk and connection setup;
 * - loss: NETWORK_PACKET_LOSS_PERCENTAGE of new connections black-holed; open connections are
 *   cut when the fault starts, so the ingress has to reconnect through the lossy hop;
 * - partition: every connection cut and every new one black-holed (the ingress side; a replica's
 *   own egress to the data tier is not cut on the local target).
 *
 * Proof of effect, measured on the path the ingress takes (the proxy) against the replica
 * directly: latency — the median probe through the proxy is slower by at least half the injected
 * latency; loss and partition — probes through the proxy go unanswered while the replica answers
 * directly, and the proxy counted black-holed connections.
 */
export async function runNetworkFault(spec: ResolvedExperiment & { experiment: NetworkExperiment }, target: NetworkControl, ctx: InjectorContext): Promise<ExperimentRecord> {
  const start = Date.now();
  // An aborted run must not inject a fault it would only revert at once.
  if (ctx.signal.aborted) return notStarted(spec.name, spec.experiment, 'the experiment was stopped before it injected anything');
  if (spec.experiment === 'pod-network-loss' && target.lossyHop) {
    const victims = pickVictims(target.pods(spec.selector).filter((pod) => pod.ready), spec.podsAffectedPerc, ctx.random);
    const hops = victims.map((victim) => target.lossyHop?.(victim.slot));
    if (victims.length > 0 && hops.every((hop) => hop !== undefined)) {
      // Real packet loss: iptables' statistic match inside each victim's namespace.
      const lossPercent = Number((spec.definition.env as Record<string, unknown>).NETWORK_PACKET_LOSS_PERCENTAGE);
      const parts = await Promise.all(hops.map((hop) => runNetnsPacketLoss({ name: spec.name, lossPercent, durationMs: spec.durationMs }, hop, ctx)));
      return { ...mergeRecords(spec.name, spec.experiment, parts, start), experiment: spec.experiment };
    }
  }
  const env = spec.definition.env as Record<string, string | number | boolean>;
  const fault = faultOf(spec.experiment, env);
  const candidates = target.pods(spec.selector).filter((pod) => pod.ready);
  const victims = pickVictims(candidates, spec.podsAffectedPerc, ctx.random);
  const actions: ChaosAction[] = [];
  if (victims.length === 0) {
    actions.push({ at: start, action: spec.experiment, target: formatLabelSelector(spec.selector), tookEffect: false, evidence: 'no ready pod matched the selector' });
  }
  const injected: { victim: Pod; proxy: FaultProxy; action: ChaosAction; ledgerId: string; before: number }[] = [];
  try {
    for (const victim of victims) {
      const action: ChaosAction = { at: Date.now(), action: `${spec.experiment} ${describeFault(fault)}`, target: `${victim.name} (slot ${victim.slot})`, tookEffect: false };
      actions.push(action);
      const proxy = target.faultProxy(victim.slot);
      if (!proxy) {
        action.evidence = 'the local target runs without fault proxies, so no network fault can be injected';
        continue;
      }
      // The proxy lives in the harness process: a SIGKILL takes the fault with it.
      const ledgerId = ctx.ledger.record({ runId: ctx.runId, kind: 'fault', description: `${spec.name}: ${describeFault(fault)} in front of ${victim.name}`, revert: { type: 'none' } });
      const before = proxy.stats().blackholed;
      proxy.setFault(fault);
      if (spec.experiment !== 'pod-network-latency') proxy.dropConnections();
      injected.push({ victim, proxy, action, ledgerId, before });
      ctx.log(`${spec.name}: ${describeFault(fault)} in front of ${victim.name}`);
    }
    // Measure once the fault is in place, early in the window, then hold it to the end.
    await Promise.all(injected.map(async (item) => prove(spec.experiment, fault, item, ctx.signal)));
    const end = start + spec.durationMs;
    if (end > Date.now()) await sleep(end - Date.now(), ctx.signal).catch(() => undefined);
  } finally {
    for (const { proxy, ledgerId, victim } of injected) {
      proxy.setFault(null);
      ctx.ledger.remove(ledgerId);
      ctx.log(`${spec.name}: fault removed in front of ${victim.name}`);
    }
  }
  const tookEffect = actions.length > 0 && actions.every((a) => a.tookEffect);
  const record: ExperimentRecord = { name: spec.name, experiment: spec.experiment, start, end: Date.now(), actions, tookEffect };
  if (!tookEffect) {
    record.reason = ctx.signal.aborted && injected.length === 0 ? 'the experiment was stopped before it injected anything' : actions.filter((a) => !a.tookEffect).map((a) => `${a.target}: ${a.evidence ?? 'not proven'}`).join('; ');
  }
  return record;
}

function faultOf(experiment: NetworkExperiment, env: Record<string, string | number | boolean>): FaultSpec {
  if (experiment === 'pod-network-latency') return { latencyMs: Number(env.NETWORK_LATENCY), jitterMs: Number(env.JITTER ?? 0) };
  if (experiment === 'pod-network-loss') return { lossPercent: Number(env.NETWORK_PACKET_LOSS_PERCENTAGE) };
  return { lossPercent: 100 };
}

function describeFault(fault: FaultSpec): string {
  if (fault.latencyMs !== undefined) return `latency ${fault.latencyMs} ms${fault.jitterMs ? ` ± ${fault.jitterMs} ms` : ''}`;
  return fault.lossPercent === 100 ? 'partition (every connection dropped)' : `loss ${fault.lossPercent ?? 0} % of connections`;
}

async function prove(
  experiment: NetworkExperiment,
  fault: FaultSpec,
  item: { victim: Pod; proxy: FaultProxy; action: ChaosAction; before: number },
  signal: AbortSignal,
): Promise<void> {
  const { victim, proxy, action } = item;
  if (experiment === 'pod-network-latency') {
    const latency = fault.latencyMs ?? 0;
    const timeoutMs = latency + (fault.jitterMs ?? 0) + 2_000;
    const through = await probeMedian(proxy.port, timeoutMs, signal);
    const direct = await probeMedian(victim.port, 2_000, signal);
    if (through === undefined || direct === undefined) {
      action.evidence = `probes failed (through the proxy: ${through === undefined ? 'no answer' : `${through.toFixed(0)} ms`}, direct: ${direct === undefined ? 'no answer' : `${direct.toFixed(0)} ms`})`;
      return;
    }
    const added = through - direct;
    action.tookEffect = added >= latency / 2;
    action.evidence = `${PROBE_PATH} through the ingress's path ${through.toFixed(0)} ms vs direct ${direct.toFixed(0)} ms: +${added.toFixed(0)} ms (injected ${latency} ms, proof needs +${(latency / 2).toFixed(0)} ms)`;
    return;
  }
  // Loss and partition: probes on fresh connections through the proxy, each with a short deadline.
  const loss = fault.lossPercent ?? 0;
  const probes = loss >= 100 ? PROBES : Math.min(60, Math.max(PROBES, Math.ceil(500 / Math.max(1, loss))));
  const results = await Promise.all(Array.from({ length: probes }, () => probeOnce(proxy.port, 750, signal)));
  const unanswered = results.filter((r) => r === undefined).length;
  const directOk = (await probeOnce(victim.port, 2_000, signal)) !== undefined;
  const blackholed = proxy.stats().blackholed - item.before;
  action.tookEffect = unanswered > 0 && blackholed > 0 && directOk && (loss < 100 || unanswered === probes);
  action.evidence = `${unanswered} of ${probes} probes through the ingress's path unanswered within 750 ms, ${blackholed} connections black-holed; the replica ${directOk ? 'answers' : 'does NOT answer'} directly`;
}

async function probeMedian(port: number, timeoutMs: number, signal: AbortSignal): Promise<number | undefined> {
  const times: number[] = [];
  for (let i = 0; i < PROBES && !signal.aborted; i++) {
    const ms = await probeOnce(port, timeoutMs, signal);
    if (ms !== undefined) times.push(ms);
  }
  if (times.length < Math.ceil(PROBES / 2)) return undefined;
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** One GET on a new connection; resolves with its duration in ms, or undefined without an answer in time. */
function probeOnce(port: number, timeoutMs: number, signal: AbortSignal): Promise<number | undefined> {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request({ host: '127.0.0.1', port, path: PROBE_PATH, agent: false, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode !== undefined && res.statusCode < 500 ? performance.now() - started : undefined));
    });
    req.once('error', () => resolve(undefined));
    req.end();
  });
}
