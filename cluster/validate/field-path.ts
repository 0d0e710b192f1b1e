import type { FieldPath, JsonObject, ManifestDocument, ManifestFinding, Severity } from './types.ts';

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

/** `['spec', 'containers', 0, 'name']` → `spec.containers[0].name`; odd keys as `["app.kubernetes.io/name"]`. */
export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** An AJV instancePath (`/spec/template/0/a~1b`) as path segments; array indexes become numbers. */
export function fromJsonPointer(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}

/** Builds a finding about `doc` at `path`, with the line of that field when it can be found. */
export function findingAt(doc: ManifestDocument, path: FieldPath, severity: Severity, rule: string, message: string): ManifestFinding {
  const line = doc.lineOf(path);
  return {
    file: doc.file,
    documentIndex: doc.documentIndex,
    kind: doc.kind,
    name: doc.name,
    fieldPath: formatFieldPath(path),
    severity,
    rule,
    message,
    ...(line === undefined ? {} : { line }),
  };
}

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The value at `path`, or undefined when any step is missing or of the wrong shape. */
export function getAt(root: unknown, path: FieldPath): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[segment];
    } else {
      if (!isObject(current)) return undefined;
      current = current[segment];
    }
  }
  return current;
}

export function objectAt(root: unknown, path: FieldPath): JsonObject | undefined {
  const value = getAt(root, path);
  return isObject(value) ? value : undefined;
}

export function arrayAt(root: unknown, path: FieldPath): unknown[] {
  const value = getAt(root, path);
  return Array.isArray(value) ? value : [];
}

export function stringAt(root: unknown, path: FieldPath): string | undefined {
  const value = getAt(root, path);
  return typeof value === 'string' ? value : undefined;
}

/** A string → string map such as labels; non-string values are left out. */
export function stringMapAt(root: unknown, path: FieldPath): Record<string, string> {
  const value = objectAt(root, path) ?? {};
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string') out[key] = v;
  return out;
}
