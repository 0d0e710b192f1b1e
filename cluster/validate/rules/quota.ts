import { arrayAt, findingAt, getAt, isObject, objectAt, stringAt } from '../field-path.ts';
import { formatQuantity, parseQuantity } from '../quantity.ts';
import type { FieldPath, ManifestFinding, ManifestSet } from '../types.ts';
import { containersOf, workloadsOf, type Workload } from '../workloads.ts';

/** Container resource defaults of a namespace's LimitRanges (type Container). */
interface ContainerDefaults {
  limits: Record<string, number>;
  requests: Record<string, number>;
}

/** What one workload adds to a namespace's usage, for the message. */
interface Contribution {
  what: string;
  amount: number;
}

const COMPUTE = ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'] as const;

/**
 * Rules `quota-exceeded` and `quota-missing-resource`: per namespace, what the given workloads
 * need in steady state (each pod's requests and limits, LimitRange defaults filling what a
 * container leaves out, × replicas) against every ResourceQuota's `hard` (requests.cpu/memory,
 * limits.cpu/memory, their aliases cpu/memory, pods, persistentvolumeclaims, requests.storage,
 * services, services.loadbalancers, configmaps, secrets). Quotas with scopes or scopeSelector are
 * not checked (which pods they count depends on runtime state).
 */
export function checkQuotas(set: ManifestSet): ManifestFinding[] {
  const findings: ManifestFinding[] = [];
  const workloads = workloadsOf(set);
  for (const quota of set.documents.filter((d) => d.group === '' && d.kind === 'ResourceQuota')) {
    if (getAt(quota.object, ['spec', 'scopes']) !== undefined || getAt(quota.object, ['spec', 'scopeSelector']) !== undefined) continue;
    const hard = objectAt(quota.object, ['spec', 'hard']) ?? {};
    const ns = quota.namespace;
    const defaults = containerDefaults(set, ns);
    const nsWorkloads = workloads.filter((w) => w.doc.namespace === ns);
    const usage = new Map<string, Contribution[]>();
    const add = (resource: string, what: string, amount: number): void => {
      if (amount <= 0) return;
      usage.set(resource, [...(usage.get(resource) ?? []), { what, amount }]);
    };
    for (const workload of nsWorkloads) {
      const label = `${workload.doc.kind} ${workload.doc.name}`;
      const pod = podResources(workload, defaults);
      for (const resource of COMPUTE) {
        if (pod[resource] !== undefined) add(resource, `${label} ${formatQuantity(resource, pod[resource] ?? 0)}×${workload.replicas}`, (pod[resource] ?? 0) * workload.replicas);
      }
      add('pods', `${label} ×${workload.replicas}${workload.doc.kind === 'DaemonSet' ? ' (one per node, counted once)' : ''}`, workload.replicas);
      for (const resource of COMPUTE) {
        if (hard[resource] === undefined && hard[resource.replace('requests.', '')] === undefined) continue;
        for (const missing of pod.missing[resource] ?? []) {
          findings.push(findingAt(workload.doc, [...missing, 'resources', resource.split('.')[0] ?? '', resource.split('.')[1] ?? ''], 'error', 'quota-missing-resource',
            `ResourceQuota ${quota.name} limits ${resource} in namespace ${ns}, so every container must set it, and no LimitRange of the namespace gives a default: the API server refuses the pods ("must specify ${resource}"); set it or add a LimitRange default`));
        }
      }
      for (const claimTemplate of arrayAt(workload.doc.object, ['spec', 'volumeClaimTemplates'])) {
        add('persistentvolumeclaims', `${label} volumeClaimTemplate ×${workload.replicas}`, workload.replicas);
        add('requests.storage', `${label} volumeClaimTemplate ×${workload.replicas}`, (parseQuantity(getAt(claimTemplate, ['spec', 'resources', 'requests', 'storage'])) ?? 0) * workload.replicas);
      }
    }
    for (const doc of set.documents.filter((d) => d.namespace === ns && d.group === '')) {
      if (doc.kind === 'PersistentVolumeClaim') {
        add('persistentvolumeclaims', `PersistentVolumeClaim ${doc.name}`, 1);
        add('requests.storage', `PersistentVolumeClaim ${doc.name}`, parseQuantity(getAt(doc.object, ['spec', 'resources', 'requests', 'storage'])) ?? 0);
      }
      if (doc.kind === 'Service') {
        add('services', `Service ${doc.name}`, 1);
        if (stringAt(doc.object, ['spec', 'type']) === 'LoadBalancer') add('services.loadbalancers', `Service ${doc.name}`, 1);
      }
      if (doc.kind === 'ConfigMap') add('configmaps', `ConfigMap ${doc.name}`, 1);
      if (doc.kind === 'Secret') add('secrets', `Secret ${doc.name}`, 1);
    }
    for (const [key, limitValue] of Object.entries(hard)) {
      const resource = key === 'cpu' || key === 'memory' ? `requests.${key}` : key;
      const limit = parseQuantity(limitValue);
      const contributions = usage.get(resource) ?? [];
      const total = contributions.reduce((sum, c) => sum + c.amount, 0);
      if (limit === undefined || total <= limit + 1e-9) continue;
      const top = [...contributions].sort((a, b) => b.amount - a.amount);
      const listed = top.slice(0, 5).map((c) => c.what).join(', ') + (top.length > 5 ? `, and ${top.length - 5} more` : '');
      findings.push(findingAt(quota, ['spec', 'hard', key], 'error', 'quota-exceeded',
        `namespace ${ns} needs ${formatQuantity(resource, total)} of ${key} but the quota allows ${formatQuantity(resource, limit)} (${listed}): the pods beyond the quota are refused; raise spec.hard.${key} or lower replicas or resources`));
    }
  }
  return findings;
}

