/**
 * Secret redaction for everything that leaves the harness: reports (result.json and every view
 * rendered from it) and the progress log. A run handles credentials (Authorization headers of the
 * scenario, tokens in the environment, database URLs, kubeconfigs); none of them may end up in a
 * file a CI system keeps as an artifact or in a log anybody can read.
 *
 * What is redacted, and why in this way:
 * - values of secret-looking environment variables (names like `*TOKEN*`, `*SECRET*`,
 *   `*PASSWORD*`, `*_KEY`, `AWS_*`), wherever they occur in a string: a token can reach a report
 *   through any path (an error message, a description, a URL), so the values themselves are
 *   searched for, not only the places we expect them in;
 * - header values of `authorization`, `proxy-authorization`, `cookie`, `set-cookie`, `x-api-key`,
 *   as object keys (any case) and as `Name: value` text;
 * - credentials in URLs: `postgres://user:pass@host` becomes `postgres://user:***@host`;
 * - kubeconfig contents: `client-key-data`, `client-certificate-data`, `token`, `password`,
 *   `id-token`, `refresh-token`, `access-token` fields, and PEM blocks.
 */

/** What replaces a secret. Stable, so tests and readers can recognise a redaction. */
export const REDACTED = '***';

/** Environment values shorter than this are not searched for: `true`, `1`, `dev` would redact ordinary words. */
export const MIN_SECRET_LENGTH = 6;

export interface RedactOptions {
  /**
   * The environment whose secret-looking variables' values are replaced wherever they appear.
   * Default: `process.env`, read when the redactor is created.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** More literal values to replace (e.g. a token read from a file), same minimum length. */
  secrets?: readonly string[];
}

/** A redactor with its list of secret values compiled once (for the progress log, called per line). */
export type Redactor = <T>(value: T) => T;

/**
 * Returns a copy of `value` with every secret replaced by {@link REDACTED}: strings are searched,
 * arrays, plain objects, Maps, Sets and Errors are copied with their contents redacted (object keys
 * included), and values under secret keys (`authorization`, `cookie`, `token` …) are replaced whole.
 * Other objects (Dates, Buffers, class instances) are returned as they are. Never mutates its
 * input; cycles are preserved. Safe to call twice (redacting a redacted value changes nothing).
 */
export function redactSecrets<T>(value: T, options: RedactOptions = {}): T {
  return createRedactor(options)(value);
}

/** {@link redactSecrets} for one string. */
export function redactText(text: string, options: RedactOptions = {}): string {
  return createRedactor(options)(text);
}

/** Compiles the secret values of `options` once and returns a function redacting any value. */
export function createRedactor(options: RedactOptions = {}): Redactor {
  const literals = literalPattern([...secretEnvValues(options.env ?? process.env), ...(options.secrets ?? []).filter((s) => s.length >= MIN_SECRET_LENGTH)]);
  const text = (s: string): string => redactString(s, literals);
  return <T>(value: T): T => redactValue(value, text, new WeakMap()) as T;
}

const SECRET_ENV_NAME = [/TOKEN/i, /SECRET/i, /PASSWORD/i, /PASSWD/i, /PASSPHRASE/i, /CREDENTIAL/i, /API_?KEY/i, /_KEY$/i, /^AWS_/i, /(^|_)AUTH($|_)/i, /PRIVATE/i, /COOKIE/i];
/** Names matched by the patterns above that never hold a secret (and whose values are common words). */
const NOT_SECRET_ENV_NAME = new Set(['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'AWS_DEFAULT_OUTPUT', 'AWS_PAGER', 'AWS_SDK_LOAD_CONFIG']);

/** True if an environment variable of this name is treated as holding a secret. */
export function isSecretEnvName(name: string): boolean {
  return !NOT_SECRET_ENV_NAME.has(name.toUpperCase()) && SECRET_ENV_NAME.some((p) => p.test(name));
}

/**
 * The values of the secret-looking variables in `env` that are long enough to search for, each
 * also in the forms it takes once written into JSON or a URL, longest first.
 */
export function secretEnvValues(env: Readonly<Record<string, string | undefined>>): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value.length < MIN_SECRET_LENGTH || !isSecretEnvName(name)) continue;
    values.add(value);
    values.add(JSON.stringify(value).slice(1, -1));
    values.add(encodeURIComponent(value));
  }
  return [...values].sort((a, b) => b.length - a.length);
}

/** Object keys whose values are secrets whatever they look like (compared lower-cased). */
const SECRET_KEYS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'client-key-data',
  'client-certificate-data',
  'token',
  'id-token',
  'refresh-token',
  'access-token',
  'password',
]);

