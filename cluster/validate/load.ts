import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { execa } from 'execa';
import path from 'node:path';
import { LineCounter, parseAllDocuments, isNode, type Document } from 'yaml';
import { isObject } from './field-path.ts';
import type { FieldPath, ManifestDocument, ManifestFinding } from './types.ts';

export interface LoadResult {
  documents: ManifestDocument[];
  /** YAML syntax errors and documents that cannot be Kubernetes objects. */
  findings: ManifestFinding[];
}

/**
 * What to validate: loose manifest files (validated together as one set) and kustomizations
 * (folders with a kustomization.yaml, each rendered with `kubectl kustomize` and validated as its
 * own set: their files are partial patches, and a base and its overlay are alternatives).
 */
export interface ManifestSources {
  files: string[];
  kustomizations: string[];
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/**
 * Finds the sources under the given paths. Folders named `node_modules`, `testdata` (fixtures,
 * often broken on purpose, as in Go) and hidden ones are skipped unless given directly; so are
 * promtool test files (`*.test.yaml`). A folder with a kustomization file is one kustomization;
 * its files and subfolders are not read one by one. A kustomization file given directly means its
 * folder.
 */
export async function manifestSources(paths: readonly string[]): Promise<ManifestSources> {
  const sources: ManifestSources = { files: [], kustomizations: [] };
  for (const given of paths) {
    const absolute = path.resolve(given);
    const info = await stat(absolute).catch(() => undefined);
    if (!info) throw new Error(`${given} does not exist`);
    if (info.isFile() && KUSTOMIZATION_FILES.includes(path.basename(absolute))) sources.kustomizations.push(path.dirname(absolute));
    else if (info.isFile()) sources.files.push(absolute);
    else await walk(absolute, sources);
  }
  return { files: [...new Set(sources.files)], kustomizations: [...new Set(sources.kustomizations)] };
}

async function walk(dir: string, sources: ManifestSources): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  if (entries.some((e) => e.isFile() && KUSTOMIZATION_FILES.includes(e.name))) {
    sources.kustomizations.push(dir);
    return;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === 'testdata' || entry.name.startsWith('.')) continue;
      await walk(full, sources);
    } else if (/\.ya?ml$/.test(entry.name) && !entry.name.endsWith('.test.yaml')) {
      sources.files.push(full);
    }
  }
}

/**
 * Renders a kustomization with `kubectl kustomize` (offline). A failed build is a finding on the
 * kustomization file; a missing kubectl is an error thrown to the caller (an environment problem).
 */
export async function renderKustomization(dir: string): Promise<{ text: string } | { finding: ManifestFinding }> {
  const file = path.join(dir, KUSTOMIZATION_FILES.find((f) => existsSync(path.join(dir, f))) ?? 'kustomization.yaml');
  const result = await execa('kubectl', ['kustomize', dir], { reject: false });
  if (result.exitCode === 0) return { text: result.stdout };
  if ((result as { code?: string }).code === 'ENOENT') throw new Error('kubectl is needed to render kustomizations (`kubectl kustomize`) and was not found on PATH');
  return { finding: { file, documentIndex: 0, kind: 'Kustomization', name: '', fieldPath: '', severity: 'error', rule: 'kustomize-build', message: `kubectl kustomize ${path.relative(process.cwd(), dir) || dir} failed: ${kustomizeError(result.stderr)}` } };
}

/**
 * Parses every document of every file as the API server's YAML reader does: YAML 1.1 (kubectl
 * reads YAML through go-yaml v2, so `on`/`yes` are booleans), duplicate keys refused. A file none
 * of whose documents has `apiVersion`, `kind` or `metadata` (Helm values, rule files, kind's
 * config…) is not a manifest file and is left out without a finding.
 */
export async function loadManifests(files: readonly string[]): Promise<LoadResult> {
  const result: LoadResult = { documents: [], findings: [] };
  for (const file of files) parseManifests(file, await readFile(file, 'utf8'), result);
  return result;
}

/**
 * Parses one file's text into `result`. `file` names where findings point (for a rendered
 * kustomization, its kustomization file; document indexes then count in the rendered output, and
 * `lines: false` leaves line numbers out).
 */
