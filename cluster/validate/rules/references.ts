import { arrayAt, findingAt, getAt, isObject, stringAt, stringMapAt } from '../field-path.ts';
import type { FieldPath, JsonObject, ManifestDocument, ManifestFinding, ManifestSet } from '../types.ts';
import { containersOf, describeSelector, mapSelector, selectorMatches, workloadsOf, type Workload } from '../workloads.ts';

/**
 * Rules `dangling-reference` (error) and `service-selects-nothing` (warning): references that
 * match nothing among the given manifests. A reference is only checked when the kind it points at
 * appears in the set: a folder of manifests need not contain everything the cluster runs.
 */
export function checkReferences(set: ManifestSet): ManifestFinding[] {
  const index = new ObjectIndex(set);
  const findings: ManifestFinding[] = [];
  for (const doc of set.documents) {
    const key = `${doc.group}/${doc.kind}`;
    if (key === '/Service') findings.push(...serviceSelector(doc, index));
    if (key === 'autoscaling/HorizontalPodAutoscaler') findings.push(...targetRef(doc, ['spec', 'scaleTargetRef'], index));
    if (key === 'autoscaling.k8s.io/VerticalPodAutoscaler') findings.push(...targetRef(doc, ['spec', 'targetRef'], index));
    if (key === 'flagger.app/Canary') {
      findings.push(...targetRef(doc, ['spec', 'targetRef'], index), ...targetRef(doc, ['spec', 'autoscalerRef'], index));
      findings.push(...gatewayRefs(doc, ['spec', 'service', 'gateways'], index));
    }
    if (key === 'argoproj.io/Rollout') findings.push(...rolloutRefs(doc, index));
    if (key === 'networking.k8s.io/Ingress') findings.push(...ingressBackends(doc, index));
    if (doc.group === 'networking.istio.io' && doc.kind === 'VirtualService') findings.push(...virtualServiceRefs(doc, index));
    if (doc.group === 'constraints.gatekeeper.sh') findings.push(...constraintTemplate(doc, index));
    if (key === 'litmuschaos.io/ChaosEngine') findings.push(...chaosTarget(doc, index));
  }
  return findings;
}

class ObjectIndex {
  readonly workloads: Workload[];
  constructor(readonly set: ManifestSet) {
    this.workloads = workloadsOf(set);
  }
  hasKind(kind: string, group?: string): boolean {
    return this.set.documents.some((d) => d.kind === kind && (group === undefined || d.group === group));
  }
  find(kind: string, namespace: string, name: string, group?: string): ManifestDocument | undefined {
    return this.set.documents.find((d) => d.kind === kind && d.name === name && d.namespace === namespace && (group === undefined || d.group === group));
  }
  hasNamespace(namespace: string): boolean {
    return this.set.documents.some((d) => d.namespace === namespace || (d.kind === 'Namespace' && d.name === namespace));
  }
}

function missing(doc: ManifestDocument, path: FieldPath, what: string, fix: string): ManifestFinding {
  return findingAt(doc, path, 'error', 'dangling-reference', `${what} is not among the given manifests: ${fix}`);
}

function serviceSelector(doc: ManifestDocument, index: ObjectIndex): ManifestFinding[] {
  const selector = stringMapAt(doc.object, ['spec', 'selector']);
  if (Object.keys(selector).length === 0) return []; // no selector: endpoints are managed by hand
  const nsWorkloads = index.workloads.filter((w) => w.doc.namespace === doc.namespace);
  if (nsWorkloads.length === 0) return [];
  const selected = nsWorkloads.filter((w) => selectorMatches(mapSelector(selector), w.podLabels));
  if (selected.length === 0) {
    return [findingAt(doc, ['spec', 'selector'], 'warning', 'service-selects-nothing', `selector ${describeSelector(mapSelector(selector))} matches the pods of no workload in namespace ${doc.namespace} among the given manifests: the Service has no endpoints; fix the labels`)];
  }
  const findings: ManifestFinding[] = [];
  arrayAt(doc.object, ['spec', 'ports']).forEach((port, i) => {
    const targetPort = getAt(port, ['targetPort']);
    if (typeof targetPort !== 'string') return;
    const serving = selected.filter((w) => containersOf(w, ['containers']).some(({ container }) => arrayAt(container, ['ports']).some((p) => stringAt(p, ['name']) === targetPort)));
    if (serving.length === 0) {
      findings.push(findingAt(doc, ['spec', 'ports', i, 'targetPort'], 'error', 'dangling-reference', `targetPort ${targetPort} names no container port of the selected pods (${selected.map((w) => `${w.doc.kind} ${w.doc.name}`).join(', ')}): the Service gets no endpoints for it; name the container's port ${targetPort} or use its number`));
    }
  });
  return findings;
}

