import { arrayAt, findingAt, formatFieldPath, getAt, isObject, objectAt, stringAt } from '../field-path.ts';
import { parseQuantity } from '../quantity.ts';
import type { FieldPath, ManifestDocument, ManifestFinding, ManifestSet } from '../types.ts';
import { SELECTOR_CONTROLLERS, containersOf, describeSelector, labelSelectorAt, selectorMatches, shapeKey, workloadsOf, type Workload } from '../workloads.ts';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
/** RBAC objects and a few others may use path-segment names such as `system:metrics`. */
const FREE_NAMED_KINDS = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

/**
 * What the API server refuses although the YAML parses and the schema holds: rules
 * `selector-mismatch`, `restart-policy`, `missing-containers`, `duplicate-container-name`,
 * `duplicate-port`, `invalid-name`, `invalid-label`, `requests-exceed-limits`, `service-ports`,
 * `invalid-schedule`, `constraint-template-name`.
 */
export function checkApiServerRefusals(set: ManifestSet): ManifestFinding[] {
  const findings: ManifestFinding[] = [];
  for (const doc of set.documents) {
    findings.push(...checkNames(doc), ...checkServicePorts(doc), ...checkCronSchedule(doc), ...checkConstraintTemplateName(doc));
  }
  for (const workload of workloadsOf(set)) {
    findings.push(...checkSelector(workload), ...checkRestartPolicy(workload), ...checkContainers(workload));
  }
  return findings;
}

function checkNames(doc: ManifestDocument): ManifestFinding[] {
  const findings: ManifestFinding[] = [];
  const name = stringAt(doc.object, ['metadata', 'name']);
  if (name !== undefined && !FREE_NAMED_KINDS.has(doc.kind)) {
    const [pattern, max, what] = doc.kind === 'Namespace' && doc.group === '' ? [DNS1123_LABEL, 63, 'a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)']
      : doc.kind === 'Service' && doc.group === '' ? [DNS1035_LABEL, 63, 'a DNS-1035 label (lowercase letters, digits and "-", starting with a letter, at most 63 characters)']
      : [DNS1123_SUBDOMAIN, 253, 'a DNS-1123 subdomain (lowercase letters, digits, "-" and ".", at most 253 characters)'];
    if (!pattern.test(name) || name.length > max) findings.push(findingAt(doc, ['metadata', 'name'], 'error', 'invalid-name', `name ${JSON.stringify(name)} is not ${what}`));
  }
  const namespace = stringAt(doc.object, ['metadata', 'namespace']);
  if (namespace !== undefined && (!DNS1123_LABEL.test(namespace) || namespace.length > 63)) {
    findings.push(findingAt(doc, ['metadata', 'namespace'], 'error', 'invalid-name', `namespace ${JSON.stringify(namespace)} is not a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)`));
  }
  const labelPaths: FieldPath[] = [['metadata', 'labels']];
  const workloadTemplate = ['spec', 'template', 'metadata', 'labels'];
  if (objectAt(doc.object, workloadTemplate)) labelPaths.push(workloadTemplate);
  for (const path of labelPaths) {
    for (const [key, value] of Object.entries(objectAt(doc.object, path) ?? {})) {
      const text = typeof value === 'string' ? value : undefined;
      if (text === undefined) {
        findings.push(findingAt(doc, [...path, key], 'error', 'invalid-label', `label ${key} must be a string (found ${JSON.stringify(value)}): quote it`));
      } else if (!LABEL_VALUE.test(text) || text.length > 63) {
        findings.push(findingAt(doc, [...path, key], 'error', 'invalid-label', `label value ${JSON.stringify(text)} is invalid: at most 63 characters, letters, digits, "-", "_" and ".", starting and ending with a letter or digit`));
      }
      const slash = key.lastIndexOf('/');
      const labelName = slash < 0 ? key : key.slice(slash + 1);
      const prefix = slash < 0 ? undefined : key.slice(0, slash);
      if (!LABEL_NAME.test(labelName) || labelName.length > 63 || (prefix !== undefined && !DNS1123_SUBDOMAIN.test(prefix))) {
        findings.push(findingAt(doc, [...path, key], 'error', 'invalid-label', `label key ${JSON.stringify(key)} is invalid: an optional DNS subdomain prefix and "/", then at most 63 letters, digits, "-", "_" and "."`));
      }
    }
  }
  return findings;
}

