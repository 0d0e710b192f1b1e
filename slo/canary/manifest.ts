import { parseAllDocuments } from 'yaml';
import { parseGoDuration } from './duration.ts';

/**
 * Reading Kubernetes custom resources (Flagger's Canary, Argo's AnalysisTemplate and Rollout)
 * from YAML or from already-parsed objects, with errors that name the field at fault, so a bad
 * manifest is reported as `spec.analysis.threshold: …` rather than as a crash deep in a replay.
 */

/** A manifest that cannot be read: `field` is the dotted path of the culprit ("spec.analysis.interval"). */
export class ManifestError extends Error {
  override name = 'ManifestError';
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(field ? `${field}: ${problem}` : problem);
  }
}

export type JsonObject = Record<string, unknown>;

export interface ManifestSelector {
  /** Accepted `apiVersion`s, e.g. ["flagger.app/v1beta1"]. */
  apiVersions: readonly string[];
  /** Accepted kinds, e.g. ["Canary"]. */
  kinds: readonly string[];
  /** Pick this `metadata.name` when the text holds several matching documents. */
  name?: string;
}

/**
 * The one document of `input` (YAML text, possibly multi-document, or a parsed object) that
 * matches `selector`. Throws ManifestError for YAML syntax errors (with the line), for no
 * matching document (listing what was found), for several when no name picks one, and for a
 * matching kind under another apiVersion (an API the replay does not know).
 */
export function selectManifest(input: string | JsonObject, selector: ManifestSelector): JsonObject {
  const documents = typeof input === 'string' ? parseYamlDocuments(input) : [input];
  const wanted = selector.kinds.join(' or ');
  const sameKind = documents.filter((doc) => selector.kinds.includes(String(doc.kind)));
  if (sameKind.length === 0) {
    const found = documents.map((doc) => (typeof doc.kind === 'string' ? doc.kind : '(no kind)'));
    throw new ManifestError('kind', `expected ${wanted}, found ${found.length === 0 ? 'no document' : found.join(', ')}`);
  }
  const named = selector.name === undefined ? sameKind : sameKind.filter((doc) => metadataName(doc) === selector.name);
  if (named.length === 0) {
    throw new ManifestError('metadata.name', `no ${wanted} named ${JSON.stringify(selector.name)}; found ${sameKind.map(metadataName).join(', ')}`);
  }
  if (named.length > 1) {
    throw new ManifestError('metadata.name', `${named.length} ${wanted} documents (${named.map(metadataName).join(', ')}); name the one to use`);
  }
  const doc = named[0] as JsonObject;
  if (!selector.apiVersions.includes(String(doc.apiVersion))) {
    throw new ManifestError('apiVersion', `expected ${selector.apiVersions.join(' or ')}, got ${JSON.stringify(doc.apiVersion ?? null)}`);
  }
  return doc;
}

function parseYamlDocuments(text: string): JsonObject[] {
  const documents = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(documents)) throw new ManifestError('', 'the YAML holds no document');
  const result: JsonObject[] = [];
  for (const document of documents) {
    const error = document.errors[0];
    if (error) throw new ManifestError('', `invalid YAML: ${error.message.split('\n')[0] ?? error.message}`);
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue; // an empty document between `---`
    if (!isObject(value)) throw new ManifestError('', `a YAML document is ${describe(value)}, not a Kubernetes object`);
    result.push(value);
  }
  return result;
}

function metadataName(doc: JsonObject): string {
  const metadata = doc.metadata;
  return isObject(metadata) && typeof metadata.name === 'string' ? metadata.name : '(unnamed)';
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "a string", "a number 5", "a list", "null": what a field held, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Typed reads of one object's fields; every error names `<path>.<key>`. */
export class Fields {
  constructor(
    readonly value: JsonObject,
    readonly path: string,
  ) {}

  static of(value: unknown, path: string): Fields {
    if (!isObject(value)) throw new ManifestError(path, `must be an object, got ${describe(value)}`);
    return new Fields(value, path);
  }

  field(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  object(key: string): Fields {
    if (!this.has(key)) throw new ManifestError(this.field(key), 'is required');
    return Fields.of(this.value[key], this.field(key));
  }

  optionalObject(key: string): Fields | undefined {
    return this.has(key) ? this.object(key) : undefined;
  }

  list(key: string): unknown[] {
    if (!this.has(key)) throw new ManifestError(this.field(key), 'is required');
    const value = this.value[key];
    if (!Array.isArray(value)) throw new ManifestError(this.field(key), `must be a list, got ${describe(value)}`);
    return value as unknown[];
  }

  optionalList(key: string): unknown[] {
    return this.has(key) ? this.list(key) : [];
  }

  string(key: string): string {
    if (!this.has(key)) throw new ManifestError(this.field(key), 'is required');
    const value = this.value[key];
    if (typeof value !== 'string' || value.trim() === '') throw new ManifestError(this.field(key), `must be a non-empty string, got ${describe(value)}`);
    return value;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }

  number(key: string): number {
    if (!this.has(key)) throw new ManifestError(this.field(key), 'is required');
    const value = this.value[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new ManifestError(this.field(key), `must be a number, got ${describe(value)}`);
    return value;
  }

  optionalNumber(key: string): number | undefined {
    return this.has(key) ? this.number(key) : undefined;
  }

  /**
   * An integer within [min, max]. `intOrString` accepts Kubernetes IntOrString fields written as
   * a numeric string ("3"), as Argo's `count` and `failureLimit` may be.
   */
  integer(key: string, min: number, max = Number.MAX_SAFE_INTEGER, intOrString = false): number {
    if (!this.has(key)) throw new ManifestError(this.field(key), 'is required');
    const raw = this.value[key];
    const value = intOrString && typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new ManifestError(this.field(key), `must be an integer, got ${describe(raw)}`);
    if (value < min || value > max) {
      throw new ManifestError(this.field(key), max === Number.MAX_SAFE_INTEGER ? `must be at least ${min}, got ${value}` : `must be between ${min} and ${max}, got ${value}`);
    }
    return value;
  }

  optionalInteger(key: string, min: number, max = Number.MAX_SAFE_INTEGER, intOrString = false): number | undefined {
    return this.has(key) ? this.integer(key, min, max, intOrString) : undefined;
  }

  /** A Go duration ("30s", "1m30s") in seconds, at least `minSeconds`. */
  duration(key: string, minSeconds = 0): number {
    const text = this.string(key);
    const seconds = parseGoDuration(text);
    if (seconds === undefined) throw new ManifestError(this.field(key), `must be a duration like "30s" or "1m", got ${JSON.stringify(text)}`);
    if (seconds < minSeconds) throw new ManifestError(this.field(key), `must be at least ${minSeconds}s, got ${JSON.stringify(text)}`);
    return seconds;
  }

  optionalDuration(key: string, minSeconds = 0): number | undefined {
    return this.has(key) ? this.duration(key, minSeconds) : undefined;
  }
}
