import { ApiException, HttpMethod, type KubeConfig } from '@kubernetes/client-node';
import { ObjectClient } from '../../cluster/targets/kind/object-client.ts';
import type { KubeObject } from '../../cluster/targets/kind/objects.ts';

/** The API version of every Litmus custom resource the harness touches. */
export const LITMUS_API_VERSION = 'litmuschaos.io/v1alpha1';

/**
 * ObjectClient plus the two requests the Litmus runner needs that server-side apply does not
 * cover: a JSON merge patch (`engineState: stop` must change one field of an engine the operator
 * also writes to, without taking ownership of the rest) and a namespaced pod list by label.
 */
export class LitmusClient extends ObjectClient {
  static override fromKubeConfig(kubeConfig: KubeConfig): LitmusClient {
    const client = kubeConfig.makeApiClient(LitmusClient);
    client.setDefaultNamespace(kubeConfig);
    return client;
  }

  /** Merge-patches one object; `gone` when it does not exist (404). */
  async mergePatch(ref: { apiVersion: string; kind: string; namespace: string; name: string }, body: unknown): Promise<KubeObject | 'gone'> {
    const path = await this.specUriPath({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } }, 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', 'application/merge-patch+json');
    ctx.setBody(JSON.stringify(body));
    try {
      return (await this.requestPromise(ctx, 'KubernetesObject')) as unknown as KubeObject;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return 'gone';
      throw error;
    }
  }

  /** The pods of one namespace matching an equality label selector ("app=hastecrm-api"). */
  async listPods(namespace: string, labelSelector: string): Promise<KubeObject[]> {
    const path = await this.collectionPath('v1', 'Pod', namespace);
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setQueryParam('labelSelector', labelSelector);
    const list = (await this.requestPromise(ctx, 'KubernetesObject')) as unknown as { items?: KubeObject[] };
    return (list.items ?? []).map((item) => ({ ...item, apiVersion: 'v1', kind: 'Pod' }));
  }
}