function checkSelector(workload: Workload): ManifestFinding[] {
  const { doc } = workload;
  if (!SELECTOR_CONTROLLERS.has(shapeKey(doc))) return [];
  const selector = labelSelectorAt(doc.object, ['spec', 'selector']);
  if (!selector) return []; // a missing selector is a schema error
  if (Object.keys(selector.matchLabels).length === 0 && selector.matchExpressions.length === 0) {
    return [findingAt(doc, ['spec', 'selector'], 'error', 'selector-mismatch', `an empty selector is refused for a ${doc.kind}: select the template's labels (e.g. matchLabels: {app: ${workload.podLabels.app ?? doc.name}})`)];
  }
  if (selectorMatches(selector, workload.podLabels)) return [];
  return [findingAt(doc, ['spec', 'selector'], 'error', 'selector-mismatch', `selector ${describeSelector(selector)} does not match the template's labels (${Object.entries(workload.podLabels).map(([k, v]) => `${k}=${v}`).join(',') || 'none'}): the API server refuses it ("selector does not match template labels"); make spec.template.metadata.labels carry the selected labels`)];
}

function checkRestartPolicy(workload: Workload): ManifestFinding[] {
  const { doc } = workload;
  const path = [...workload.podSpecPath, 'restartPolicy'];
  const policy = stringAt(doc.object, path);
  if (workload.controller === 'service' && policy !== undefined && policy !== 'Always') {
    return [findingAt(doc, path, 'error', 'restart-policy', `a ${doc.kind}'s pods must have restartPolicy Always (found ${policy}); remove the field or use a Job for run-to-completion work`)];
  }
  if (workload.controller === 'batch' && policy !== 'OnFailure' && policy !== 'Never') {
    return [findingAt(doc, path, 'error', 'restart-policy', policy === undefined
      ? `a ${doc.kind}'s pod template must set restartPolicy: OnFailure or Never; left out it defaults to Always, which the API server refuses for Jobs`
      : `a ${doc.kind}'s pods must have restartPolicy OnFailure or Never (found ${policy})`)];
  }
  return [];
}

function checkContainers(workload: Workload): ManifestFinding[] {
  const { doc } = workload;
  const findings: ManifestFinding[] = [];
  const containers = getAt(workload.podSpec, ['containers']);
  if (!Array.isArray(containers) || containers.length === 0) {
    findings.push(findingAt(doc, [...workload.podSpecPath, 'containers'], 'error', 'missing-containers', 'the pod template has no containers: at least one container (name and image) is required'));
  }
  const names = new Map<string, FieldPath>();
  const portNames = new Map<string, FieldPath>();
  const hostPorts = new Map<string, FieldPath>();
  for (const { container, path } of containersOf(workload)) {
    const name = stringAt(container, ['name']);
    if (name !== undefined) {
      const first = names.get(name);
      if (first) findings.push(findingAt(doc, [...path, 'name'], 'error', 'duplicate-container-name', `container name ${name} is used twice in the pod (also at ${formatFieldPath(first)}): names must be unique across containers and initContainers`));
      names.set(name, path);
      if (!DNS1123_LABEL.test(name) || name.length > 63) findings.push(findingAt(doc, [...path, 'name'], 'error', 'invalid-name', `container name ${JSON.stringify(name)} is not a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)`));
    }
    const containerPorts = new Set<string>();
    arrayAt(container, ['ports']).forEach((port, i) => {
      if (!isObject(port)) return;
      const portPath = [...path, 'ports', i];
      const protocol = stringAt(port, ['protocol']) ?? 'TCP';
      const portName = stringAt(port, ['name']);
      if (portName !== undefined) {
        if (portNames.has(portName)) findings.push(findingAt(doc, [...portPath, 'name'], 'error', 'duplicate-port', `port name ${portName} is used twice in the pod: port names must be unique across its containers`));
        portNames.set(portName, portPath);
        if (!isIanaServiceName(portName)) findings.push(findingAt(doc, [...portPath, 'name'], 'error', 'invalid-name', `port name ${JSON.stringify(portName)} is invalid: at most 15 lowercase letters, digits and "-", with at least one letter`));
      }
      const key = `${String(port.containerPort)}/${protocol}`;
      if (containerPorts.has(key)) findings.push(findingAt(doc, [...portPath, 'containerPort'], 'warning', 'duplicate-port', `containerPort ${key} is declared twice in this container: remove the duplicate`));
      containerPorts.add(key);
      if (typeof port.hostPort === 'number' && port.hostPort > 0) {
        const hostKey = `${stringAt(port, ['hostIP']) ?? ''}:${port.hostPort}/${protocol}`;
        if (hostPorts.has(hostKey)) findings.push(findingAt(doc, [...portPath, 'hostPort'], 'error', 'duplicate-port', `hostPort ${port.hostPort}/${protocol} is used twice in the pod`));
        hostPorts.set(hostKey, portPath);
      }
    });
    for (const resource of ['cpu', 'memory', 'ephemeral-storage']) {
      const request = parseQuantity(getAt(container, ['resources', 'requests', resource]));
      const limit = parseQuantity(getAt(container, ['resources', 'limits', resource]));
      if (request !== undefined && limit !== undefined && request > limit) {
        findings.push(findingAt(doc, [...path, 'resources', 'requests', resource], 'error', 'requests-exceed-limits', `the ${resource} request (${String(getAt(container, ['resources', 'requests', resource]))}) is above its limit (${String(getAt(container, ['resources', 'limits', resource]))}): the API server refuses it; raise the limit or lower the request`));
      }
    }
  }
  return findings;
}

