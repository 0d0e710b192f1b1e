import * as k8s from '@kubernetes/client-node';
import { isObject } from '../field-path.ts';

/** A field the type does not have, with the path of the object that holds it. */
export interface UnknownField {
  path: (string | number)[];
  field: string;
  /** The fields that object may have, for the message. */
  allowed: string[];
}

interface AttributeType {
  name: string;
  baseName: string;
  type: string;
}

interface ModelWithTypeMap {
  getAttributeTypeMap(): AttributeType[];
}

const models = k8s as unknown as Record<string, ModelWithTypeMap | undefined>;

/**
 * The @kubernetes/client-node model for a built-in apiVersion/kind (`apps/v1 Deployment` →
 * `V1Deployment`), if there is one. Only for versions the API server serves; the removed betas are
 * reported as removed instead.
 */
export function typeNameFor(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split('/').pop() ?? '';
  if (!/^v\d+$/.test(version)) return undefined;
  const name = apiVersion === 'events.k8s.io/v1' ? `EventsV1${kind}` : `${version.toUpperCase()}${kind}`;
  return typeof models[name]?.getAttributeTypeMap === 'function' ? name : undefined;
}

/**
 * Fields of `value` that its type (a client-node model name such as `V1PodTemplateSpec`) does not
 * have. The API server refuses them: `kubectl apply` uses strict field validation by default since
 * Kubernetes 1.27 ("unknown field …"), and older servers drop them silently, which is worse.
 */
export function unknownFields(value: unknown, typeName: string, path: (string | number)[] = []): UnknownField[] {
  const model = models[typeName];
  if (!model || !isObject(value)) return [];
  const attributes = model.getAttributeTypeMap();
  const byName = new Map(attributes.map((a) => [a.baseName, a.type]));
  const out: UnknownField[] = [];
  for (const [key, child] of Object.entries(value)) {
    const type = byName.get(key);
    if (type === undefined) {
      out.push({ path, field: key, allowed: attributes.map((a) => a.baseName) });
      continue;
    }
    out.push(...unknownFieldsOfType(child, type, [...path, key]));
  }
  return out;
}

function unknownFieldsOfType(value: unknown, type: string, path: (string | number)[]): UnknownField[] {
  const array = /^Array<(.+)>$/.exec(type);
  if (array?.[1]) {
    const itemType = array[1];
    return Array.isArray(value) ? value.flatMap((item, i) => unknownFieldsOfType(item, itemType, [...path, i])) : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map?.[1]) {
    const valueType = map[1];
    return isObject(value) ? Object.entries(value).flatMap(([k, v]) => unknownFieldsOfType(v, valueType, [...path, k])) : [];
  }
  return typeof models[type]?.getAttributeTypeMap === 'function' ? unknownFields(value, type, path) : [];
}
