/** How bad a finding is: errors are what the API server or the cluster would refuse or break on. */
export type Severity = 'error' | 'warning';

/**
 * One problem found in a manifest. `file` is the absolute path, `documentIndex` the 0-based index
 * of the YAML document in a multi-document file, `fieldPath` the field in kubectl's notation
 * (`spec.template.spec.containers[0].securityContext.runAsNonRoot`, empty for the whole object),
 * `rule` a short stable id (the README of cluster/validate lists them), `message` what is wrong and
 * how to fix it. `line` (1-based) is given when the field, or its nearest present parent, was found
 * in the file.
 */
export interface ManifestFinding {
  file: string;
  documentIndex: number;
  kind: string;
  name: string;
  fieldPath: string;
  severity: Severity;
  rule: string;
  message: string;
  line?: number;
}

/** A path into a document: keys and array indexes. */
export type FieldPath = readonly (string | number)[];

/** A plain JSON object as parsed from YAML. */
export type JsonObject = Record<string, unknown>;

/** One parsed Kubernetes object with where it came from. */
export interface ManifestDocument {
  file: string;
  documentIndex: number;
  object: JsonObject;
  apiVersion: string;
  /** The API group: '' for the core group (`v1`). */
  group: string;
  kind: string;
  name: string;
  /** metadata.namespace, or `default` when absent (what `kubectl apply` would use without -n). */
  namespace: string;
  /** The 1-based line of the field at `path`, or of its nearest present parent. */
  lineOf(path: FieldPath): number | undefined;
}

/** Every rule receives the whole set: cross-object checks (selectors, quota, references) need it. */
export interface ManifestSet {
  documents: readonly ManifestDocument[];
}

/** A rule: pure function from the set to findings. */
export type Rule = (set: ManifestSet) => ManifestFinding[] | Promise<ManifestFinding[]>;
