import type { KubeObject } from '../../targets/kind/objects.ts';
import type { ObjectRef } from '../../targets/kind/apply-order.ts';
import { renderPrometheusAddon } from './prometheus.ts';

/**
 * What a kind cluster needs besides hasteCRM, as data: where each addon comes from (a pinned
 * release manifest, a pinned Helm chart, or objects rendered here), what must be ready before
 * the app is applied, and which custom resource kinds it serves (so the support matrix and
 * `validate` can say "needs addon X"). Nothing is fetched by this module; `cluster up` downloads
 * the pinned manifests (on a machine with network access) and applies them with applyManifests.
 *
 * Versions are pinned for reproducible nightly runs; bump them here, in one place.
 */

export type AddonSource =
  /** Release manifests applied as they are (after download), then `patches`. */
  | { type: 'manifests'; urls: string[] }
  /** A Helm chart, installed with `helm upgrade --install` (Helm must be on PATH). */
  | { type: 'helm'; repo: string; chart: string; version: string; release: string; values: Record<string, unknown> }
  /** Objects rendered by the harness itself. */
  | { type: 'rendered'; render: () => KubeObject[] };

/** A JSON patch (RFC 6902) applied to one object of the addon after it is installed. */
export interface AddonPatch {
  target: ObjectRef;
  patch: { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown }[];
  why: string;
}

export interface Addon {
  name: string;
  /** Required addons are installed by every `cluster up`; optional ones on request (`--addons`). */
  required: boolean;
  /** Why hasteCRM's run needs it. */
  purpose: string;
  version: string;
  source: AddonSource;
  /** The namespace it installs into. */
  namespace: string;
  /** Workloads awaited (watched) before the app is applied. */
  readiness: ObjectRef[];
  patches?: AddonPatch[];
  /** `group/Kind` of custom resources it serves, e.g. `flagger.app/Canary`. */
  serves: string[];
}

const deployment = (namespace: string, name: string): ObjectRef => ({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name });