function isIanaServiceName(name: string): boolean {
  return name.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name) && /[a-z]/.test(name) && !name.includes('--');
}

function checkServicePorts(doc: ManifestDocument): ManifestFinding[] {
  if (doc.group !== '' || doc.kind !== 'Service') return [];
  const ports = arrayAt(doc.object, ['spec', 'ports']);
  const findings: ManifestFinding[] = [];
  const seenPorts = new Set<string>();
  const seenNames = new Set<string>();
  ports.forEach((port, i) => {
    if (!isObject(port)) return;
    const name = stringAt(port, ['name']);
    if (ports.length > 1 && !name) findings.push(findingAt(doc, ['spec', 'ports', i], 'error', 'service-ports', 'every port of a Service with more than one port needs a name'));
    if (name !== undefined) {
      if (seenNames.has(name)) findings.push(findingAt(doc, ['spec', 'ports', i, 'name'], 'error', 'service-ports', `port name ${name} is used twice in this Service: rename one`));
      seenNames.add(name);
    }
    const key = `${String(port.port)}/${stringAt(port, ['protocol']) ?? 'TCP'}`;
    if (seenPorts.has(key)) findings.push(findingAt(doc, ['spec', 'ports', i, 'port'], 'error', 'service-ports', `port ${key} is declared twice in this Service: remove or renumber one`));
    seenPorts.add(key);
  });
  return findings;
}

const CRON_MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

function checkCronSchedule(doc: ManifestDocument): ManifestFinding[] {
  if (doc.group !== 'batch' || doc.kind !== 'CronJob') return [];
  const schedule = stringAt(doc.object, ['spec', 'schedule']);
  if (schedule === undefined) return [];
  const withoutTz = schedule.replace(/^(CRON_)?TZ=\S+\s+/, '');
  if (CRON_MACROS.has(withoutTz.trim()) || /^@every\s+\S+$/.test(withoutTz.trim())) return [];
  const fields = withoutTz.trim().split(/\s+/);
  if (fields.length === 5 && fields.every((f) => /^[\d*/,\-?A-Za-z]+$/.test(f))) return [];
  return [findingAt(doc, ['spec', 'schedule'], 'error', 'invalid-schedule', `schedule ${JSON.stringify(schedule)} is not a cron expression of 5 fields (minute hour day-of-month month day-of-week)${fields.length === 6 ? ': CronJob has no seconds field' : ''}`)];
}

function checkConstraintTemplateName(doc: ManifestDocument): ManifestFinding[] {
  if (doc.group !== 'templates.gatekeeper.sh' || doc.kind !== 'ConstraintTemplate') return [];
  const kind = stringAt(doc.object, ['spec', 'crd', 'spec', 'names', 'kind']);
  if (!kind || kind.toLowerCase() === doc.name) return [];
  return [findingAt(doc, ['metadata', 'name'], 'error', 'constraint-template-name', `Gatekeeper requires a ConstraintTemplate's name to be its kind in lowercase: rename it to ${kind.toLowerCase()} (or change spec.crd.spec.names.kind)`)];
}
