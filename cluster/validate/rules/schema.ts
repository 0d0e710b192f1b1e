import type { ErrorObject } from 'ajv';
import { apiVersionNotice } from '../api-versions.ts';
import { findingAt, formatFieldPath, fromJsonPointer, getAt, objectAt } from '../field-path.ts';
import { lookupKind } from '../schema/registry.ts';
import { typeNameFor, unknownFields, type UnknownField } from '../schema/unknown-fields.ts';
import type { ManifestDocument, ManifestFinding, ManifestSet } from '../types.ts';
import { customKindsOf, isBuildInput } from './api-types.ts';

/**
 * Rules `schema` and `unknown-field`: each object against its kind's schema (kubernetes-models for
 * built-in kinds and the installed CRD packages, crd-schemas/ for the others), and, for built-in
 * kinds and pod templates, fields the type does not have.
 */
export async function checkSchemas(set: ManifestSet): Promise<ManifestFinding[]> {
  const findings: ManifestFinding[] = [];
  const customKinds = customKindsOf(set);
  for (const doc of set.documents) {
    if (isBuildInput(doc) || apiVersionNotice(doc.apiVersion, doc.kind)?.status === 'removed') continue;
    const info = await lookupKind(doc.apiVersion, doc.kind, customKinds);
    if (!info) continue;
    const seen = new Set<string>();
    for (const check of info.checks) {
      for (const issue of describeErrors(check(doc.object), doc.object)) {
        const key = `${formatFieldPath(issue.path)} ${issue.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        findings.push(findingAt(doc, issue.path, 'error', issue.rule, issue.message));
      }
    }
    for (const unknown of unknownFieldsOf(doc)) {
      const path = [...unknown.path, unknown.field];
      const key = `${formatFieldPath(path)} unknown`;
      if (seen.has(key)) continue;
      seen.add(key);
      findings.push(findingAt(doc, path, 'error', 'unknown-field', unknownFieldMessage(unknown)));
    }
  }
  return findings;
}

/** Unknown fields of built-in kinds (whole object) and of pod templates inside CRDs. */
function unknownFieldsOf(doc: ManifestDocument): UnknownField[] {
  const typeName = typeNameFor(doc.apiVersion, doc.kind);
  if (doc.group.includes('.') && !doc.group.endsWith('.k8s.io')) {
    // A custom resource: only the embedded Kubernetes types are known field by field.
    if (doc.group === 'argoproj.io' && doc.kind === 'Rollout' && objectAt(doc.object, ['spec', 'template'])) {
      return unknownFields(getAt(doc.object, ['spec', 'template']), 'V1PodTemplateSpec', ['spec', 'template']);
    }
    return [];
  }
  return typeName ? unknownFields(doc.object, typeName) : [];
}

interface Issue {
  path: (string | number)[];
  rule: 'schema' | 'unknown-field';
  message: string;
}

/**
 * AJV errors as one message per field. The alternatives of a `oneOf`/`anyOf` (int-or-string…)
 * are folded into one "must be string or integer".
 */
export function describeErrors(errors: readonly ErrorObject[], object: unknown): Issue[] {
  const byPath = new Map<string, ErrorObject[]>();
  for (const error of errors) {
    const list = byPath.get(error.instancePath) ?? [];
    list.push(error);
    byPath.set(error.instancePath, list);
  }
  const issues: Issue[] = [];
  for (const [pointer, list] of byPath) {
    const path = fromJsonPointer(pointer);
    const found = getAt(object, path);
    const alternatives = list.some((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
    const typeErrors = list.filter((e) => e.keyword === 'type');
    if (alternatives && typeErrors.length > 0) {
      const types = [...new Set(typeErrors.map((e) => String(e.params.type)))];
      issues.push({ path, rule: 'schema', message: `must be ${types.join(' or ')} (found ${show(found)})` });
      continue;
    }
    for (const error of list) {
      if (error.keyword === 'oneOf' || error.keyword === 'anyOf' || error.keyword === 'if') continue;
      const issue = describeError(error, path, found);
      if (issue) issues.push(issue);
    }
  }
  return issues;
}

function describeError(error: ErrorObject, path: (string | number)[], found: unknown): Issue | undefined {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: [...path, String(params.missingProperty)], rule: 'schema', message: `required field ${String(params.missingProperty)} is missing: add it; the object is refused without it` };
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      return { path: [...path, field], rule: 'unknown-field', message: unknownFieldMessage({ path, field, allowed: [] }) };
    }
    case 'type':
      return { path, rule: 'schema', message: `must be ${String(params.type)} (found ${show(found)})${typeHint(String(params.type), found)}` };
    case 'enum':
      return { path, rule: 'schema', message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')} (found ${show(found)})` };
    case 'pattern':
      return { path, rule: 'schema', message: `must match ${String(params.pattern)} (found ${show(found)})${PATTERN_HINTS[String(params.pattern)] ?? ''}` };
    case 'minItems':
      return { path, rule: 'schema', message: `must have at least ${String(params.limit)} item(s)` };
    default:
      return { path, rule: 'schema', message: `${error.message ?? error.keyword} (found ${show(found)})` };
  }
}

/** What a pattern of crd-schemas/ means, for the patterns whose regex does not say it plainly. */
const PATTERN_HINTS: Record<string, string> = {
  '^[A-Za-z0-9+/]{22,}={0,2}$': ': the key must be base64 of random bytes (32 for aescbc and secretbox), e.g. `head -c 32 /dev/urandom | base64`; kube-apiserver does not start with a placeholder',
  '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$': ': a Go duration has no days; write 168h for 7 days',
  '^[0-9]+(m|s)': ': a duration in seconds or minutes, such as 30s or 1m',
};

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value: a key with nothing after it, or only a comment)';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** The YAML 1.1 and quoting mistakes behind most type errors. */
function typeHint(expected: string, found: unknown): string {
  if (expected === 'string' && typeof found === 'boolean') return '; YAML reads yes/no/on/off/true/false as booleans: quote it';
  if (expected === 'string' && typeof found === 'number') return '; quote it';
  if ((expected === 'integer' || expected === 'number') && typeof found === 'string') return '; remove the quotes';
  return '';
}