function containerDefaults(set: ManifestSet, namespace: string): ContainerDefaults {
  const out: ContainerDefaults = { limits: {}, requests: {} };
  for (const doc of set.documents) {
    if (doc.group !== '' || doc.kind !== 'LimitRange' || doc.namespace !== namespace) continue;
    for (const item of arrayAt(doc.object, ['spec', 'limits'])) {
      if (!isObject(item) || stringAt(item, ['type']) !== 'Container') continue;
      for (const resource of ['cpu', 'memory']) {
        // The API server's defaulting of a LimitRange: default ← max; defaultRequest ← default ← min.
        const limit = parseQuantity(getAt(item, ['default', resource])) ?? parseQuantity(getAt(item, ['max', resource]));
        const request = parseQuantity(getAt(item, ['defaultRequest', resource])) ?? limit ?? parseQuantity(getAt(item, ['min', resource]));
        if (limit !== undefined) out.limits[resource] ??= limit;
        if (request !== undefined) out.requests[resource] ??= request;
      }
    }
  }
  return out;
}

type PodResources = Partial<Record<(typeof COMPUTE)[number], number>> & {
  /** Containers (by path) that have neither the resource nor a default for it. */
  missing: Partial<Record<(typeof COMPUTE)[number], FieldPath[]>>;
};

/**
 * One pod's effective requests and limits: a container without a request gets its limit (API
 * defaulting), then the LimitRange's defaultRequest; without a limit, the LimitRange's default. The
 * pod needs max(sum of containers, largest init container), as the scheduler and quota count it.
 */
function podResources(workload: Workload, defaults: ContainerDefaults): PodResources {
  const result: PodResources = { missing: {} };
  for (const resource of COMPUTE) {
    const [kind, name] = resource.split('.') as ['requests' | 'limits', string];
    let sum = 0;
    let maxInit = 0;
    let known = false;
    for (const { container, path, list } of containersOf(workload, ['containers', 'initContainers'])) {
      const own = parseQuantity(getAt(container, ['resources', kind, name]));
      const value = own
        ?? (kind === 'requests' ? parseQuantity(getAt(container, ['resources', 'limits', name])) ?? defaults.requests[name] : defaults.limits[name]);
      if (value === undefined) {
        (result.missing[resource] ??= []).push(path);
        continue;
      }
      known = true;
      if (list === 'initContainers') maxInit = Math.max(maxInit, value);
      else sum += value;
    }
    if (known) result[resource] = Math.max(sum, maxInit);
  }
  return result;
}