export function parseManifests(file: string, text: string, result: LoadResult, options: { lines?: boolean } = {}): void {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { version: '1.1', lineCounter, uniqueKeys: true, prettyErrors: true });
  const docs = Array.isArray(parsed) ? parsed : [];
  const fileFindings: ManifestFinding[] = [];
  const fileDocuments: ManifestDocument[] = [];
  let looksLikeManifest = false;
  docs.forEach((doc, documentIndex) => {
    for (const error of doc.errors) {
      const line = error.linePos?.[0].line;
      fileFindings.push({
        file, documentIndex, kind: '', name: '', fieldPath: '', severity: 'error', rule: 'yaml-syntax',
        message: `YAML syntax error: ${(error.message.split('\n')[0] ?? '').replace(/:$/, '')}`,
        ...(line === undefined ? {} : { line }),
      });
    }
    if (doc.errors.length > 0) {
      looksLikeManifest ||= /^\s*(apiVersion|kind):/m.test(text);
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 1000 });
    if (value === null || value === undefined) return; // an empty document (`---` at the end)
    // Lines of a rendered kustomization are lines of kubectl's output, not of any file: left out.
    const lineOf = options.lines === false ? (): undefined => undefined : lineFinder(doc, lineCounter);
    if (!isObject(value)) {
      fileFindings.push({ file, documentIndex, kind: '', name: '', fieldPath: '', severity: 'error', rule: 'not-an-object', message: `the document is a ${Array.isArray(value) ? 'list' : typeof value}, not a Kubernetes object (a mapping with apiVersion, kind and metadata)`, ...lineField(lineOf([])) });
      return;
    }
    const apiVersion = typeof value.apiVersion === 'string' ? value.apiVersion : '';
    const kind = typeof value.kind === 'string' ? value.kind : '';
    if (apiVersion !== '' || kind !== '' || isObject(value.metadata)) looksLikeManifest = true;
    const metadata = isObject(value.metadata) ? value.metadata : {};
    const name = typeof metadata.name === 'string' ? metadata.name : typeof metadata.generateName === 'string' ? metadata.generateName : '';
    const namespace = CLUSTER_SCOPED.has(kind) || apiVersion.startsWith('constraints.gatekeeper.sh/') ? '' : typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : 'default';
    const slash = apiVersion.lastIndexOf('/');
    fileDocuments.push({ file, documentIndex, object: value, apiVersion, group: slash < 0 ? '' : apiVersion.slice(0, slash), kind, name, namespace, lineOf });
  });
  if (!looksLikeManifest) return;
  result.findings.push(...fileFindings);
  for (const doc of fileDocuments) {
    if (doc.apiVersion === '' || doc.kind === '') {
      const missing = [doc.apiVersion === '' ? 'apiVersion' : '', doc.kind === '' ? 'kind' : ''].filter(Boolean);
      result.findings.push({ file, documentIndex: doc.documentIndex, kind: doc.kind, name: doc.name, fieldPath: missing[0] ?? '', severity: 'error', rule: 'missing-type-meta', message: `${missing.join(' and ')} missing: every object needs both (e.g. apiVersion: apps/v1, kind: Deployment)`, ...lineField(doc.lineOf([])) });
      continue;
    }
    result.documents.push(doc);
  }
}

/** The error of kubectl's klog line (`E1126 … "command failed" err="…"`), or its first line. */
function kustomizeError(stderr: string): string {
  const line = stderr.trim().split('\n')[0] ?? '';
  return /err="(.*)"\s*$/.exec(line)?.[1]?.replace(/\\"/g, '"') ?? line;
}

/** Kinds without a namespace (built-in and of the supported CRDs). */
const CLUSTER_SCOPED = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'StorageClass',
  'PriorityClass', 'IngressClass', 'RuntimeClass', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'APIService', 'CSIDriver', 'CSINode', 'VolumeAttachment',
  'FlowSchema', 'PriorityLevelConfiguration', 'NodePool', 'NodeClaim', 'EC2NodeClass', 'Provisioner', 'ConstraintTemplate',
  'ClusterAnalysisTemplate', 'ClusterIssuer', 'EncryptionConfiguration',
]);

function lineField(line: number | undefined): { line?: number } {
  return line === undefined ? {} : { line };
}

/** The line of the deepest node present along `path` (the key's line for a missing child). */
function lineFinder(doc: Document, lineCounter: LineCounter): (path: FieldPath) => number | undefined {
  return (path) => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node: unknown = doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}
