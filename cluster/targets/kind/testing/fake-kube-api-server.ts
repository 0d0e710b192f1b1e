import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * FakeKubeApiServer (test double) — a small, real HTTP server speaking the part of the Kubernetes
 * API that the kind target uses: discovery (/api, /apis, group versions), server-side-apply PATCH,
 * GET, list with label selectors, DELETE, and watch streams (with `metadata.name` field selectors).
 *
 * Why a double: no cluster can run here (kind needs images from a registry that is unreachable),
 * and the behaviours under test are request sequences (CRDs before their custom resources, waits
 * done by watching), labels and field managers, and deadlines — all visible on the wire. The
 * double is honest where it matters: a custom resource's group version is only served once its
 * CRD is Established (as on a real API server, 404 before), and status changes reach watchers as
 * MODIFIED events. Controllers are simulated by the test through `onApply` and `setStatus`.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: unknown;
}

interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

interface Watcher {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  res: ServerResponse;
}

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; generation?: number; uid?: string; [k: string]: unknown }; status?: Record<string, unknown>; [k: string]: unknown };

const BUILT_IN: ResourceType[] = [
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { group: '', version: 'v1', kind: 'LimitRange', plural: 'limitranges', namespaced: true },
  // Pods: KindPodControl lists, watches and deletes them; the test plays the ReplicaSet controller.
  { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { group: '', version: 'v1', kind: 'ResourceQuota', plural: 'resourcequotas', namespaced: true },
  { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { group: 'apps', version: 'v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
  { group: 'apps', version: 'v1', kind: 'DaemonSet', plural: 'daemonsets', namespaced: true },
  { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role', plural: 'roles', namespaced: true },
  { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true },
  { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole', plural: 'clusterroles', namespaced: false },
  { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRoleBinding', plural: 'clusterrolebindings', namespaced: false },
  { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', namespaced: false },
  { group: 'policy', version: 'v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  { group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', namespaced: true },
];

export class FakeKubeApiServer {
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Called after each server-side apply; simulate controllers here (e.g. setStatus later). */
  onApply: (object: Obj, server: FakeKubeApiServer) => void = () => undefined;
  /** Called when a watch opens, after its initial ADDED events were sent. */
  onWatch: (watch: { kind: string; namespace: string | undefined; name: string | undefined }, server: FakeKubeApiServer) => void = () => undefined;
  /** Called after each merge patch with the patched object (e.g. an operator reacting to `engineState: stop`). */
  onMergePatch: (object: Obj, server: FakeKubeApiServer) => void = () => undefined;
  /**
   * Answers a request with an error instead of serving it (e.g. a 409 or a 500 from the API
   * server), when it returns one. The request is still recorded.
   */
  failRequest: (request: RecordedRequest) => { code: number; message: string } | undefined = () => undefined;
  /** Called after an object was deleted (watchers already got DELETED); simulate a ReplicaSet recreating a pod here. */
  onDelete: (object: Obj, server: FakeKubeApiServer) => void = () => undefined;

  private readonly server: Server;
  private readonly objects = new Map<string, Obj>();
  private readonly watchers = new Set<Watcher>();
  private nextUid = 1;
  private resourceVersion = 1;

  private constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => this.send(res, 500, status(500, String(error))));
    });
  }

  static async start(): Promise<FakeKubeApiServer> {
    const fake = new FakeKubeApiServer();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A KubeConfig pointing at this server, with the given current context name. */
  kubeConfig(contextName = 'kind-fake'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake-user', token: 'fake-token' }],
      contexts: [{ name: contextName, cluster: 'fake', user: 'fake-user', namespace: 'default' }],
      currentContext: contextName,
    });
    return kc;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Put an object in the store as if someone else had created it (no request is recorded). */
  seed(object: Obj): void {
    const type = this.typeOfObject(object);
    if (!type) throw new Error(`FakeKubeApiServer: ${object.apiVersion} ${object.kind} is not served`);
    this.store(type, { ...object, metadata: { ...object.metadata, uid: `uid-${this.nextUid++}`, generation: 1 } }, 'ADDED');
  }

  /** The stored object, or undefined. */
  get(apiVersion: string, kind: string, name: string, namespace?: string): Obj | undefined {
    const type = this.typeOf(apiVersion, kind);
    return type ? this.objects.get(key(type, namespace, name)) : undefined;
  }

  /** Replace an object's status, as its controller would; watchers get a MODIFIED event. */
  setStatus(apiVersion: string, kind: string, name: string, namespace: string | undefined, statusValue: Record<string, unknown>): void {
    const type = this.typeOf(apiVersion, kind);
    const current = type ? this.objects.get(key(type, namespace, name)) : undefined;
    if (!type || !current) throw new Error(`FakeKubeApiServer: no ${kind} ${namespace ?? ''}/${name} to set status on`);
    this.store(type, { ...current, status: statusValue }, 'MODIFIED');
  }

  /** Requests as `METHOD path` lines (with the watch's field selector), for sequence assertions. */
  log(): string[] {
    return this.requests.map((r) => `${r.method}${r.query.watch === 'true' ? ' WATCH' : ''} ${r.path}${r.query.fieldSelector ? ` ${r.query.fieldSelector}` : ''}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const raw = await readBody(req);
    const contentType = req.headers['content-type'];
    const body: unknown = raw === '' ? undefined : JSON.parse(raw);
    const query = Object.fromEntries(url.searchParams.entries());
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query, contentType, body };
    this.requests.push(recorded);
    const failure = this.failRequest(recorded);
    if (failure) return this.send(res, failure.code, status(failure.code, failure.message));

    const segments = url.pathname.split('/').filter((s) => s !== '');
    if (req.method === 'GET' && url.pathname === '/api') return this.send(res, 200, { kind: 'APIVersions', versions: ['v1'] });
    if (req.method === 'GET' && url.pathname === '/apis') return this.send(res, 200, this.groupList());

    const [prefix] = segments;
    const group = prefix === 'api' ? '' : prefix === 'apis' ? segments[1] : undefined;
    const version = prefix === 'api' ? segments[1] : segments[2];
    if (group === undefined || version === undefined) return this.send(res, 404, status(404, 'not found'));
    let rest = segments.slice(prefix === 'api' ? 2 : 3);
    if (rest.length === 0) {
      const resources = this.served().filter((t) => t.group === group && t.version === version);
      if (resources.length === 0) return this.send(res, 404, status(404, `the server could not find the requested resource (${group}/${version})`));
      return this.send(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources: resources.map((t) => ({ name: t.plural, singularName: t.kind.toLowerCase(), namespaced: t.namespaced, kind: t.kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'] })) });
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name] = rest;
    const type = this.served().find((t) => t.group === group && t.version === version && t.plural === plural);
    if (!type) return this.send(res, 404, status(404, `the server could not find the requested resource (${plural ?? ''})`));

    if (name === undefined) {
      if (req.method !== 'GET') return this.send(res, 405, status(405, 'method not allowed'));
      const fieldName = /^metadata\.name=(.+)$/.exec(query.fieldSelector ?? '')?.[1];
      const matches = [...this.objects.values()].filter((o) => this.typeOfObject(o) === type && (namespace === undefined || o.metadata.namespace === namespace) && (fieldName === undefined || o.metadata.name === fieldName) && matchesLabels(o, query.labelSelector));
      if (query.watch === 'true') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        for (const o of matches) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
        const watcher: Watcher = { type, namespace, name: fieldName, res };
        this.watchers.add(watcher);
        req.on('close', () => this.watchers.delete(watcher));
        this.onWatch({ kind: type.kind, namespace, name: fieldName }, this);
        return;
      }
      return this.send(res, 200, { kind: `${type.kind}List`, apiVersion: group ? `${group}/${version}` : version, metadata: { resourceVersion: String(this.resourceVersion) }, items: matches });
    }

    const k = key(type, namespace, name);
    const existing = this.objects.get(k);
    switch (req.method) {
      case 'GET':
        return existing ? this.send(res, 200, existing) : this.send(res, 404, status(404, `${plural}.${group} "${name}" not found`));
      case 'DELETE':
        if (!existing) return this.send(res, 404, status(404, `${plural}.${group} "${name}" not found`));
        this.objects.delete(k);
        this.notify(type, 'DELETED', existing);
        this.send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', metadata: {} });
        this.onDelete(existing, this);
        return;
      case 'PATCH': {
        if (contentType === 'application/merge-patch+json') {
          // JSON merge patch (RFC 7386) of an existing object; 404 when there is none.
          if (!existing) return this.send(res, 404, status(404, `${plural}.${group} "${name}" not found`));
          const merged = mergePatch(existing, body) as Obj;
          const specChanged = JSON.stringify((existing as { spec?: unknown }).spec) !== JSON.stringify((merged as { spec?: unknown }).spec);
          const patched: Obj = { ...merged, metadata: { ...merged.metadata, generation: (existing.metadata.generation ?? 0) + (specChanged ? 1 : 0) } };
          this.store(type, patched, 'MODIFIED');
          this.send(res, 200, this.objects.get(k));
          this.onMergePatch(this.objects.get(k) ?? patched, this);
          return;
        }
        if (contentType !== 'application/apply-patch+yaml') return this.send(res, 415, status(415, `only server-side apply is implemented, got ${contentType ?? 'no content type'}`));
        if (!query.fieldManager) return this.send(res, 422, status(422, 'fieldManager is required for apply requests'));
        const applied = body as Obj;
        const spec = JSON.stringify((applied as { spec?: unknown }).spec);
        const changed = !existing || JSON.stringify((existing as { spec?: unknown }).spec) !== spec;
        const stored: Obj = {
          ...(existing ?? {}),
          ...applied,
          metadata: {
            ...(existing?.metadata ?? {}),
            ...applied.metadata,
            labels: { ...(existing?.metadata.labels ?? {}), ...(applied.metadata.labels ?? {}) },
            uid: existing?.metadata.uid ?? `uid-${this.nextUid++}`,
            generation: (existing?.metadata.generation ?? 0) + (changed ? 1 : 0),
          },
          ...(existing?.status ? { status: existing.status } : {}),
        };
        this.store(type, stored, existing ? 'MODIFIED' : 'ADDED');
        this.send(res, existing ? 200 : 201, stored);
        this.onApply(stored, this);
        return;
      }
      default:
        return this.send(res, 405, status(405, 'method not allowed'));
    }
  }

  private store(type: ResourceType, object: Obj, event: 'ADDED' | 'MODIFIED'): void {
    this.resourceVersion += 1;
    const withVersion: Obj = { ...object, metadata: { ...object.metadata, resourceVersion: String(this.resourceVersion) } };
    this.objects.set(key(type, object.metadata.namespace, object.metadata.name), withVersion);
    this.notify(type, event, withVersion);
  }

  private notify(type: ResourceType, event: string, object: Obj): void {
    for (const w of this.watchers) {
      if (w.type !== type) continue;
      if (w.namespace !== undefined && w.namespace !== object.metadata.namespace) continue;
      if (w.name !== undefined && w.name !== object.metadata.name) continue;
      w.res.write(`${JSON.stringify({ type: event, object })}\n`);
    }
  }

  /** Built-ins plus the custom resources of every Established CRD. */
  private served(): ResourceType[] {
    const custom: ResourceType[] = [];
    for (const o of this.objects.values()) {
      if (o.kind !== 'CustomResourceDefinition') continue;
      const established = ((o.status?.conditions ?? []) as { type: string; status: string }[]).some((c) => c.type === 'Established' && c.status === 'True');
      if (!established) continue;
      const spec = (o as unknown as { spec: { group: string; scope: string; names: { kind: string; plural: string }; versions: { name: string; served: boolean }[] } }).spec;
      for (const v of spec.versions) if (v.served) custom.push({ group: spec.group, version: v.name, kind: spec.names.kind, plural: spec.names.plural, namespaced: spec.scope === 'Namespaced' });
    }
    // Keep identity stable for built-ins so watchers can compare types by reference.
    return [...BUILT_IN, ...custom.map((c) => this.customTypes.get(`${c.group}/${c.version}/${c.plural}`) ?? this.remember(c))];
  }

  private readonly customTypes = new Map<string, ResourceType>();
  private remember(type: ResourceType): ResourceType {
    this.customTypes.set(`${type.group}/${type.version}/${type.plural}`, type);
    return type;
  }

  private typeOf(apiVersion: string, kind: string): ResourceType | undefined {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    return this.served().find((t) => t.group === group && t.version === version && t.kind === kind);
  }

  private typeOfObject(object: Obj): ResourceType | undefined {
    return this.typeOf(object.apiVersion, object.kind);
  }

  private groupList(): unknown {
    const groups = new Map<string, string>();
    for (const t of this.served()) if (t.group !== '' && !groups.has(t.group)) groups.set(t.group, t.version);
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups].map(([name, version]) => ({ name, versions: [{ groupVersion: `${name}/${version}`, version }], preferredVersion: { groupVersion: `${name}/${version}`, version } })) };
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}

function key(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.group}/${type.plural}/${type.namespaced ? (namespace ?? '') : ''}/${name}`;
}

function status(code: number, message: string): unknown {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, message };
}

/** RFC 7386: objects merge key by key, `null` deletes a key, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function matchesLabels(object: Obj, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k !== undefined && object.metadata.labels?.[k] === v;
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
