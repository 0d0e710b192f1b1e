import type { WaitCondition } from './apply-order.ts';

/**
 * Readiness judged from one observed object, as `kubectl rollout status` and `kubectl wait
 * --for=condition=Established` judge it. Pure: the watch loop feeds it every event it sees.
 *
 * `failed` is set when waiting longer cannot help (a CRD whose names conflict, a Deployment past
 * its progressDeadlineSeconds), so the run stops at once with the controller's own reason
 * instead of at the deadline.
 */
export interface ReadinessVerdict {
  ready: boolean;
  failed?: boolean;
  /** What was seen, for progress lines and timeout messages: "2/3 replicas available". */
  detail: string;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface Observed {
  kind?: string;
  metadata?: { generation?: number };
  spec?: { replicas?: number; updateStrategy?: { type?: string } };
  status?: Record<string, unknown> & { conditions?: Condition[]; observedGeneration?: number };
}

export function judgeReadiness(kind: string, condition: WaitCondition, object: unknown): ReadinessVerdict {
  const o = (object ?? {}) as Observed;
  if (condition === 'established') return judgeEstablished(o);
  switch (kind) {
    case 'Deployment':
      return judgeDeployment(o);
    case 'StatefulSet':
      return judgeStatefulSet(o);
    case 'DaemonSet':
      return judgeDaemonSet(o);
    default:
      return { ready: false, failed: true, detail: `the harness cannot judge readiness of a ${kind}` };
  }
}

function findCondition(o: Observed, type: string): Condition | undefined {
  return (o.status?.conditions ?? []).find((c) => c.type === type);
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** The controller has not looked at the latest spec yet: counts describe the previous one. */
function staleGeneration(o: Observed): boolean {
  // No observedGeneration at all: the controller has not reported on this object yet (a fresh
  // DaemonSet would otherwise look ready with 0 of 0 pods).
  if (o.status?.observedGeneration === undefined) return true;
  const generation = o.metadata?.generation;
  return generation !== undefined && num(o.status.observedGeneration) < generation;
}

function judgeEstablished(o: Observed): ReadinessVerdict {
  const names = findCondition(o, 'NamesAccepted');
  if (names?.status === 'False') return { ready: false, failed: true, detail: `names not accepted: ${names.message ?? names.reason ?? 'conflict'}` };
  const established = findCondition(o, 'Established');
  if (established?.status === 'True') return { ready: true, detail: 'Established' };
  return { ready: false, detail: established ? `Established=${established.status ?? '?'}${established.reason ? ` (${established.reason})` : ''}` : 'not yet Established' };
}

function judgeDeployment(o: Observed): ReadinessVerdict {
  const desired = o.spec?.replicas ?? 1;
  const s = o.status ?? {};
  const progressing = findCondition(o, 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') return { ready: false, failed: true, detail: `progress deadline exceeded: ${progressing.message ?? ''}`.trim() };
  if (staleGeneration(o)) return { ready: false, detail: 'waiting for the controller to observe the new spec' };
  const updated = num(s.updatedReplicas);
  const available = num(s.availableReplicas);
  const total = num(s.replicas);
  const detail = `${available}/${desired} replicas available, ${updated} updated`;
  // Old pods still running (total > updated) means the rollout is not finished.
  return { ready: updated >= desired && available >= desired && total <= updated, detail };
}

function judgeStatefulSet(o: Observed): ReadinessVerdict {
  const desired = o.spec?.replicas ?? 1;
  const s = o.status ?? {};
  if (staleGeneration(o)) return { ready: false, detail: 'waiting for the controller to observe the new spec' };
  const ready = num(s.readyReplicas);
  const onDelete = o.spec?.updateStrategy?.type === 'OnDelete';
  const rolledOut = onDelete || s.updateRevision === undefined || s.updateRevision === s.currentRevision;
  return { ready: ready >= desired && rolledOut, detail: `${ready}/${desired} replicas ready${rolledOut ? '' : ', update in progress'}` };
}

function judgeDaemonSet(o: Observed): ReadinessVerdict {
  const s = o.status ?? {};
  if (staleGeneration(o)) return { ready: false, detail: 'waiting for the controller to observe the new spec' };
  const desired = num(s.desiredNumberScheduled);
  const ready = num(s.numberReady);
  const updated = num(s.updatedNumberScheduled);
  return { ready: ready >= desired && updated >= desired, detail: `${ready}/${desired} pods ready, ${updated} updated` };
}
