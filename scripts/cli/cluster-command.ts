import path from 'node:path';
import { Command } from 'commander';
import { clusterDown, clusterStatus, clusterUp, formatClusterStatus } from '../../cluster/targets/kind/kind-cluster.ts';
import { selectAddons } from '../../cluster/addons/kind/addons.ts';
import { ConfigError } from '../config/errors.ts';
import { loadConfig } from '../config/load.ts';

/** Positive integer flag, or a ConfigError naming the flag (exit 2). */
function intFlag(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(flag, [{ path: flag, given: JSON.stringify(value), expected: 'a positive whole number' }]);
  return n;
}

/** `resilience cluster up|down|status`: the kind cluster that kind-target runs use. */
export function clusterCommand(configFlag: { config: string }): Command {
  const cluster = new Command('cluster').description('create, delete or inspect the kind cluster that kind-target runs use');
  cluster
    .command('up')
    .description('create a kind cluster from a generated config (1 control plane + workers, port mappings, encryption at rest)')
    .option('--name <name>', 'kind cluster name; the kube context is kind-<name>', 'hastecrm')
    .option('--workers <n>', 'worker nodes', '2')
    .option('--ingress-port <port>', 'host port of the ingress (127.0.0.1)', '8080')
    .option('--prometheus-port <port>', 'host port of Prometheus (127.0.0.1)', '9090')
    .option('--encryption-config <file>', 'EncryptionConfiguration to use (default: generated with a random key)')
    .option('--node-image <image>', 'kindest/node image (pins the Kubernetes version)')
    .option('--addons <list>', 'optional addons, comma-separated: istio,flagger,argo-rollouts,gatekeeper', '')
    .option('--reuse', 'keep using an existing cluster of that name')
    .option('--state-dir <dir>', 'where the generated kind and encryption configs are written')
    .option('-c, --config <file>', 'config file', configFlag.config)
    .action(
      async (flags: { name: string; workers: string; ingressPort: string; prometheusPort: string; encryptionConfig?: string; nodeImage?: string; addons: string; reuse?: boolean; stateDir?: string; config: string }) => {
        // Validates the addon names before anything starts (unknown → an error naming it).
        selectAddons(flags.addons.split(',').filter(Boolean));
        const stateDir = flags.stateDir ? path.resolve(flags.stateDir) : (await loadConfig(flags.config)).stateDir;
        const result = await clusterUp({
          name: flags.name,
          workers: intFlag('--workers', flags.workers),
          ingressHostPort: intFlag('--ingress-port', flags.ingressPort),
          prometheusHostPort: intFlag('--prometheus-port', flags.prometheusPort),
          ...(flags.encryptionConfig ? { encryptionConfigPath: path.resolve(flags.encryptionConfig) } : {}),
          ...(flags.nodeImage ? { nodeImage: flags.nodeImage } : {}),
          ...(flags.reuse ? { reuse: true } : {}),
          stateDir,
          onOutput: (line) => console.log(line),
        });
        console.log(`${result.created ? 'created' : 'reusing'} kind cluster ${result.name}; kube context ${result.context}`);
      },
    );
  cluster
    .command('down')
    .description('delete the kind cluster (a no-op when it does not exist)')
    .option('--name <name>', 'kind cluster name', 'hastecrm')
    .action(async (flags: { name: string }) => {
      const { name, deleted } = await clusterDown({ name: flags.name, onOutput: (line) => console.log(line) });
      console.log(deleted ? `deleted kind cluster ${name}` : `no kind cluster named ${name}`);
    });
  cluster
    .command('status')
    .description('show whether the kind cluster exists and which kube context is current')
    .option('--name <name>', 'kind cluster name', 'hastecrm')
    .action(async (flags: { name: string }) => {
      console.log(formatClusterStatus(await clusterStatus({ name: flags.name })));
    });
  return cluster;
}
