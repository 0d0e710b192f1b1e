import type { Dispatcher } from 'undici';

/**
 * An undici interceptor adding `defaults` to every request that does not set the header itself,
 * e.g. `Host: api.hastecrm.com` for an ingress that routes by host name (the kind target). The
 * request's own headers win; header names are compared case-insensitively.
 */
export function withDefaultHeaders(defaults: Readonly<Record<string, string>>): Dispatcher.DispatcherComposeInterceptor {
  const entries = Object.entries(defaults).map(([name, value]) => [name.toLowerCase(), value] as const);
  return (dispatch) => (options, handler) => dispatch({ ...options, headers: mergeHeaders(options.headers, entries) }, handler);
}

function mergeHeaders(given: Dispatcher.DispatchOptions['headers'], defaults: readonly (readonly [string, string])[]): Record<string, string | string[]> {
  const merged: Record<string, string | string[]> = Object.fromEntries(defaults);
  if (given === null || given === undefined) return merged;
  // undici accepts a record, a flat [name, value, …] array, or an iterable of pairs.
  const pairs: [string, string | string[] | undefined][] = [];
  if (Array.isArray(given)) for (let i = 0; i + 1 < given.length; i += 2) pairs.push([String(given[i]), given[i + 1]]);
  else if (Symbol.iterator in Object(given)) for (const [name, value] of given as Iterable<[string, string | string[] | undefined]>) pairs.push([name, value]);
  else pairs.push(...Object.entries(given as Record<string, string | string[] | undefined>));
  for (const [name, value] of pairs) if (value !== undefined) merged[name.toLowerCase()] = value;
  return merged;
}
