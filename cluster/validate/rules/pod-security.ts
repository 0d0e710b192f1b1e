import { arrayAt, findingAt, getAt, isObject, stringAt, stringMapAt } from '../field-path.ts';
import type { FieldPath, ManifestFinding, ManifestSet, Severity } from '../types.ts';
import { containersOf, workloadsOf, type Workload } from '../workloads.ts';

type Level = 'privileged' | 'baseline' | 'restricted';
const LEVEL_ORDER: Record<Level, number> = { privileged: 0, baseline: 1, restricted: 2 };

/** Capabilities the baseline level allows to add (Pod Security Standards, Kubernetes 1.32). */
const BASELINE_CAPABILITIES = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']);
/** Volume types the restricted level allows. */
const RESTRICTED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

interface Violation {
  level: 'baseline' | 'restricted';
  path: FieldPath;
  message: string;
}

/**
 * Rule `pod-security`: workloads in a namespace labelled `pod-security.kubernetes.io/enforce`
 * (among the given manifests) that its level refuses (errors: the pods are never created), and,
 * as warnings, what a stricter `warn` or `audit` level would report. When a namespace is defined
 * more than once, the strictest level of its definitions is used (duplicate-object reports the
 * conflict).
 */
export function checkPodSecurity(set: ManifestSet): ManifestFinding[] {
  const levels = namespaceLevels(set);
  const findings: ManifestFinding[] = [];
  for (const workload of workloadsOf(set)) {
    const ns = levels.get(workload.doc.namespace);
    if (!ns) continue;
    for (const v of violations(workload)) {
      let severity: Severity | undefined;
      let mode = '';
      if (LEVEL_ORDER[ns.enforce] >= LEVEL_ORDER[v.level]) [severity, mode] = ['error', `enforces ${ns.enforce}`];
      else if (LEVEL_ORDER[ns.warn] >= LEVEL_ORDER[v.level]) [severity, mode] = ['warning', `warns at ${ns.warn} (not enforced)`];
      if (!severity) continue;
      const consequence = severity === 'error' ? `: the API server refuses its pods${workload.controller === 'pod' ? '' : ` and the ${workload.doc.kind} never gets a replica`}` : '';
      findings.push(findingAt(workload.doc, v.path, severity, 'pod-security', `namespace ${workload.doc.namespace} ${mode} Pod Security${consequence}; ${v.message}`));
    }
  }
  return findings;
}

function namespaceLevels(set: ManifestSet): Map<string, { enforce: Level; warn: Level }> {
  const out = new Map<string, { enforce: Level; warn: Level }>();
  for (const doc of set.documents) {
    if (doc.group !== '' || doc.kind !== 'Namespace') continue;
    const labels = stringMapAt(doc.object, ['metadata', 'labels']);
    const level = (key: string): Level => {
      const value = labels[`pod-security.kubernetes.io/${key}`];
      return value === 'baseline' || value === 'restricted' ? value : 'privileged';
    };
    const previous = out.get(doc.name) ?? { enforce: 'privileged', warn: 'privileged' };
    const max = (a: Level, b: Level): Level => (LEVEL_ORDER[a] >= LEVEL_ORDER[b] ? a : b);
    out.set(doc.name, { enforce: max(previous.enforce, level('enforce')), warn: max(previous.warn, max(level('warn'), level('audit'))) });
  }
  return out;
}

