import { affectedPodCount, formatLabelSelector, matchesLabelSelector } from '../litmus/experiments.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import { LOCAL_SUPPORT } from './run-local.ts';

/** The local target's pods by label set, before anything starts (names are only known once running). */
export interface LocalPodGroups {
  replicas: { labels: Record<string, string>; count: number };
  /** `container`: the service is configured to run in a container (runtime 'container'). */
  dataTier: { name: string; labels: Record<string, string>; container?: boolean }[];
}

export type PlannedTargets = { ok: true; text: string } | { ok: false; problem: string };

/**
 * What an experiment will hit on the local target, in words for `resilience plan`, or why it
 * cannot run there (a selector matching nothing, a destructive experiment on the data tier, a
 * Kubernetes-only experiment).
 */
export function planLocalTargets(experiment: ResolvedExperiment, groups: LocalPodGroups): PlannedTargets {
  const support = LOCAL_SUPPORT[experiment.experiment];
  const selector = experiment.selector;
  const matchesReplicas = matchesLabelSelector(groups.replicas.labels, selector);
  const data = groups.dataTier.filter((pod) => matchesLabelSelector(pod.labels, selector));
  const known = [formatLabelSelector(groups.replicas.labels), ...groups.dataTier.map((p) => formatLabelSelector(p.labels))].join('; ');
  if (!support.replicas && !support.dataTier) return { ok: false, problem: support.how };
  if (!matchesReplicas && data.length === 0) return { ok: false, problem: `${formatLabelSelector(selector)} matches nothing on the local target; its pods are labelled: ${known}` };
  if (!matchesReplicas && experiment.experiment === 'container-kill' && data.every((d) => d.container === true)) {
    const hit = affectedPodCount(experiment.podsAffectedPerc, data.length);
    return { ok: true, text: `${hit} of ${data.length} (${data.map((d) => d.name).join(' + ')}), picked at random; docker kill, then the container is started again` };
  }
  if (!matchesReplicas && experiment.experiment === 'container-kill')
    return { ok: false, problem: `container-kill on the data tier needs it in containers (target.runtime.postgres / .redis = 'container'): a killed process is not restarted by anyone; or target ${formatLabelSelector(groups.replicas.labels)}` };
  if (!matchesReplicas && !support.dataTier) return { ok: false, problem: `${experiment.experiment} cannot target the data tier on the local target (${data.map((d) => d.name).join(', ')} are not replaced when they die); target ${formatLabelSelector(groups.replicas.labels)}` };
  const total = (matchesReplicas ? groups.replicas.count : 0) + (support.dataTier ? data.length : 0);
  const hit = affectedPodCount(experiment.podsAffectedPerc, total);
  const what = [matchesReplicas ? `${groups.replicas.count} × ${formatLabelSelector(groups.replicas.labels)} replica(s)` : '', ...(support.dataTier ? data.map((d) => d.name) : [])].filter(Boolean).join(' + ');
  const repeat = experiment.intervalMs < experiment.durationMs ? `, again every ${experiment.intervalMs / 1000}s` : '';
  return { ok: true, text: `${hit} of ${total} (${what}), picked at random${repeat}; ${support.how}` };
}

