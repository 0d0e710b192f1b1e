import { arrayAt, getAt, isObject, objectAt, stringAt, stringMapAt } from './field-path.ts';
import type { FieldPath, JsonObject, ManifestDocument, ManifestSet } from './types.ts';

/** What a pod-creating object will run: its pod spec, where it is, and how many pods. */
export interface Workload {
  doc: ManifestDocument;
  /** Path of the pod spec inside the document (`spec.template.spec` for a Deployment). */
  podSpecPath: FieldPath;
  podSpec: JsonObject;
  /** Labels the pods get (the template's labels). */
  podLabels: Record<string, string>;
  /** Pods it runs in steady state (spec.replicas, default 1; a DaemonSet's pods are counted once). */
  replicas: number;
  /** Whether the controller restarts pods forever (Deployment…) or runs them to completion (Job). */
  controller: 'service' | 'batch' | 'pod';
}

interface TemplateShape {
  templatePath: FieldPath;
  controller: Workload['controller'];
  replicasPath?: FieldPath;
}

/** Built-in and CRD workloads by `group/kind` (group '' is the core group). */
const SHAPES: Record<string, TemplateShape> = {
  'apps/Deployment': { templatePath: ['spec', 'template'], controller: 'service', replicasPath: ['spec', 'replicas'] },
  'apps/StatefulSet': { templatePath: ['spec', 'template'], controller: 'service', replicasPath: ['spec', 'replicas'] },
  'apps/ReplicaSet': { templatePath: ['spec', 'template'], controller: 'service', replicasPath: ['spec', 'replicas'] },
  'apps/DaemonSet': { templatePath: ['spec', 'template'], controller: 'service' },
  '/ReplicationController': { templatePath: ['spec', 'template'], controller: 'service', replicasPath: ['spec', 'replicas'] },
  'argoproj.io/Rollout': { templatePath: ['spec', 'template'], controller: 'service', replicasPath: ['spec', 'replicas'] },
  'batch/Job': { templatePath: ['spec', 'template'], controller: 'batch', replicasPath: ['spec', 'parallelism'] },
  'batch/CronJob': { templatePath: ['spec', 'jobTemplate', 'spec', 'template'], controller: 'batch', replicasPath: ['spec', 'jobTemplate', 'spec', 'parallelism'] },
};

/** Controllers whose spec.selector must match their template's labels. */
export const SELECTOR_CONTROLLERS = new Set(['apps/Deployment', 'apps/StatefulSet', 'apps/ReplicaSet', 'apps/DaemonSet', 'argoproj.io/Rollout']);

export function shapeKey(doc: ManifestDocument): string {
  return `${doc.group}/${doc.kind}`;
}

/** Every workload of the set with a pod spec (objects whose template is missing are skipped). */
export function workloadsOf(set: ManifestSet): Workload[] {
  const out: Workload[] = [];
  for (const doc of set.documents) {
    const workload = workloadOf(doc);
    if (workload) out.push(workload);
  }
  return out;
}

export function workloadOf(doc: ManifestDocument): Workload | undefined {
  if (doc.group === '' && doc.kind === 'Pod') {
    const podSpec = objectAt(doc.object, ['spec']);
    if (!podSpec) return undefined;
    return { doc, podSpecPath: ['spec'], podSpec, podLabels: stringMapAt(doc.object, ['metadata', 'labels']), replicas: 1, controller: 'pod' };
  }
  const shape = SHAPES[shapeKey(doc)];
  if (!shape) return undefined;
  const podSpecPath = [...shape.templatePath, 'spec'];
  const podSpec = objectAt(doc.object, podSpecPath);
  if (!podSpec) return undefined;
  const replicasValue = shape.replicasPath ? getAt(doc.object, shape.replicasPath) : undefined;
  const replicas = typeof replicasValue === 'number' ? replicasValue : 1;
  return { doc, podSpecPath, podSpec, podLabels: stringMapAt(doc.object, [...shape.templatePath, 'metadata', 'labels']), replicas, controller: shape.controller };
}

/** A container of a pod spec with its path and list name. */
export interface ContainerRef {
  container: JsonObject;
  path: FieldPath;
  list: 'containers' | 'initContainers' | 'ephemeralContainers';
}

export function containersOf(workload: Workload, lists: readonly ContainerRef['list'][] = ['containers', 'initContainers', 'ephemeralContainers']): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const list of lists) {
    arrayAt(workload.podSpec, [list]).forEach((container, i) => {
      if (isObject(container)) out.push({ container, path: [...workload.podSpecPath, list, i], list });
    });
  }
  return out;
}

/** A label selector: matchLabels and matchExpressions, as the API defines them. */
export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: { key: string; operator: string; values: string[] }[];
}

/** Reads a LabelSelector at `path`; undefined when absent (null selectors select nothing). */
export function labelSelectorAt(root: unknown, path: FieldPath): LabelSelector | undefined {
  const selector = objectAt(root, path);
  if (!selector) return undefined;
  return {
    matchLabels: stringMapAt(selector, ['matchLabels']),
    matchExpressions: arrayAt(selector, ['matchExpressions']).filter(isObject).map((e) => ({
      key: stringAt(e, ['key']) ?? '',
      operator: stringAt(e, ['operator']) ?? '',
      values: arrayAt(e, ['values']).map(String),
    })),
  };
}

/** Whether `labels` satisfy the selector (an empty selector matches everything). */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) if (labels[key] !== value) return false;
  for (const e of selector.matchExpressions) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    if (e.operator === 'In' && !(has && e.values.includes(value ?? ''))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(value ?? '')) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** A plain `key: value` selector (Service.spec.selector) as a LabelSelector. */
export function mapSelector(labels: Record<string, string>): LabelSelector {
  return { matchLabels: labels, matchExpressions: [] };
}

export function describeSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const e of selector.matchExpressions) parts.push(`${e.key} ${e.operator}${e.values.length > 0 ? ` (${e.values.join(',')})` : ''}`);
  return parts.length > 0 ? parts.join(',') : '(everything)';
}
