/**
 * Matches a method and path against route templates (`/api/contacts/:id`). The matched template
 * is what the metrics record as `route`, so the label never holds a raw path.
 */

export type RouteMatch<H> =
  | { kind: 'matched'; route: string; handler: H; params: Record<string, string> }
  | { kind: 'method-not-allowed'; route: string; allow: string[] }
  | { kind: 'not-found' };

interface Route<H> {
  template: string;
  segments: string[];
  handlers: Map<string, H>;
}

export class Router<H> {
  private readonly routes: Route<H>[] = [];

  /** Registers `handler` for `method` on `template`; `:name` segments capture one path segment. */
  add(method: string, template: string, handler: H): this {
    let route = this.routes.find((r) => r.template === template);
    if (!route) {
      route = { template, segments: template.split('/'), handlers: new Map() };
      this.routes.push(route);
    }
    route.handlers.set(method, handler);
    return this;
  }

  match(method: string, path: string): RouteMatch<H> {
    const segments = path.split('/');
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      const handler = route.handlers.get(method);
      if (handler === undefined) return { kind: 'method-not-allowed', route: route.template, allow: [...route.handlers.keys()] };
      return { kind: 'matched', route: route.template, handler, params };
    }
    return { kind: 'not-found' };
  }
}

function matchSegments(template: string[], path: string[]): Record<string, string> | undefined {
  if (template.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const expected = template[i] ?? '';
    const actual = path[i] ?? '';
    if (expected.startsWith(':')) {
      if (actual === '') return undefined;
      params[expected.slice(1)] = actual;
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}
