import { ApiException, HttpMethod, KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject, type RequestContext } from '@kubernetes/client-node';
import { describeObject, type KubeObject } from './objects.ts';
import type { ObjectRef } from './apply-order.ts';

/**
 * @kubernetes/client-node's KubernetesObjectApi, sending and receiving manifests byte for byte.
 *
 * Why not `KubernetesObjectApi.patch` as is: it re-serialises the body through the client's typed
 * models (V1Deployment, V1CustomResourceDefinition …), which drops every field the model does not
 * know and every key whose JSON name differs from the model's property name. Checked with 1.4.0:
 * a CRD's `x-kubernetes-preserve-unknown-fields: true` disappears from the request, so an applied
 * CRD would prune fields the operator needs. This class sends the same server-side-apply request
 * (same URL from the client's own discovery, same auth, same middleware, PATCH with
 * `application/apply-patch+yaml`, fieldManager, force) with the manifest as JSON, and reads
 * responses untyped.
 */
export class ObjectClient extends KubernetesObjectApi {
  /** Like KubernetesObjectApi.makeApiClient: the context's default namespace applies. */
  static fromKubeConfig(kubeConfig: KubeConfig): ObjectClient {
    const client = kubeConfig.makeApiClient(ObjectClient);
    client.setDefaultNamespace(kubeConfig);
    return client;
  }

  /** Server-side apply of one object; returns the object as the server stored it. */
  async serverSideApply(object: KubeObject, options: { fieldManager: string; force: boolean }): Promise<KubeObject> {
    const spec = structuredClone(object) as KubernetesObject;
    const path = await this.specUriPath(spec, 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    ctx.setQueryParam('fieldManager', options.fieldManager);
    ctx.setQueryParam('force', String(options.force));
    // JSON is YAML: the apply-patch+yaml content type accepts it.
    ctx.setBody(JSON.stringify(spec));
    return this.send(ctx);
  }

  /** The object, or undefined when the server says 404. */
  async getObject(ref: ObjectRef): Promise<KubeObject | undefined> {
    const path = await this.specUriPath(headerOf(ref), 'read');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    try {
      return await this.send(ctx);
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  /** Every object of a kind, in all namespaces, matching a label selector. */
  async listByLabel(apiVersion: string, kind: string, labelSelector: string): Promise<KubeObject[]> {
    const path = await this.collectionPath(apiVersion, kind);
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setQueryParam('labelSelector', labelSelector);
    const list = (await this.send(ctx)) as unknown as { items?: KubeObject[] };
    // List items carry no apiVersion/kind of their own.
    return (list.items ?? []).map((item) => ({ ...item, apiVersion, kind }));
  }

  /** Deletes one object; `gone` when it no longer existed (deleting twice is safe). */
  async deleteObject(ref: ObjectRef, propagationPolicy: 'Background' | 'Foreground' = 'Background'): Promise<'deleted' | 'gone'> {
    try {
      await this.delete(headerOf(ref), undefined, undefined, undefined, undefined, propagationPolicy);
      return 'deleted';
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return 'gone';
      throw error;
    }
  }

  /** The collection URL path of a kind (namespaced or all namespaces), from discovery. */
  async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    return this.specUriPath({ apiVersion, kind, metadata: namespace === undefined ? {} : { namespace } }, 'list');
  }

  /** Whether the kind is namespaced, from discovery; undefined when the server does not serve it. */
  async isNamespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    return (await this.resource(apiVersion, kind))?.namespaced;
  }

  /** The preferred version of every API group the server serves (`apps/v1`, …), from `/apis`. */
  async listGroupVersions(): Promise<string[]> {
    const ctx = this.configuration.baseServer.makeRequestContext('/apis', HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    const list = (await this.send(ctx)) as unknown as { groups?: { preferredVersion?: { groupVersion?: string } }[] };
    return (list.groups ?? []).flatMap((g) => (g.preferredVersion?.groupVersion ? [g.preferredVersion.groupVersion] : []));
  }

  /** The resources of one group version (`/api/v1`, `/apis/apps/v1`). */
  async listResources(apiVersion: string): Promise<{ name: string; kind: string; namespaced: boolean; verbs: string[] }[]> {
    const ctx = this.configuration.baseServer.makeRequestContext(this.apiVersionPath(apiVersion), HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    const list = (await this.send(ctx)) as unknown as { resources?: { name: string; kind: string; namespaced: boolean; verbs?: string[] }[] };
    return (list.resources ?? []).map((r) => ({ ...r, verbs: r.verbs ?? [] }));
  }

  /** The namespace objects of a namespaced kind land in when their manifest names none. */
  get contextNamespace(): string {
    return this.defaultNamespace;
  }

  private async send(ctx: RequestContext): Promise<KubeObject> {
    // 'KubernetesObject' makes the client's deserializer return the JSON as parsed, not a model.
    return (await this.requestPromise(ctx, 'KubernetesObject')) as unknown as KubeObject;
  }
}

function headerOf(ref: ObjectRef): KubernetesObject & { metadata: { name: string } } {
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: ref.namespace === undefined ? { name: ref.name } : { name: ref.name, namespace: ref.namespace } };
}

/** A short description of an API error for messages: status code and the server's message. */
export function describeApiError(error: unknown, object?: Pick<KubeObject, 'kind' | 'metadata'>): string {
  const prefix = object ? `${describeObject(object)}: ` : '';
  if (error instanceof ApiException) {
    const body = error.body as { message?: string } | string | undefined;
    const message = typeof body === 'string' ? body : body?.message;
    return `${prefix}HTTP ${error.code}${message ? `: ${message}` : ''}`;
  }
  return `${prefix}${error instanceof Error ? error.message : String(error)}`;
}
