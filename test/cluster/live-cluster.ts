import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import { isKindContext } from '../../cluster/targets/kind/context-safety.ts';

/**
 * Whether the cluster tests can run: KUBECONFIG set, its current context a kind-* one (the tests
 * create and delete objects and pods), and the API server answering a real request (/version).
 * Otherwise the reason, which the test files print before skipping.
 */
export type LiveCluster = { ok: true; kubeConfig: KubeConfig; context: string; version: string } | { ok: false; reason: string };

export async function findLiveCluster(env: NodeJS.ProcessEnv = process.env): Promise<LiveCluster> {
  if (!env.KUBECONFIG) return { ok: false, reason: 'KUBECONFIG is not set (create a cluster with `resilience cluster up` and export KUBECONFIG)' };
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(env.KUBECONFIG);
  } catch (error) {
    return { ok: false, reason: `KUBECONFIG=${env.KUBECONFIG} cannot be read: ${error instanceof Error ? error.message : String(error)}` };
  }
  const context = kubeConfig.getCurrentContext();
  if (!isKindContext(context)) return { ok: false, reason: `the current context "${context}" is not a kind-* context; the cluster tests only run against kind clusters` };
  try {
    const version = await Promise.race([
      kubeConfig.makeApiClient(VersionApi).getCode(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5_000).unref()),
    ]);
    return { ok: true, kubeConfig, context, version: version.gitVersion };
  } catch (error) {
    return { ok: false, reason: `the API server of context ${context} is not reachable: ${error instanceof Error ? error.message : String(error)}` };
  }
}
