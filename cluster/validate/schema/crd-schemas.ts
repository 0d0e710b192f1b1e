import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * The hand-written schemas of ../crd-schemas/ (subsets of upstream CRDs; the README there says
 * where each came from) and the apiVersion/kind pairs they validate. `supplement` schemas run in
 * addition to an installed @kubernetes-models schema (stricter about a few fields); the others are
 * the only schema of their kind.
 */
export interface HandWrittenSchema {
  file: string;
  apiVersions: readonly string[];
  /** A kind, or a test for generated kinds (KubeFed's Federated<Kind>). */
  kind: string | ((kind: string) => boolean);
  supplement?: boolean;
}

export const HAND_WRITTEN_SCHEMAS: readonly HandWrittenSchema[] = [
  { file: 'flagger-canary.v1beta1.json', apiVersions: ['flagger.app/v1beta1'], kind: 'Canary' },
  { file: 'litmus-chaosengine.v1alpha1.json', apiVersions: ['litmuschaos.io/v1alpha1'], kind: 'ChaosEngine' },
  { file: 'gatekeeper-constrainttemplate.v1.json', apiVersions: ['templates.gatekeeper.sh/v1', 'templates.gatekeeper.sh/v1beta1', 'templates.gatekeeper.sh/v1alpha1'], kind: 'ConstraintTemplate' },
  { file: 'velero-backupstoragelocation.v1.json', apiVersions: ['velero.io/v1'], kind: 'BackupStorageLocation' },
  { file: 'velero-schedule.v1.json', apiVersions: ['velero.io/v1'], kind: 'Schedule' },
  { file: 'vpa-verticalpodautoscaler.v1.json', apiVersions: ['autoscaling.k8s.io/v1', 'autoscaling.k8s.io/v1beta2'], kind: 'VerticalPodAutoscaler' },
  { file: 'kubefed-federated.v1beta1.json', apiVersions: ['types.kubefed.io/v1beta1'], kind: (kind) => /^Federated[A-Z]/.test(kind) },
  { file: 'encryption-configuration.v1.json', apiVersions: ['apiserver.config.k8s.io/v1'], kind: 'EncryptionConfiguration' },
  { file: 'istio-virtualservice-routes.json', apiVersions: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'], kind: 'VirtualService', supplement: true },
];

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const compiled = new Map<string, ValidateFunction>();

/** The compiled validator of a hand-written schema (compiled once). */
export function handWrittenValidator(file: string): (object: unknown) => ErrorObject[] {
  let validate = compiled.get(file);
  if (!validate) {
    const schema = JSON.parse(readFileSync(new URL(`../crd-schemas/${file}`, import.meta.url), 'utf8')) as object;
    validate = ajv.compile(schema);
    compiled.set(file, validate);
  }
  const fn = validate;
  return (object) => (fn(object) ? [] : [...(fn.errors ?? [])]);
}

export function handWrittenSchemasFor(apiVersion: string, kind: string): HandWrittenSchema[] {
  return HAND_WRITTEN_SCHEMAS.filter((s) => s.apiVersions.includes(apiVersion) && (typeof s.kind === 'string' ? s.kind === kind : s.kind(kind)));
}
