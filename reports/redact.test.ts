import { describe, expect, it } from 'vitest';
import { createRedactor, isSecretEnvName, REDACTED, redactSecrets, redactText, secretEnvValues } from './redact.ts';

const TOKEN = 'sk-live-4f9a1c2e8b7d6a5f';
const env = { HASTECRM_API_TOKEN: TOKEN, PATH: '/usr/bin:/bin', HOME: '/home/ci', SHORT_TOKEN: 'abc', AWS_REGION: 'eu-west-1' };

describe('secret environment variables', () => {
  it('recognises secret-looking names and leaves ordinary ones alone', () => {
    for (const name of ['GITHUB_TOKEN', 'HASTECRM_API_TOKEN', 'npm_config__authToken', 'DB_PASSWORD', 'PGPASSWORD', 'CLIENT_SECRET', 'STRIPE_API_KEY', 'SIGNING_KEY', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID', 'NPM_AUTH'])
      expect(isSecretEnvName(name), name).toBe(true);
    for (const name of ['PATH', 'HOME', 'KUBECONFIG', 'CI', 'NODE_ENV', 'AWS_REGION', 'KEYBOARD', 'AUTHOR'])
      expect(isSecretEnvName(name), name).toBe(false);
  });

  it('searches only for values long enough to be secrets, in raw, JSON and URL-encoded form', () => {
    const values = secretEnvValues({ A_TOKEN: 'a"b c/d+efg', SHORT_TOKEN: 'abc', PATH: '/usr/bin' });
    expect(values).toContain('a"b c/d+efg');
    expect(values).toContain('a\\"b c/d+efg');
    expect(values).toContain('a%22b%20c%2Fd%2Befg');
    expect(values).not.toContain('abc');
    expect(values).not.toContain('/usr/bin');
  });

  it('replaces the values wherever they appear in a string, and nothing else', () => {
    const text = `POST /api/contacts failed; token=${TOKEN} at ${env.PATH} in eu-west-1; x${TOKEN}y`;
    expect(redactText(text, { env })).toBe(`POST /api/contacts failed; token=${REDACTED} at /usr/bin:/bin in eu-west-1; x${REDACTED}y`);
    expect(redactText('abc is too short to search for', { env })).toBe('abc is too short to search for');
  });

  it('finds the value once serialised to JSON or put in a query string', () => {
    const quoted = 'pa"ss\\word-123';
    const serialised = JSON.stringify({ note: `password is ${quoted}` });
    expect(redactText(serialised, { env: { DB_PASSWORD: quoted } })).toBe(JSON.stringify({ note: `password is ${REDACTED}` }));
    expect(redactText(`/search?q=${encodeURIComponent(quoted)}`, { env: { DB_PASSWORD: quoted } })).toBe(`/search?q=${REDACTED}`);
  });

  it('takes extra literal secrets, ignoring short ones', () => {
    expect(redactText('from-a-file-0123 and ab', { env: {}, secrets: ['from-a-file-0123', 'ab'] })).toBe(`${REDACTED} and ab`);
  });

  it('reads process.env by default', () => {
    const name = 'REDACT_TEST_TOKEN';
    process.env[name] = 'ghp_processenvvalue42';
    try {
      expect(redactText('token ghp_processenvvalue42 leaked')).toBe(`token ${REDACTED} leaked`);
    } finally {
      delete process.env[name];
    }
  });
});

describe('headers', () => {
  it('replaces header values under secret keys in any case, strings and lists alike', () => {
    const headers = { Authorization: 'Bearer abc', 'PROXY-AUTHORIZATION': 'Basic x', cookie: 'session=1', 'Set-Cookie': ['a=1', 'b=2'], 'x-api-key': 'k', accept: 'application/json' };
    expect(redactSecrets({ request: { headers } }, { env: {} })).toEqual({
      request: { headers: { Authorization: REDACTED, 'PROXY-AUTHORIZATION': REDACTED, cookie: REDACTED, 'Set-Cookie': [REDACTED, REDACTED], 'x-api-key': REDACTED, accept: 'application/json' } },
    });
  });

  it('replaces header values written as text: HTTP lines, JSON, inspected objects, curl', () => {
    const r = (s: string): string => redactText(s, { env: {} });
    expect(r('GET / HTTP/1.1\r\nAuthorization: Bearer abc.def\r\nAccept: */*')).toBe(`GET / HTTP/1.1\r\nAuthorization: ${REDACTED}\r\nAccept: */*`);
    expect(r('{"cookie":"sid=42; theme=dark","accept":"text/html"}')).toBe(`{"cookie":"${REDACTED}","accept":"text/html"}`);
    expect(r("{ 'x-api-key': 'k-123', retry: 1 }")).toBe(`{ 'x-api-key': '${REDACTED}', retry: 1 }`);
    expect(r('set-cookie=abc')).toBe(`set-cookie=${REDACTED}`);
    expect(r("curl -H 'X-Trace: 1' https://api/ -u me --oauth2-bearer Bearer eyJhbGciOiJIUzI1NiJ9.e30")).toBe(`curl -H 'X-Trace: 1' https://api/ -u me --oauth2-bearer Bearer ${REDACTED}`);
  });

  it('leaves prose mentioning the headers alone', () => {
    const prose = 'authorization failed with 401; cookies disabled; the set-cookie header was absent';
    expect(redactText(prose, { env: {} })).toBe(prose);
  });
});

describe('URL credentials', () => {
  it('replaces the password and keeps the user, host and path', () => {
    const r = (s: string): string => redactText(s, { env: {} });
    expect(r('postgres://user:pass@host:5432/db')).toBe(`postgres://user:${REDACTED}@host:5432/db`);
    expect(r('connecting to redis://:s3cret@127.0.0.1:6379 failed')).toBe(`connecting to redis://:${REDACTED}@127.0.0.1:6379 failed`);
    expect(r('https://x-access-token:ghs_abc@github.com/o/r.git and http://127.0.0.1:9090/api?x=a:b@c')).toBe(`https://x-access-token:${REDACTED}@github.com/o/r.git and http://127.0.0.1:9090/api?x=a:b@c`);
    expect(r('http://127.0.0.1:9090/api/v1/query')).toBe('http://127.0.0.1:9090/api/v1/query');
  });
});

describe('kubeconfig contents', () => {
  const kubeconfig = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tQ0EtLS0=
    server: https://127.0.0.1:6443
  name: kind-hastecrm
users:
- name: kind-hastecrm
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ==
- name: sa
  user:
    token: eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.payload.sig
`;

  it('replaces key and certificate data and tokens, keeping the structure readable', () => {
    const out = redactText(kubeconfig, { env: {} });
    expect(out).toContain(`client-certificate-data: ${REDACTED}\n`);
    expect(out).toContain(`client-key-data: ${REDACTED}\n`);
    expect(out).toContain(`    token: ${REDACTED}\n`);
    expect(out).not.toMatch(/LS0tLS1|eyJhbGci/);
    // Not secrets: the CA and the server stay, so a reader can tell which cluster it was.
    expect(out).toContain('certificate-authority-data: LS0tQ0EtLS0=');
    expect(out).toContain('server: https://127.0.0.1:6443');
  });

  it('replaces the same fields once parsed into objects or written as JSON', () => {
    const parsed = { users: [{ name: 'sa', user: { token: 'abc.def', 'client-key-data': 'LS0t', username: 'admin', password: 'hunter22' } }] };
    expect(redactSecrets(parsed, { env: {} })).toEqual({ users: [{ name: 'sa', user: { token: REDACTED, 'client-key-data': REDACTED, username: 'admin', password: REDACTED } }] });
    expect(redactText(JSON.stringify(parsed), { env: {} })).toBe(JSON.stringify({ users: [{ name: 'sa', user: { token: REDACTED, 'client-key-data': REDACTED, username: 'admin', password: REDACTED } }] }));
  });

  it('replaces PEM blocks whole', () => {
    const pem = 'key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc==\n-----END RSA PRIVATE KEY-----\ndone';
    expect(redactText(pem, { env: {} })).toBe(`key:\n-----BEGIN RSA PRIVATE KEY-----${REDACTED}-----END RSA PRIVATE KEY-----\ndone`);
  });
});

describe('redactSecrets on values', () => {
  it('keeps the shape: arrays, nested objects, numbers, booleans, null, undefined; keys are redacted too', () => {
    const input = { a: [1, true, null, undefined, `t=${TOKEN}`], b: { [`k-${TOKEN}`]: 2, c: 'plain' }, n: 3 };
    expect(redactSecrets(input, { env })).toEqual({ a: [1, true, null, undefined, `t=${REDACTED}`], b: { [`k-${REDACTED}`]: 2, c: 'plain' }, n: 3 });
  });

  it('never mutates its input and returns the same result when applied twice', () => {
    const input = { headers: { authorization: `Bearer ${TOKEN}` }, url: 'postgres://u:pw@h/db', list: [`x ${TOKEN}`] };
    const snapshot = structuredClone(input);
    const once = redactSecrets(input, { env });
    expect(input).toEqual(snapshot);
    expect(redactSecrets(once, { env })).toEqual(once);
    expect(JSON.stringify(once)).not.toContain(TOKEN);
  });

  it('copies Errors (message, stack, cause), Maps and Sets with their contents redacted', () => {
    const error = new TypeError(`request failed with token ${TOKEN}`, { cause: new Error(`Authorization: Bearer ${TOKEN}`) });
    const out = redactSecrets({ error, map: new Map([['cookie', 'sid=1'], ['other', TOKEN]]), set: new Set([TOKEN]) }, { env });
    expect(out.error).toBeInstanceOf(TypeError);
    expect(out.error.message).toBe(`request failed with token ${REDACTED}`);
    expect(out.error.stack).not.toContain(TOKEN);
    expect((out.error.cause as Error).message).toBe(`Authorization: ${REDACTED}`);
    expect([...out.map]).toEqual([['cookie', REDACTED], ['other', REDACTED]]);
    expect([...out.set]).toEqual([REDACTED]);
    expect(error.message).toContain(TOKEN);
  });

  it('keeps cycles and leaves non-plain objects (Dates, Buffers) as they are', () => {
    const date = new Date(0);
    const node: { self?: unknown; date: Date; text: string } = { date, text: TOKEN };
    node.self = node;
    const out = redactSecrets(node, { env });
    expect(out.self).toBe(out);
    expect(out.date).toBe(date);
    expect(out.text).toBe(REDACTED);
  });

  it('keeps an own __proto__ key a key (JSON.parse makes them) instead of changing the prototype', () => {
    const parsed = JSON.parse(`{"__proto__": {"polluted": "${TOKEN}"}}`) as Record<string, unknown>;
    const out = redactSecrets(parsed, { env });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(JSON.stringify(out)).toBe(`{"__proto__":{"polluted":"${REDACTED}"}}`);
  });

  it('redacts a run result the way the pipeline will: a leaked token in the reason, errors and a URL', () => {
    const result = { reason: `setup failed: 401 for Bearer ${TOKEN}`, errors: [`postgres://hastecrm:${TOKEN}@127.0.0.1:5432/crm unreachable`], prometheus: { url: 'http://127.0.0.1:9090' } };
    const out = redactSecrets(result, { env });
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(out.prometheus.url).toBe('http://127.0.0.1:9090');
    expect(out.errors[0]).toBe(`postgres://hastecrm:${REDACTED}@127.0.0.1:5432/crm unreachable`);
  });

  it('compiles once with createRedactor and applies to any value', () => {
    const redact = createRedactor({ env });
    expect(redact(`a ${TOKEN}`)).toBe(`a ${REDACTED}`);
    expect(redact(42)).toBe(42);
    expect(redact({ x: TOKEN })).toEqual({ x: REDACTED });
  });
});