function targetRef(doc: ManifestDocument, path: FieldPath, index: ObjectIndex): ManifestFinding[] {
  const ref = getAt(doc.object, path);
  const kind = stringAt(ref, ['kind']);
  const name = stringAt(ref, ['name']);
  if (!kind || !name || !index.hasKind(kind)) return [];
  if (index.find(kind, doc.namespace, name)) return [];
  return [missing(doc, [...path, 'name'], `${kind} ${doc.namespace}/${name}`, `correct the name, or add the ${kind}`)];
}

function rolloutRefs(doc: ManifestDocument, index: ObjectIndex): ManifestFinding[] {
  const findings: ManifestFinding[] = [];
  if (index.hasKind('Service', '')) {
    for (const strategy of ['blueGreen', 'canary']) {
      for (const field of ['activeService', 'previewService', 'canaryService', 'stableService']) {
        const name = stringAt(doc.object, ['spec', 'strategy', strategy, field]);
        if (name && !index.find('Service', doc.namespace, name, '')) findings.push(missing(doc, ['spec', 'strategy', strategy, field], `Service ${doc.namespace}/${name}`, 'add the Service (selecting the Rollout\'s pods) or correct the name; Argo Rollouts stops with an error without it'));
      }
    }
  }
  findings.push(...targetRef(doc, ['spec', 'workloadRef'], index));
  for (const { path, analysis } of analysisRefs(doc)) {
    const args = new Set(arrayAt(analysis, ['args']).map((a) => stringAt(a, ['name'])).filter((n): n is string => n !== undefined));
    arrayAt(analysis, ['templates']).forEach((template, i) => {
      const name = stringAt(template, ['templateName']);
      if (!name) return;
      const cluster = getAt(template, ['clusterScope']) === true;
      const kind = cluster ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate';
      if (!index.hasKind(kind, 'argoproj.io')) return;
      const found = cluster ? index.set.documents.find((d) => d.kind === kind && d.name === name) : index.find(kind, doc.namespace, name, 'argoproj.io');
      if (!found) {
        findings.push(missing(doc, [...path, 'templates', i, 'templateName'], `${kind} ${cluster ? '' : `${doc.namespace}/`}${name}`, `add the ${kind} or correct templateName; the analysis cannot start without it`));
        return;
      }
      for (const arg of arrayAt(found.object, ['spec', 'args'])) {
        const argName = stringAt(arg, ['name']);
        if (argName && getAt(arg, ['value']) === undefined && getAt(arg, ['valueFrom']) === undefined && !args.has(argName)) {
          findings.push(findingAt(doc, [...path, 'args'], 'error', 'dangling-reference', `${kind} ${name} requires the argument ${argName}, which this analysis does not pass: add {name: ${argName}, value: …} to args`));
        }
      }
    });
  }
  return findings;
}

/** Every analysis block of a Rollout that names templates. */
function analysisRefs(doc: ManifestDocument): { path: FieldPath; analysis: JsonObject }[] {
  const out: { path: FieldPath; analysis: JsonObject }[] = [];
  const push = (path: FieldPath): void => {
    const analysis = getAt(doc.object, path);
    if (isObject(analysis)) out.push({ path, analysis });
  };
  push(['spec', 'strategy', 'blueGreen', 'prePromotionAnalysis']);
  push(['spec', 'strategy', 'blueGreen', 'postPromotionAnalysis']);
  push(['spec', 'strategy', 'canary', 'analysis']);
  arrayAt(doc.object, ['spec', 'strategy', 'canary', 'steps']).forEach((_, i) => push(['spec', 'strategy', 'canary', 'steps', i, 'analysis']));
  return out;
}

function serviceBackend(doc: ManifestDocument, path: FieldPath, name: string, namespace: string, port: unknown, index: ObjectIndex): ManifestFinding[] {
  const service = index.find('Service', namespace, name, '');
  if (!service) return [missing(doc, path, `Service ${namespace}/${name}`, 'add the Service or correct the backend; requests to this route fail')];
  const ports = arrayAt(service.object, ['spec', 'ports']);
  const portNumber = typeof port === 'number' ? port : undefined;
  const portName = typeof port === 'string' ? port : undefined;
  if (portNumber !== undefined && !ports.some((p) => getAt(p, ['port']) === portNumber)) {
    return [findingAt(doc, path, 'error', 'dangling-reference', `Service ${namespace}/${name} has no port ${portNumber} (it has ${ports.map((p) => String(getAt(p, ['port']))).join(', ') || 'none'}): use one of its ports`)];
  }
  if (portName !== undefined && !ports.some((p) => getAt(p, ['name']) === portName)) {
    return [findingAt(doc, path, 'error', 'dangling-reference', `Service ${namespace}/${name} has no port named ${portName}: use one of its port names`)];
  }
  return [];
}

