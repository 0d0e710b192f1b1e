import { isAbsolute } from 'node:path';
import { stringify } from 'yaml';

/**
 * The kind cluster config the harness generates (`kind create cluster --config <file>`): one
 * control plane and N workers, the ingress and Prometheus reachable from the host through port
 * mappings on the control-plane node, and the encryption-at-rest config wired into the API server.
 *
 * Field names follow kind's v1alpha4 Cluster (https://kind.sigs.k8s.io/docs/user/configuration/)
 * and kubeadm's ClusterConfiguration. The kubeadm patch is written without an apiVersion and with
 * the map form of `extraArgs` (kubeadm v1beta3): kind matches unversioned patches by kind, and
 * from Kubernetes 1.36 on, where it generates v1beta4 (extraArgs as a name/value list), it
 * translates unversioned map-style patches (kubernetes-sigs/kind#4173). A versioned v1beta3 patch
 * would silently stop applying there.
 */

/** Where the encryption config lives inside the control-plane node and the API server pod. */
export const ENCRYPTION_CONFIG_NODE_DIR = '/etc/kubernetes/encryption';
export const ENCRYPTION_CONFIG_NODE_PATH = `${ENCRYPTION_CONFIG_NODE_DIR}/encryption-config.yaml`;
/** The NodePort of the in-cluster Prometheus Service (cluster/addons/kind/prometheus.ts). */
export const PROMETHEUS_NODE_PORT = 30090;
/** The port the ingress controller listens on as a hostPort on the `ingress-ready` node. */
export const INGRESS_CONTAINER_PORT = 80;
/** The node label ingress-nginx's kind deployment selects. */
export const INGRESS_READY_LABEL = 'ingress-ready';

export interface KindConfigOptions {
  /** Cluster name; the kube context becomes `kind-<name>`. Default `hastecrm`. */
  name?: string;
  /** Worker nodes besides the control plane. Default 2. */
  workers?: number;
  /** Host port for the ingress (HTTP). Default 8080 (80 needs root on most laptops). */
  ingressHostPort?: number;
  /** Host port for Prometheus. Default 9090. */
  prometheusHostPort?: number;
  /** Host address the mapped ports listen on. Default 127.0.0.1: not exposed to the network. */
  listenAddress?: string;
  /** Absolute path of the EncryptionConfiguration on the host. */
  encryptionConfigPath: string;
  /** kindest/node image (with digest) to pin the Kubernetes version; kind's default otherwise. */
  nodeImage?: string;
}

/** The options with every default filled in. */
export type ResolvedKindConfigOptions = Required<Omit<KindConfigOptions, 'nodeImage'>> & { nodeImage: string | undefined };

/** A kind v1alpha4 Cluster as plain data (what renderKindConfig serialises). */
export interface KindClusterConfig {
  kind: 'Cluster';
  apiVersion: 'kind.x-k8s.io/v1alpha4';
  name: string;
  nodes: KindNode[];
}

export interface KindNode {
  role: 'control-plane' | 'worker';
  image?: string;
  labels?: Record<string, string>;
  kubeadmConfigPatches?: string[];
  extraMounts?: { hostPath: string; containerPath: string; readOnly?: boolean; selinuxRelabel?: boolean; propagation?: string }[];
  extraPortMappings?: { containerPort: number; hostPort: number; listenAddress?: string; protocol?: 'TCP' | 'UDP' | 'SCTP' }[];
}

/** Fills defaults and rejects what kind would reject later, with the option's name. */
export function resolveKindConfigOptions(options: KindConfigOptions): ResolvedKindConfigOptions {
  const resolved: ResolvedKindConfigOptions = {
    name: options.name ?? 'hastecrm',
    workers: options.workers ?? 2,
    ingressHostPort: options.ingressHostPort ?? 8080,
    prometheusHostPort: options.prometheusHostPort ?? 9090,
    listenAddress: options.listenAddress ?? '127.0.0.1',
    encryptionConfigPath: options.encryptionConfigPath,
    nodeImage: options.nodeImage,
  };
  const problems: string[] = [];
  // kind names become container and context names: lowercase DNS-ish labels.
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(resolved.name)) problems.push(`name: "${resolved.name}" must be lowercase letters, digits and dashes`);
  if (!Number.isInteger(resolved.workers) || resolved.workers < 0 || resolved.workers > 10) problems.push(`workers: ${resolved.workers} must be an integer from 0 to 10`);
  for (const key of ['ingressHostPort', 'prometheusHostPort'] as const) {
    const port = resolved[key];
    if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`${key}: ${port} is not a TCP port`);
  }
  if (resolved.ingressHostPort === resolved.prometheusHostPort) problems.push(`ingressHostPort and prometheusHostPort are both ${resolved.ingressHostPort}`);
  if (!isAbsolute(resolved.encryptionConfigPath)) problems.push(`encryptionConfigPath: "${resolved.encryptionConfigPath}" must be absolute (kind mounts it from the host)`);
  if (problems.length > 0) throw new Error(`invalid kind cluster options:\n  ${problems.join('\n  ')}`);
  return resolved;
}

/** The cluster config as data. */
export function buildKindConfig(options: KindConfigOptions): KindClusterConfig {
  const o = resolveKindConfigOptions(options);
  const image = o.nodeImage ? { image: o.nodeImage } : {};
  const controlPlane: KindNode = {
    role: 'control-plane',
    ...image,
    kubeadmConfigPatches: [
      // ingress-nginx's kind manifest schedules its controller on the node labelled ingress-ready.
      stringify({ kind: 'InitConfiguration', nodeRegistration: { kubeletExtraArgs: { 'node-labels': `${INGRESS_READY_LABEL}=true` } } }),
      stringify({
        kind: 'ClusterConfiguration',
        apiServer: {
          extraArgs: { 'encryption-provider-config': ENCRYPTION_CONFIG_NODE_PATH },
          // The API server is a static pod: the file must be mounted into it, not only into the node.
          extraVolumes: [{ name: 'encryption-config', hostPath: ENCRYPTION_CONFIG_NODE_DIR, mountPath: ENCRYPTION_CONFIG_NODE_DIR, readOnly: true, pathType: 'DirectoryOrCreate' }],
        },
      }),
    ],
    extraMounts: [{ hostPath: o.encryptionConfigPath, containerPath: ENCRYPTION_CONFIG_NODE_PATH, readOnly: true }],
    extraPortMappings: [
      { containerPort: INGRESS_CONTAINER_PORT, hostPort: o.ingressHostPort, listenAddress: o.listenAddress, protocol: 'TCP' },
      { containerPort: PROMETHEUS_NODE_PORT, hostPort: o.prometheusHostPort, listenAddress: o.listenAddress, protocol: 'TCP' },
    ],
  };
  const workers: KindNode[] = Array.from({ length: o.workers }, () => ({ role: 'worker', ...image }));
  return { kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4', name: o.name, nodes: [controlPlane, ...workers] };
}

/** The cluster config as the YAML file `kind create cluster --config` reads. */
export function renderKindConfig(options: KindConfigOptions): string {
  return `# Generated by the hasteCRM resilience harness (resilience cluster up); do not edit.\n${stringify(buildKindConfig(options))}`;
}