export const ADDONS: readonly Addon[] = [
  {
    name: 'ingress-nginx',
    required: true,
    purpose: "the Ingress controller behind the kind config's ingress port mapping (hostPort 80 on the ingress-ready node)",
    version: 'controller-v1.11.2',
    source: { type: 'manifests', urls: ['https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.11.2/deploy/static/provider/kind/deploy.yaml'] },
    namespace: 'ingress-nginx',
    readiness: [deployment('ingress-nginx', 'ingress-nginx-controller')],
    serves: [],
  },
  {
    name: 'prometheus',
    required: true,
    purpose: "scrapes hasteCRM (job hastecrm-api), cAdvisor and kubelets with the seed's alert rules loaded; the SLOs and the canary replay query it",
    version: 'v2.53.2',
    source: { type: 'rendered', render: () => renderPrometheusAddon() },
    namespace: 'monitoring',
    readiness: [deployment('monitoring', 'prometheus')],
    serves: [],
  },
  {
    name: 'metrics-server',
    required: true,
    purpose: 'resource metrics for the HorizontalPodAutoscalers (and `kubectl top` while debugging a run)',
    version: 'v0.7.2',
    source: { type: 'manifests', urls: ['https://github.com/kubernetes-sigs/metrics-server/releases/download/v0.7.2/components.yaml'] },
    namespace: 'kube-system',
    readiness: [deployment('kube-system', 'metrics-server')],
    patches: [
      {
        target: deployment('kube-system', 'metrics-server'),
        patch: [{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--kubelet-insecure-tls' }],
        why: "kind's kubelets serve self-signed certificates; without this metrics-server never becomes ready",
      },
    ],
    serves: ['metrics.k8s.io/PodMetrics', 'metrics.k8s.io/NodeMetrics'],
  },
  {
    name: 'litmus',
    required: true,
    purpose: "runs the chaos experiments (the seed's ChaosEngine and the suites' pod-delete …)",
    version: '3.0.0',
    source: {
      type: 'manifests',
      urls: [
        'https://litmuschaos.github.io/litmus/litmus-operator-v3.0.0.yaml',
        // The experiments the harness uses, from the Litmus ChaosHub of the same version.
        ...['pod-delete', 'container-kill', 'pod-cpu-hog', 'pod-memory-hog', 'pod-network-latency', 'pod-network-loss'].map((fault) => `https://hub.litmuschaos.io/api/chaos/3.0.0?file=faults/kubernetes/${fault}/fault.yaml`),
      ],
    },
    namespace: 'litmus',
    readiness: [deployment('litmus', 'chaos-operator-ce')],
    serves: ['litmuschaos.io/ChaosEngine', 'litmuschaos.io/ChaosExperiment', 'litmuschaos.io/ChaosResult'],
  },
  {
    name: 'k6-operator',
    required: true,
    purpose: 'distributed load in the cluster (TestRun with parallelism) when one machine cannot generate enough',
    version: 'v0.0.14',
    source: { type: 'manifests', urls: ['https://github.com/grafana/k6-operator/releases/download/v0.0.14/bundle.yaml'] },
    namespace: 'k6-operator-system',
    readiness: [deployment('k6-operator-system', 'k6-operator-controller-manager')],
    serves: ['k6.io/TestRun', 'k6.io/K6', 'k6.io/PrivateLoadZone'],
  },
  {
    name: 'istio',
    required: false,
    purpose: "the seed's Gateway and VirtualService (timeout, retries, perTryTimeout) and Flagger's traffic shifting",
    version: '1.23.2',
    source: { type: 'helm', repo: 'https://istio-release.storage.googleapis.com/charts', chart: 'istiod', version: '1.23.2', release: 'istiod', values: { pilot: { resources: { requests: { cpu: '100m', memory: '256Mi' } } } } },
    namespace: 'istio-system',
    readiness: [deployment('istio-system', 'istiod')],
    serves: ['networking.istio.io/Gateway', 'networking.istio.io/VirtualService', 'networking.istio.io/DestinationRule', 'security.istio.io/PeerAuthentication'],
  },
  {
    name: 'flagger',
    required: false,
    purpose: "runs the seed's Canary for real (the harness replays its analysis either way)",
    version: '1.38.0',
    source: { type: 'helm', repo: 'https://flagger.app', chart: 'flagger', version: '1.38.0', release: 'flagger', values: { meshProvider: 'istio', metricsServer: 'http://prometheus.monitoring:9090' } },
    namespace: 'istio-system',
    readiness: [deployment('istio-system', 'flagger')],
    serves: ['flagger.app/Canary', 'flagger.app/MetricTemplate', 'flagger.app/AlertProvider'],
  },
  {
    name: 'argo-rollouts',
    required: false,
    purpose: "runs the seed's blue-green Rollout and its AnalysisTemplate",
    version: 'v1.7.2',
    source: { type: 'manifests', urls: ['https://github.com/argoproj/argo-rollouts/releases/download/v1.7.2/install.yaml'] },
    namespace: 'argo-rollouts',
    readiness: [deployment('argo-rollouts', 'argo-rollouts')],
    serves: ['argoproj.io/Rollout', 'argoproj.io/AnalysisTemplate', 'argoproj.io/AnalysisRun', 'argoproj.io/Experiment'],
  },
  {
    name: 'gatekeeper',
    required: false,
    purpose: "enforces the seed's ConstraintTemplate (K8sRequiredSecurityContext) and its Constraint",
    version: 'v3.17.1',
    source: { type: 'manifests', urls: ['https://raw.githubusercontent.com/open-policy-agent/gatekeeper/v3.17.1/deploy/gatekeeper.yaml'] },
    namespace: 'gatekeeper-system',
    readiness: [deployment('gatekeeper-system', 'gatekeeper-controller-manager'), deployment('gatekeeper-system', 'gatekeeper-audit')],
    serves: ['templates.gatekeeper.sh/ConstraintTemplate', 'constraints.gatekeeper.sh/*'],
  },
];

export type AddonName = (typeof ADDONS)[number]['name'];

/** The addon by name, or undefined. */
export function findAddon(name: string): Addon | undefined {
  return ADDONS.find((a) => a.name === name);
}

/** The addons a `cluster up` installs: every required one plus the optional ones asked for, in ADDONS order. */
export function selectAddons(optional: readonly string[] = []): Addon[] {
  const unknown = optional.filter((name) => !ADDONS.some((a) => a.name === name && !a.required));
  if (unknown.length > 0) throw new Error(`unknown optional addon(s): ${unknown.join(', ')}; optional addons are ${ADDONS.filter((a) => !a.required).map((a) => a.name).join(', ')}`);
  return ADDONS.filter((a) => a.required || optional.includes(a.name));
}

/** The addon that serves a custom resource kind (e.g. Canary → flagger), or undefined for built-ins and unknown kinds. */
export function addonServing(apiVersion: string, kind: string): Addon | undefined {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return ADDONS.find((a) => a.serves.includes(`${group}/${kind}`) || a.serves.includes(`${group}/*`));
}