/** Fields often written one level too deep or misspelled, with where they belong. */
const MISPLACED: { parent: RegExp; field: string; hint: string }[] = [
  { parent: /^spec\.http\[(\d+)\]\.route\[\d+\]$/, field: 'timeout', hint: 'timeout belongs on the HTTP route, not on a route destination: move it to spec.http[$1].timeout (Istio ignores or rejects it here)' },
  { parent: /^spec\.http\[(\d+)\]\.route\[\d+\]$/, field: 'retries', hint: 'retries belongs on the HTTP route, not on a route destination: move it to spec.http[$1].retries (Istio ignores or rejects it here)' },
  { parent: /^spec\.http\[(\d+)\]\.route\[\d+\]$/, field: 'fault', hint: 'fault belongs on the HTTP route: move it to spec.http[$1].fault' },
  { parent: /^spec$/, field: 'containers', hint: 'containers belong in the pod template: spec.template.spec.containers' },
];

function unknownFieldMessage(unknown: UnknownField): string {
  const parent = formatFieldPath(unknown.path);
  for (const m of MISPLACED) {
    const match = m.parent.exec(parent);
    if (match && m.field === unknown.field) return `unknown field ${unknown.field}: ${m.hint.replace('$1', match[1] ?? '')}`;
  }
  const suggestion = closest(unknown.field, unknown.allowed);
  return `unknown field ${unknown.field}${parent ? ` in ${parent}` : ''}: the API server refuses it (kubectl apply's strict field validation) or drops it${suggestion ? `; did you mean ${suggestion}?` : ''}`;
}

/** The allowed field closest to a misspelled one (case or up to two edits), if any. */
function closest(field: string, allowed: readonly string[]): string | undefined {
  const lower = field.toLowerCase();
  const exactCase = allowed.find((a) => a.toLowerCase() === lower);
  if (exactCase) return exactCase;
  let best: { name: string; distance: number } | undefined;
  for (const name of allowed) {
    const distance = editDistance(lower, name.toLowerCase());
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min(current + 1, (row[j - 1] ?? 0) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}