function violations(workload: Workload): Violation[] {
  const out: Violation[] = [];
  const spec = workload.podSpec;
  const at = (...rest: (string | number)[]): FieldPath => [...workload.podSpecPath, ...rest];
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (spec[field] === true) out.push({ level: 'baseline', path: at(field), message: `${field}: true is not allowed: remove it` });
  }
  arrayAt(spec, ['volumes']).forEach((volume, i) => {
    if (!isObject(volume)) return;
    if (isObject(volume.hostPath)) out.push({ level: 'baseline', path: at('volumes', i, 'hostPath'), message: 'hostPath volumes are not allowed: use a PersistentVolumeClaim, emptyDir or configMap' });
    else {
      const type = Object.keys(volume).find((k) => k !== 'name');
      if (type && !RESTRICTED_VOLUMES.has(type)) out.push({ level: 'restricted', path: at('volumes', i, type), message: `volume type ${type} is not allowed (only ${[...RESTRICTED_VOLUMES].join(', ')})` });
    }
  });
  const podContext = isObject(spec.securityContext) ? spec.securityContext : {};
  const podSeccomp = stringAt(podContext, ['seccompProfile', 'type']);
  if (podSeccomp === 'Unconfined') out.push({ level: 'baseline', path: at('securityContext', 'seccompProfile', 'type'), message: 'seccompProfile Unconfined is not allowed: use RuntimeDefault' });
  if (podContext.runAsUser === 0) out.push({ level: 'restricted', path: at('securityContext', 'runAsUser'), message: 'runAsUser 0 (root) is not allowed: use a non-zero UID' });
  for (const { container, path, list } of containersOf(workload)) {
    const sc = isObject(container.securityContext) ? container.securityContext : {};
    const scPath = (...rest: (string | number)[]): FieldPath => [...path, 'securityContext', ...rest];
    const label = `${list === 'containers' ? 'container' : list === 'initContainers' ? 'init container' : 'ephemeral container'} ${stringAt(container, ['name']) ?? '?'}`;
    if (sc.privileged === true) out.push({ level: 'baseline', path: scPath('privileged'), message: `${label} is privileged: remove privileged: true` });
    arrayAt(container, ['ports']).forEach((port, i) => {
      if (isObject(port) && typeof port.hostPort === 'number' && port.hostPort !== 0) out.push({ level: 'baseline', path: [...path, 'ports', i, 'hostPort'], message: `${label} uses hostPort ${port.hostPort}: remove it and expose the port through a Service` });
    });
    const added = arrayAt(sc, ['capabilities', 'add']).map(String);
    added.forEach((cap, i) => {
      const name = cap.replace(/^CAP_/, '');
      if (!BASELINE_CAPABILITIES.has(name)) out.push({ level: 'baseline', path: scPath('capabilities', 'add', i), message: `${label} adds capability ${cap}, beyond the baseline set` });
      else if (name !== 'NET_BIND_SERVICE') out.push({ level: 'restricted', path: scPath('capabilities', 'add', i), message: `${label} adds capability ${cap}: only NET_BIND_SERVICE may be added` });
    });
    if (stringAt(sc, ['seccompProfile', 'type']) === 'Unconfined') out.push({ level: 'baseline', path: scPath('seccompProfile', 'type'), message: `${label}: seccompProfile Unconfined is not allowed: use RuntimeDefault` });
    if (stringAt(sc, ['procMount']) === 'Unmasked') out.push({ level: 'baseline', path: scPath('procMount'), message: `${label}: procMount Unmasked is not allowed` });
    if (sc.allowPrivilegeEscalation !== false) out.push({ level: 'restricted', path: scPath('allowPrivilegeEscalation'), message: `${label} must set securityContext.allowPrivilegeEscalation: false` });
    const runAsNonRoot = sc.runAsNonRoot ?? podContext.runAsNonRoot;
    if (runAsNonRoot !== true) out.push({ level: 'restricted', path: scPath('runAsNonRoot'), message: `${label} must run as non-root: set securityContext.runAsNonRoot: true (on the container or the pod) and a non-zero runAsUser` });
    if (sc.runAsUser === 0) out.push({ level: 'restricted', path: scPath('runAsUser'), message: `${label}: runAsUser 0 (root) is not allowed` });
    const seccomp = stringAt(sc, ['seccompProfile', 'type']) ?? podSeccomp;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push({ level: 'restricted', path: scPath('seccompProfile', 'type'), message: `${label} needs a seccomp profile: set securityContext.seccompProfile.type: RuntimeDefault (on the container or the pod)` });
    const dropped = arrayAt(sc, ['capabilities', 'drop']).map(String);
    if (!dropped.includes('ALL')) out.push({ level: 'restricted', path: scPath('capabilities', 'drop'), message: `${label} must drop all capabilities: set securityContext.capabilities.drop: ["ALL"]` });
  }
  if (getAt(spec, ['os', 'name']) === 'windows') return out.filter((v) => v.level === 'baseline');
  return out;
}
