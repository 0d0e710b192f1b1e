import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { KubeObject } from '../../targets/kind/objects.ts';
import { PROMETHEUS_NODE_PORT } from '../../targets/kind/kind-config.ts';

/**
 * Prometheus for the kind cluster, rendered here rather than taken from a chart: the harness
 * needs exactly one thing from it — the seed's alert rules loaded and the series those rules and
 * the SLOs query (`http_requests_total` under job `hastecrm-api`, cAdvisor's container memory,
 * kubelet volume stats) scraped — and a chart's operator, CRDs and defaults would be more to
 * install, wait for and keep working than this Deployment.
 *
 * Reached from the host through a NodePort mapped by the kind config (PROMETHEUS_NODE_PORT).
 * Runs under the `restricted` Pod Security Standard like the workloads it watches.
 */

/** The seed's corrected alert rules, shared with the local target. */
export const ALERT_RULES_FILE = fileURLToPath(new URL('../prometheus/hastecrm-alerts.yaml', import.meta.url));

export interface PrometheusAddonOptions {
  /** Namespace Prometheus runs in. Default `monitoring`. */
  namespace?: string;
  /** Namespaces where hasteCRM's API pods run. Default `hastecrm-production` (the seed's). */
  appNamespaces?: string[];
  /** Image; pinned so a run is reproducible. */
  image?: string;
  scrapeInterval?: string;
  /** Rule files' contents by file name; default: the seed's alert rules. */
  ruleFiles?: Record<string, string>;
}

export const DEFAULT_PROMETHEUS_IMAGE = 'quay.io/prometheus/prometheus:v2.53.2';
/** The port the reference API serves its traffic and /metrics on. */
export const API_METRICS_PORT = 4000;

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** prometheus.yml for the cluster; rule files are read from `rules/` beside it. */
export function renderPrometheusConfig(options: { appNamespaces: string[]; scrapeInterval: string }): string {
  const kubeletAuth = {
    scheme: 'https',
    // kind's kubelets serve self-signed certificates; the token still authenticates us.
    tls_config: { ca_file: `${SA_DIR}/ca.crt`, insecure_skip_verify: true },
    authorization: { credentials_file: `${SA_DIR}/token` },
    kubernetes_sd_configs: [{ role: 'node' }],
  };
  return stringify({
    global: { scrape_interval: options.scrapeInterval, evaluation_interval: options.scrapeInterval },
    rule_files: ['rules/*.yaml'],
    scrape_configs: [
      {
        // The job name the seed's rules and the harness's SLOs select on.
        job_name: 'hastecrm-api',
        kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: options.appNamespaces } }],
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_pod_label_app'], regex: 'hastecrm-api', action: 'keep' },
          { source_labels: ['__meta_kubernetes_pod_container_port_number'], regex: String(API_METRICS_PORT), action: 'keep' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        ],
      },
      {
        // Anything else that opts in with the usual annotation (workers, web, exporters).
        job_name: 'kubernetes-pods',
        kubernetes_sd_configs: [{ role: 'pod' }],
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], regex: 'true', action: 'keep' },
          { source_labels: ['__meta_kubernetes_pod_label_app'], regex: 'hastecrm-api', action: 'drop' },
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_path'], regex: '(.+)', target_label: '__metrics_path__' },
          { source_labels: ['__meta_kubernetes_pod_label_app'], target_label: 'job' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        ],
      },
      // PodMemoryUsageHigh needs cAdvisor's container_memory_working_set_bytes and limits.
      { job_name: 'kubernetes-cadvisor', metrics_path: '/metrics/cadvisor', ...kubeletAuth },
      // PersistentVolumeSpaceLow needs kubelet_volume_stats_*.
      { job_name: 'kubelet', metrics_path: '/metrics', ...kubeletAuth },
    ],
    // The two kubelet jobs share settings; written out twice, not as YAML aliases, which
    // Prometheus's YAML parser does not resolve inside scrape configs (promtool rejects them).
  }, { aliasDuplicateObjects: false });
}

/** Every object of the addon, ready for applyManifests. */
export function renderPrometheusAddon(options: PrometheusAddonOptions = {}): KubeObject[] {
  const namespace = options.namespace ?? 'monitoring';
  const appNamespaces = options.appNamespaces ?? ['hastecrm-production'];
  const ruleFiles = options.ruleFiles ?? { 'hastecrm-alerts.yaml': readFileSync(ALERT_RULES_FILE, 'utf8') };
  const labels = { app: 'prometheus' };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'prometheus', namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'hastecrm-prometheus' },
      rules: [
        { apiGroups: [''], resources: ['nodes', 'nodes/metrics', 'services', 'endpoints', 'pods'], verbs: ['get', 'list', 'watch'] },
        { nonResourceURLs: ['/metrics', '/metrics/cadvisor'], verbs: ['get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'hastecrm-prometheus' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'hastecrm-prometheus' },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'prometheus-config', namespace }, data: { 'prometheus.yml': renderPrometheusConfig({ appNamespaces, scrapeInterval: options.scrapeInterval ?? '5s' }) } },
    // The seed's `prometheus-alerts` ConfigMap (section 10a), mounted as Prometheus's rules folder.
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'prometheus-alerts', namespace }, data: ruleFiles },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'prometheus', namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'prometheus',
            securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'prometheus',
                image: options.image ?? DEFAULT_PROMETHEUS_IMAGE,
                args: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=6h', '--web.enable-lifecycle'],
                ports: [{ name: 'web', containerPort: 9090 }],
                readinessProbe: { httpGet: { path: '/-/ready', port: 'web' }, periodSeconds: 2 },
                resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/prometheus/prometheus.yml', subPath: 'prometheus.yml' },
                  { name: 'rules', mountPath: '/etc/prometheus/rules' },
                  { name: 'data', mountPath: '/prometheus' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: 'prometheus-config' } },
              { name: 'rules', configMap: { name: 'prometheus-alerts' } },
              { name: 'data', emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'prometheus', namespace, labels },
      spec: { type: 'NodePort', selector: labels, ports: [{ name: 'web', port: 9090, targetPort: 'web', nodePort: PROMETHEUS_NODE_PORT }] },
    },
  ];
}
