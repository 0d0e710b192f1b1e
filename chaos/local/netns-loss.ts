/**
 * pod-network-loss with real packet loss: an iptables `statistic` rule drops NETWORK_PACKET_LOSS_PERCENTAGE
 * of the packets entering a lossy hop's namespace (netns.ts). Unlike the fault proxy's loss
 * (black-holed connections), TCP sees real drops and retransmits, so the client sees latency and
 * timeouts as it would under netem.
 *
 * Proof of effect, measured from the rule counters: the loss rule dropped packets, and the share it
 * dropped of all packets entering the namespace is near the requested percent.
 */
import type { ChaosAction, ExperimentRecord } from '../types.ts';
import type { InjectorContext } from './pod-delete.ts';
import { HOP_COUNT_COMMENT, NS_LINK, deleteNetnsIptablesRule, nsIptables, type LossyHop } from './netns.ts';
import { sleep } from '../../scripts/util/wait.ts';

export interface NetnsLossSpec {
  name: string;
  /** NETWORK_PACKET_LOSS_PERCENTAGE, (0, 100]. */
  lossPercent: number;
  /** TOTAL_CHAOS_DURATION, ms. */
  durationMs: number;
}

/** Fewer packets than this in the window cannot show the ratio: the experiment is inconclusive. */
export const MIN_PACKETS_FOR_PROOF = 20;
/** The measured share may differ from the requested one by this much, or 4 binomial σ if larger. */
export const RATIO_TOLERANCE = 0.05;

/** Checks the spec; errors name the field, the value and the allowed range. */
export function validateNetnsLossSpec(spec: NetnsLossSpec): void {
  if (typeof spec.name !== 'string' || spec.name.trim() === '') throw new Error(`name must be a non-empty string, got ${JSON.stringify(spec.name)}`);
  if (!Number.isFinite(spec.lossPercent) || spec.lossPercent <= 0 || spec.lossPercent > 100) {
    throw new Error(`${spec.name}: lossPercent (NETWORK_PACKET_LOSS_PERCENTAGE) must be a number above 0 and at most 100, got ${spec.lossPercent}`);
  }
  if (!Number.isFinite(spec.durationMs) || spec.durationMs <= 0) throw new Error(`${spec.name}: durationMs (TOTAL_CHAOS_DURATION) must be a positive number of ms, got ${spec.durationMs}`);
}

/** The loss rule's arguments after the chain, as given to `iptables -I INPUT 1` and `-D INPUT`. */
export function lossRule(spec: NetnsLossSpec): string[] {
  const comment = `rsl-loss:${spec.name.replace(/[^\w.-]/g, '_')}`.slice(0, 200);
  return ['-i', NS_LINK, '-m', 'statistic', '--mode', 'random', '--probability', (spec.lossPercent / 100).toFixed(4), '-m', 'comment', '--comment', comment, '-j', 'DROP'];
}

/** Packet counters of the namespace's INPUT chain: dropped by the rule with `comment`, and passed by the hop's count rule. */
export async function readCounters(netns: string, comment: string): Promise<{ dropped: number | undefined; passed: number }> {
  const out = await nsIptables(netns, ['-t', 'filter', '-L', 'INPUT', '-v', '-x', '-n']);
  let dropped: number | undefined;
  let passed: number | undefined;
  for (const line of out.split('\n')) {
    const packets = Number(line.trim().split(/\s+/)[0]);
    if (!Number.isFinite(packets)) continue;
    if (line.includes(`/* ${comment} */`)) dropped = packets;
    if (line.includes(`/* ${HOP_COUNT_COMMENT} */`)) passed = packets;
  }
  if (passed === undefined) throw new Error(`namespace ${netns} has no ${HOP_COUNT_COMMENT} rule in INPUT: it is not a lossy hop created by netns.ts`);
  return { dropped, passed };
}

/**
 * Drops `lossPercent` % of the packets entering the hop for `durationMs` (or until `ctx.signal`
 * aborts), then removes the rule. The rule is in the ledger before it exists.
 */
export async function runNetnsPacketLoss(spec: NetnsLossSpec, hop: LossyHop, ctx: InjectorContext): Promise<ExperimentRecord> {
  validateNetnsLossSpec(spec);
  const start = Date.now();
  const rule = lossRule(spec);
  const comment = rule[rule.indexOf('--comment') + 1] ?? '';
  const action: ChaosAction = { at: start, action: `pod-network-loss ${spec.lossPercent} % (iptables statistic in ${hop.netns})`, target: `127.0.0.1:${hop.targetPort} via hop 127.0.0.1:${hop.port}`, tookEffect: false };
  let ledgerId: string | undefined;
  try {
    ledgerId = ctx.ledger.record({
      runId: ctx.runId,
      kind: 'fault',
      description: `${spec.name}: drop ${spec.lossPercent} % of packets entering ${hop.netns}`,
      revert: { type: 'iptables-delete', netns: hop.netns, chain: 'INPUT', rule },
    });
    await nsIptables(hop.netns, ['-I', 'INPUT', '1', ...rule]);
    // Counted from the moment the rule exists, so packets before it do not dilute the share.
    const before = await readCounters(hop.netns, comment);
    ctx.log(`${spec.name}: dropping ${spec.lossPercent} % of packets entering ${hop.netns} for ${spec.durationMs} ms`);
    await sleep(spec.durationMs, ctx.signal).catch(() => undefined);
    const after = await readCounters(hop.netns, comment);
    const dropped = (after.dropped ?? 0) - (before.dropped ?? 0);
    const total = dropped + (after.passed - before.passed);
    const requested = spec.lossPercent / 100;
    const measured = total === 0 ? 0 : dropped / total;
    const tolerance = Math.max(RATIO_TOLERANCE, total === 0 ? 1 : 4 * Math.sqrt((requested * (1 - requested)) / total));
    const near = Math.abs(measured - requested) <= tolerance;
    action.evidence =
      `${dropped} of ${total} packets entering ${hop.netns} dropped (${(measured * 100).toFixed(1)} %, requested ${spec.lossPercent} % ± ${(tolerance * 100).toFixed(1)})` +
      (total < MIN_PACKETS_FOR_PROOF ? `; fewer than ${MIN_PACKETS_FOR_PROOF} packets: no traffic to measure` : '');
    action.tookEffect = dropped > 0 && total >= MIN_PACKETS_FOR_PROOF && near;
  } catch (error) {
    action.evidence = `failed: ${(error as Error).message}`;
    action.tookEffect = false;
  } finally {
    try {
      await deleteNetnsIptablesRule(hop.netns, 'INPUT', rule);
      if (ledgerId !== undefined) ctx.ledger.remove(ledgerId);
    } catch (error) {
      // The entry stays in the ledger: cleanup will retry.
      action.tookEffect = false;
      action.evidence = `${action.evidence ?? ''}; revert failed: ${(error as Error).message}`;
    }
  }
  const record: ExperimentRecord = { name: spec.name, experiment: 'pod-network-loss', start, end: Date.now(), actions: [action], tookEffect: action.tookEffect };
  if (!action.tookEffect) record.reason = `${action.target}: ${action.evidence ?? 'not measured'}`;
  return record;
}
