import path from 'node:path';
import { apiVersionNotice } from '../api-versions.ts';
import { arrayAt, findingAt, stringAt } from '../field-path.ts';
import { BUILD_INPUT_GROUPS, NOT_API_OBJECTS, apiVersionsServing, lookupKind } from '../schema/registry.ts';
import type { ManifestDocument, ManifestFinding, ManifestSet } from '../types.ts';

/** `apiVersion kind` pairs defined by CustomResourceDefinitions among the manifests. */
export function customKindsOf(set: ManifestSet): Set<string> {
  const out = new Set<string>();
  for (const doc of set.documents) {
    if (doc.kind !== 'CustomResourceDefinition' || !doc.apiVersion.startsWith('apiextensions.k8s.io/')) continue;
    const group = stringAt(doc.object, ['spec', 'group']);
    const kind = stringAt(doc.object, ['spec', 'names', 'kind']);
    if (!group || !kind) continue;
    for (const version of arrayAt(doc.object, ['spec', 'versions'])) {
      const name = stringAt(version, ['name']);
      if (name) out.add(`${group}/${name} ${kind}`);
    }
  }
  return out;
}

/** Whether the document is a build input (kustomize) rather than something to apply. */
export function isBuildInput(doc: ManifestDocument): boolean {
  return BUILD_INPUT_GROUPS.includes(doc.group);
}

/**
 * Rules `removed-api`, `deprecated-api`, `unknown-kind`, `not-an-api-object`: whether the cluster
 * would serve this apiVersion/kind at all (see api-versions.ts for the table).
 */
export async function checkApiTypes(set: ManifestSet): Promise<ManifestFinding[]> {
  const findings: ManifestFinding[] = [];
  const customKinds = customKindsOf(set);
  for (const doc of set.documents) {
    if (isBuildInput(doc)) continue;
    const notApi = NOT_API_OBJECTS[`${doc.group}/${doc.kind}`];
    if (notApi) {
      findings.push(findingAt(doc, ['kind'], 'warning', 'not-an-api-object', `${doc.apiVersion} ${doc.kind} is not an API object: ${notApi}. \`kubectl apply\` on this file fails; keep it out of the applied set`));
      continue;
    }
    const notice = apiVersionNotice(doc.apiVersion, doc.kind);
    if (notice?.status === 'removed') {
      findings.push(findingAt(doc, ['apiVersion'], 'error', 'removed-api', `${doc.apiVersion} ${doc.kind} is no longer served (removed in ${notice.since}): ${notice.replacement}`));
      continue;
    }
    if (notice?.status === 'deprecated') {
      findings.push(findingAt(doc, ['apiVersion'], 'warning', 'deprecated-api', `${doc.apiVersion} ${doc.kind} is deprecated (${notice.since}): ${notice.replacement}`));
    }
    if (await lookupKind(doc.apiVersion, doc.kind, customKinds)) continue;
    const elsewhere = (await apiVersionsServing(doc.kind)).filter((v) => !apiVersionNotice(v, doc.kind) || apiVersionNotice(v, doc.kind)?.status === 'deprecated');
    const hint = elsewhere.length > 0
      ? `${doc.kind} is served as ${elsewhere.map((v) => `${v}`).join(' or ')}: set apiVersion: ${preferred(elsewhere)}`
      : 'no installed schema, known CRD or CustomResourceDefinition among the given manifests defines it: check the spelling, or pass the CRD\'s manifest along';
    findings.push(findingAt(doc, ['apiVersion'], 'error', 'unknown-kind', `unknown apiVersion/kind ${doc.apiVersion} ${doc.kind}; ${hint}`));
  }
  return findings;
}

/** The most stable of several apiVersions: v1 over v1beta1 over v1alpha1. */
function preferred(apiVersions: readonly string[]): string {
  const rank = (v: string): number => {
    const m = /\/?v(\d+)(alpha|beta)?(\d*)$/.exec(v);
    if (!m) return 0;
    return Number(m[1]) * 1000 + (m[2] === undefined ? 900 : m[2] === 'beta' ? 500 : 100) + Number(m[3] || 0);
  };
  return [...apiVersions].sort((a, b) => rank(b) - rank(a))[0] ?? '';
}

/** Rule `duplicate-object`: the same object defined twice; which definition wins depends on apply order. */
export function checkDuplicates(set: ManifestSet): ManifestFinding[] {
  const seen = new Map<string, ManifestDocument>();
  const findings: ManifestFinding[] = [];
  for (const doc of set.documents) {
    if (isBuildInput(doc) || doc.name === '') continue;
    const key = `${doc.group}/${doc.kind}/${doc.namespace}/${doc.name}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, doc);
      continue;
    }
    const same = JSON.stringify(first.object) === JSON.stringify(doc.object);
    const where = `${path.relative(process.cwd(), first.file) || first.file}#${first.documentIndex}`;
    findings.push(findingAt(doc, ['metadata', 'name'], same ? 'warning' : 'error', 'duplicate-object',
      `${doc.kind} ${doc.namespace ? `${doc.namespace}/` : ''}${doc.name} is also defined in ${where}${same ? ' (identically): keep one' : ' with different content: the one applied last replaces the other (e.g. its labels and annotations are removed); merge them into one definition'}`));
  }
  return findings;
}