/** `Authorization: Bearer x`, `"cookie": "a=b"`, `set-cookie=…`: header names anywhere in text. */
const HEADER_TEXT = /(["']?)\b(proxy-authorization|authorization|set-cookie|cookie|x-api-key)\1(\s*[:=]\s*)("[^"\n]*"|'[^'\n]*'|[^\r\n]*)/gi;
/** Kubeconfig (YAML) fields at the start of a line, and the same keys quoted in JSON. */
const KUBECONFIG_YAML = /^([ \t]*(?:-[ \t]+)?)(client-key-data|client-certificate-data|token|id-token|refresh-token|access-token|password)([ \t]*:[ \t]*)(\S[^\r\n]*)$/gim;
const KUBECONFIG_JSON = /("(?:client-key-data|client-certificate-data|token|id-token|refresh-token|access-token|password)"\s*:\s*)"(?:[^"\\\n]|\\.)*"/gi;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
/** `scheme://user:password@host`: the password, up to the `@` (a literal `/`, `?`, `#` cannot be in it). */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*):([^\s@/?#]+)@/gi;
/** A bearer or basic credential in free text, e.g. from a curl command line. */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

function redactString(s: string, literals: RegExp | undefined): string {
  let out = literals ? s.replace(literals, REDACTED) : s;
  out = out.replace(PEM_BLOCK, (_m, kind: string) => `-----BEGIN ${kind}-----${REDACTED}-----END ${kind}-----`);
  out = out.replace(KUBECONFIG_YAML, (m, indent: string, key: string, sep: string, value: string) => (value === REDACTED ? m : `${indent}${key}${sep}${REDACTED}`));
  out = out.replace(KUBECONFIG_JSON, `$1"${REDACTED}"`);
  out = out.replace(HEADER_TEXT, (m, quote: string, name: string, sep: string, value: string) => {
    const quoted = value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0]);
    const replaced = quoted ? `${value[0]}${REDACTED}${value[0]}` : REDACTED;
    return value === REDACTED || value === '' ? m : `${quote}${name}${quote}${sep}${replaced}`;
  });
  out = out.replace(URL_CREDENTIALS, `$1:${REDACTED}@`);
  out = out.replace(AUTH_SCHEME, `$1 ${REDACTED}`);
  return out;
}

function redactValue(value: unknown, text: (s: string) => string, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === 'string') return text(value);
  if (typeof value !== 'object' || value === null) return value;
  const known = seen.get(value);
  if (known !== undefined) return known;

  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(redactValue(item, text, seen));
    return copy;
  }
  if (value instanceof Map) {
    const copy = new Map<unknown, unknown>();
    seen.set(value, copy);
    for (const [k, v] of value) copy.set(redactValue(k, text, seen), isSecretKey(k) ? redactWhole(v) : redactValue(v, text, seen));
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set<unknown>();
    seen.set(value, copy);
    for (const item of value) copy.add(redactValue(item, text, seen));
    return copy;
  }
  if (value instanceof Error) {
    const copy = Object.create(Object.getPrototypeOf(value) as object | null) as Error;
    seen.set(value, copy);
    // message, stack and cause are own but non-enumerable on Errors: copy them explicitly.
    for (const key of ['name', 'message', 'stack', 'cause', ...Object.keys(value)]) {
      if (!Object.hasOwn(value, key)) continue;
      const v = (value as unknown as Record<string, unknown>)[key];
      Object.defineProperty(copy, key, { value: isSecretKey(key) ? redactWhole(v) : redactValue(v, text, seen), writable: true, configurable: true, enumerable: Object.prototype.propertyIsEnumerable.call(value, key) });
    }
    return copy;
  }
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto !== Object.prototype && proto !== null) return value;
  const copy: Record<string, unknown> = proto === null ? (Object.create(null) as Record<string, unknown>) : {};
  seen.set(value, copy);
  for (const [k, v] of Object.entries(value)) {
    // defineProperty, not assignment: an own `__proto__` key (JSON.parse makes them) stays a key.
    Object.defineProperty(copy, text(k), { value: isSecretKey(k) ? redactWhole(v) : redactValue(v, text, seen), writable: true, enumerable: true, configurable: true });
  }
  return copy;
}

function isSecretKey(key: unknown): boolean {
  return typeof key === 'string' && SECRET_KEYS.has(key.toLowerCase());
}

/** The value under a secret key: strings (alone or in a list) become REDACTED; nothing else is kept either. */
function redactWhole(value: unknown): unknown {
  if (value === undefined || value === null || value === '') return value;
  if (Array.isArray(value)) return value.map(redactWhole);
  return REDACTED;
}

function literalPattern(values: readonly string[]): RegExp | undefined {
  const unique = [...new Set(values)].sort((a, b) => b.length - a.length);
  if (unique.length === 0) return undefined;
  return new RegExp(unique.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
}