function ingressBackends(doc: ManifestDocument, index: ObjectIndex): ManifestFinding[] {
  if (!index.hasKind('Service', '')) return [];
  const findings: ManifestFinding[] = [];
  const check = (path: FieldPath): void => {
    const service = getAt(doc.object, [...path, 'service']);
    const name = stringAt(service, ['name']);
    if (!name) return;
    const port = getAt(service, ['port', 'number']) ?? getAt(service, ['port', 'name']);
    findings.push(...serviceBackend(doc, [...path, 'service', 'name'], name, doc.namespace, port, index));
  };
  if (isObject(getAt(doc.object, ['spec', 'defaultBackend']))) check(['spec', 'defaultBackend']);
  arrayAt(doc.object, ['spec', 'rules']).forEach((_, r) => {
    arrayAt(doc.object, ['spec', 'rules', r, 'http', 'paths']).forEach((__, p) => check(['spec', 'rules', r, 'http', 'paths', p, 'backend']));
  });
  return findings;
}

function virtualServiceRefs(doc: ManifestDocument, index: ObjectIndex): ManifestFinding[] {
  const findings: ManifestFinding[] = [...gatewayRefs(doc, ['spec', 'gateways'], index)];
  if (!index.hasKind('Service', '')) return findings;
  arrayAt(doc.object, ['spec', 'http']).forEach((_, h) => {
    arrayAt(doc.object, ['spec', 'http', h, 'route']).forEach((__, r) => {
      const path: FieldPath = ['spec', 'http', h, 'route', r, 'destination'];
      const host = stringAt(doc.object, [...path, 'host']);
      if (!host || host.includes('*')) return;
      const parts = host.replace(/\.svc\.cluster\.local$/, '').split('.');
      if (parts.length > 2) return; // an external host (ServiceEntry) or another cluster domain
      const [name = '', namespace = doc.namespace] = parts;
      if (!index.hasNamespace(namespace)) return;
      findings.push(...serviceBackend(doc, [...path, 'host'], name, namespace, getAt(doc.object, [...path, 'port', 'number']), index));
    });
  });
  return findings;
}

function gatewayRefs(doc: ManifestDocument, path: FieldPath, index: ObjectIndex): ManifestFinding[] {
  if (!index.hasKind('Gateway', 'networking.istio.io')) return [];
  const findings: ManifestFinding[] = [];
  arrayAt(doc.object, path).forEach((value, i) => {
    if (typeof value !== 'string' || value === 'mesh') return;
    const fqdn = /^([^.]+)\.([^.]+)\.svc\.cluster\.local$/.exec(value);
    const [namespace, name] = fqdn ? [fqdn[2] ?? '', fqdn[1] ?? ''] : value.includes('/') ? value.split('/', 2) as [string, string] : [doc.namespace, value];
    if (!index.hasNamespace(namespace)) return;
    if (!index.find('Gateway', namespace, name, 'networking.istio.io')) {
      findings.push(missing(doc, [...path, i], `Istio Gateway ${namespace}/${name}`, 'name a Gateway that exists (namespace/name), or add it; Istio routes nothing through a missing gateway'));
    }
  });
  return findings;
}

function constraintTemplate(doc: ManifestDocument, index: ObjectIndex): ManifestFinding[] {
  const templates = index.set.documents.filter((d) => d.kind === 'ConstraintTemplate' && d.group === 'templates.gatekeeper.sh');
  if (templates.length === 0) return [];
  if (templates.some((t) => stringAt(t.object, ['spec', 'crd', 'spec', 'names', 'kind']) === doc.kind)) return [];
  return [missing(doc, ['kind'], `a ConstraintTemplate defining kind ${doc.kind}`, 'add the ConstraintTemplate or correct the kind (Gatekeeper creates the constraint kind from the template)')];
}

const LITMUS_KINDS: Record<string, string> = { deployment: 'Deployment', statefulset: 'StatefulSet', daemonset: 'DaemonSet', rollout: 'Rollout' };

function chaosTarget(doc: ManifestDocument, index: ObjectIndex): ManifestFinding[] {
  const kind = LITMUS_KINDS[stringAt(doc.object, ['spec', 'appinfo', 'appkind']) ?? ''];
  const label = stringAt(doc.object, ['spec', 'appinfo', 'applabel']);
  const namespace = stringAt(doc.object, ['spec', 'appinfo', 'appns']) ?? doc.namespace;
  if (!kind || !label || !index.hasKind(kind)) return [];
  const [key = '', value] = label.split('=', 2);
  const matches = index.workloads.filter((w) => w.doc.kind === kind && w.doc.namespace === namespace && (value === undefined ? Object.hasOwn(w.podLabels, key) : w.podLabels[key] === value));
  if (matches.length > 0) return [];
  const other = index.workloads.filter((w) => w.doc.namespace === namespace && (value === undefined ? Object.hasOwn(w.podLabels, key) : w.podLabels[key] === value));
  return [missing(doc, ['spec', 'appinfo'], `a ${kind} in ${namespace} with pods labelled ${label}`, other.length > 0 ? `the label matches ${other.map((w) => `${w.doc.kind} ${w.doc.name}`).join(', ')}: set appkind to ${other[0]?.doc.kind.toLowerCase() ?? ''}` : 'correct applabel, appkind or appns; the experiment finds no target and fails')];
}
