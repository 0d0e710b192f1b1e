import { findingAt, getAt, stringAt } from '../field-path.ts';
import type { ManifestFinding, ManifestSet } from '../types.ts';
import { describeSelector, labelSelectorAt, selectorMatches, workloadsOf, type Workload } from '../workloads.ts';

/**
 * Rules `pdb-blocks-eviction` and `pdb-selects-nothing`. A budget that allows no eviction when its
 * pods run at their lowest replica count (spec.replicas, or the minReplicas of an HPA scaling
 * them) makes every `kubectl drain`, node upgrade and node-drain experiment hang. Only checked in
 * namespaces where the given manifests have workloads (the pods may come from elsewhere otherwise).
 */
export function checkDisruptionBudgets(set: ManifestSet): ManifestFinding[] {
  const findings: ManifestFinding[] = [];
  const workloads = workloadsOf(set).filter((w) => w.controller === 'service');
  for (const pdb of set.documents.filter((d) => d.group === 'policy' && d.kind === 'PodDisruptionBudget')) {
    const nsWorkloads = workloads.filter((w) => w.doc.namespace === pdb.namespace);
    if (nsWorkloads.length === 0) continue;
    const selector = labelSelectorAt(pdb.object, ['spec', 'selector']);
    const selected = selector ? nsWorkloads.filter((w) => selectorMatches(selector, w.podLabels)) : [];
    if (selected.length === 0) {
      findings.push(findingAt(pdb, ['spec', 'selector'], 'warning', 'pdb-selects-nothing', `selector ${selector ? describeSelector(selector) : '(none)'} matches the pods of no workload in namespace ${pdb.namespace} among the given manifests: the budget protects nothing; fix the labels`));
      continue;
    }
    const replicas = selected.reduce((sum, w) => sum + lowestReplicas(w, set), 0);
    const scaledDown = selected.some((w) => lowestReplicas(w, set) < w.replicas) ? ' when scaled down to the HPA\'s minReplicas' : '';
    const names = selected.map((w) => `${w.doc.kind} ${w.doc.name}`).join(', ') + scaledDown;
    const minAvailable = getAt(pdb.object, ['spec', 'minAvailable']);
    const maxUnavailable = getAt(pdb.object, ['spec', 'maxUnavailable']);
    if (minAvailable !== undefined) {
      const required = scaled(minAvailable, replicas);
      if (required !== undefined && required >= replicas && replicas > 0) {
        findings.push(findingAt(pdb, ['spec', 'minAvailable'], 'error', 'pdb-blocks-eviction', `minAvailable ${JSON.stringify(minAvailable)} keeps all ${replicas} pod(s) of ${names} (${required} required): no pod can ever be evicted, so drains and node upgrades hang; use a lower minAvailable or maxUnavailable: 1`));
      }
    } else if (maxUnavailable !== undefined) {
      const allowed = scaled(maxUnavailable, replicas);
      if (allowed === 0) {
        findings.push(findingAt(pdb, ['spec', 'maxUnavailable'], 'error', 'pdb-blocks-eviction', `maxUnavailable ${JSON.stringify(maxUnavailable)} allows no eviction of ${names}: drains and node upgrades hang; use maxUnavailable: 1 or more`));
      }
    }
  }
  return findings;
}

/** An int or a percentage of `total`, rounded up as the disruption controller does. */
function scaled(value: unknown, total: number): number | undefined {
  if (typeof value === 'number') return value;
  const percent = typeof value === 'string' ? /^(\d+)%$/.exec(value) : null;
  if (percent?.[1]) return Math.ceil((Number(percent[1]) / 100) * total);
  return undefined;
}

/** The fewest pods a workload runs: an HPA's minReplicas when one scales it, else its replicas. */
export function lowestReplicas(workload: Workload, set: ManifestSet): number {
  for (const doc of set.documents) {
    if (doc.group !== 'autoscaling' || doc.kind !== 'HorizontalPodAutoscaler' || doc.namespace !== workload.doc.namespace) continue;
    if (stringAt(doc.object, ['spec', 'scaleTargetRef', 'kind']) !== workload.doc.kind || stringAt(doc.object, ['spec', 'scaleTargetRef', 'name']) !== workload.doc.name) continue;
    const min = getAt(doc.object, ['spec', 'minReplicas']);
    return typeof min === 'number' ? min : 1;
  }
  return workload.replicas;
}
