import type { KubeConfig } from '@kubernetes/client-node';
import { describeError } from './describe-error.ts';
import type { ChaosEngine } from './chaos-engine.ts';
import { LitmusClient } from './litmus-client.ts';
import { affectedPodCount } from './experiments.ts';

/**
 * What each experiment of an engine would hit, computed before anything starts, the way
 * litmus-go selects targets (pkg/utils/common/pods.go, filterPodsByPercentage): the pods in
 * `appns` matching `applabel`, and of those max(1, ⌊min(PODS_AFFECTED_PERC, 100) × n / 100⌋),
 * picked by Litmus at random. When that count is every candidate, the list is exact.
 * Only reads (a pod list per experiment): safe on any context.
 */

export interface PlannedTargets {
  experiment: string;
  appns: string;
  applabel: string;
  /** The pods that match, by name, sorted. */
  candidates: string[];
  /** How many of them the experiment hits. */
  count: number;
  podsAffectedPerc: number;
  /** Every candidate is hit, so `candidates` is exactly the list. */
  exact: boolean;
  /** One line for `resilience plan`. */
  summary: string;
}

export { affectedPodCount };

/** Lists the targets of every experiment of `engine`. Throws naming the namespace and selector when the list fails or matches nothing. */
export async function plannedTargets(options: { kubeConfig: KubeConfig; engine: ChaosEngine }): Promise<PlannedTargets[]> {
  const { appns, applabel } = options.engine.spec.appinfo;
  const client = LitmusClient.fromKubeConfig(options.kubeConfig);
  let pods;
  try {
    pods = await client.listPods(appns, applabel);
  } catch (error) {
    throw new Error(`listing the pods of ${appns} with ${applabel} failed: ${describeError(error)}`, { cause: error });
  }
  // Pods being deleted are not candidates any more; Litmus's own chaos pods carry chaosUID.
  const candidates = pods
    .filter((p) => p.metadata.deletionTimestamp === undefined && p.metadata.labels?.chaosUID === undefined)
    .map((p) => p.metadata.name)
    .sort();
  if (candidates.length === 0) throw new Error(`no pods in namespace ${appns} match ${applabel}: the experiments of ChaosEngine ${options.engine.metadata.name} would fail target selection; check spec.appinfo.appns and applabel`);
  return options.engine.spec.experiments.map((e) => {
    const raw = e.spec.components.env.find((v) => v.name === 'PODS_AFFECTED_PERC')?.value ?? '';
    // Litmus reads an empty or absent value as 0, which still hits one pod.
    const podsAffectedPerc = raw === '' ? 0 : Number(raw);
    if (!Number.isInteger(podsAffectedPerc) || podsAffectedPerc < 0) throw new Error(`ChaosEngine ${options.engine.metadata.name}: ${e.name} PODS_AFFECTED_PERC: got "${raw}"; expected a percentage 0–100`);
    const count = affectedPodCount(podsAffectedPerc, candidates.length);
    const exact = count === candidates.length;
    const summary = exact
      ? `${e.name}: ${count === 1 ? 'pod' : `all ${count} pods`} ${candidates.join(', ')} (${appns}, ${applabel})`
      : `${e.name}: ${count} of ${candidates.length} pods, picked at random by Litmus from ${candidates.join(', ')} (${appns}, ${applabel}, PODS_AFFECTED_PERC ${podsAffectedPerc})`;
    return { experiment: e.name, appns, applabel, candidates, count, podsAffectedPerc, exact, summary };
  });
}
