import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { K6BundleError, bundleScenario } from './bundle.ts';

// k6 cannot be installed here: the bundle is executed in Node against `k6-test-double/`, a test
// double of k6's modules that records every call and sends the requests to a real local server.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const DOUBLE = path.join(HERE, 'k6-test-double');
const API_SCENARIO = path.join(HERE, '..', 'api.ts');

interface Recorded {
  options: { scenarios: Record<string, { exec: string }>; thresholds: unknown };
  setupData: { api: { contactIds: number[]; runToken: string } };
  requests: { method: string; url: string; body: string | null; params: { tags: { name: string }; timeout: string; headers: Record<string, string>; responseCallback: unknown }; status: number }[];
  asyncRequests: { method: string; url: string; status: number }[];
  checks: { results: Record<string, boolean>; tags: Record<string, string> }[];
}

let server: Server;
let baseUrl: string;
const served = new Map<string, number>();
let nextId = 1;
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'k6-bundle-'));
  dirs.push(dir);
  return dir;
}

/** Runs `execName` of the bundle `iterations` times under the k6 test double. */
async function runUnderDouble(scriptPath: string, execName: string, iterations: number): Promise<Recorded> {
  const child = await execa(process.execPath, ['--import', path.join(DOUBLE, 'register.js'), path.join(DOUBLE, 'driver.js'), scriptPath, execName, String(iterations), '5'], {
    env: { BASE_URL: baseUrl },
    timeout: 25_000,
    reject: false,
  });
  if (child.exitCode !== 0) throw new Error(`driver exited ${child.exitCode}: ${child.stderr}`);
  return JSON.parse(child.stdout) as Recorded;
}

beforeAll(async () => {
  // A small stand-in for the hasteCRM API with the routes api.ts uses.
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = req.method === 'GET' && /^\/api\/contacts\/[^/]+$/.test(url.pathname) ? 'GET /api/contacts/:id' : `${req.method} ${url.pathname}`;
    served.set(route, (served.get(route) ?? 0) + 1);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (route === 'POST /api/contacts') {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: nextId++, ...body }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  served.clear();
});

describe('bundleScenario', () => {
  it('bundles api.ts with k6 modules external and runs it under the k6 test double: setup, weighted mix, params', async () => {
    const outDir = await tempDir();
    const thresholds = { 'http_req_duration{scenario:api}': ['p(95)<500'] };
    const bundle = await bundleScenario({ scenarioFile: API_SCENARIO, outDir, thresholds });
    expect(bundle.scriptPath).toBe(path.join(outDir, 'api.k6.js'));
    expect(bundle.execNames).toEqual(['exec_api']);
    const source = await readFile(bundle.scriptPath, 'utf8');
    // k6's modules stay imports for k6 to provide; nothing of Node is in the script.
    expect(source).toMatch(/from "k6\/http"/);
    expect(source).toMatch(/from "k6\/execution"/);
    expect(source).not.toMatch(/node:/);

    const iterations = 2_000;
    const recorded = await runUnderDouble(bundle.scriptPath, 'exec_api', iterations);
    expect(recorded.options.scenarios.api?.exec).toBe('exec_api');
    expect(recorded.options.thresholds).toEqual(thresholds);

    // setup ran through http.asyncRequest and created the 20 contacts the reads use.
    expect(recorded.asyncRequests).toHaveLength(20);
    expect(recorded.asyncRequests.every((r) => r.method === 'POST' && r.status === 201)).toBe(true);
    expect(recorded.setupData.api.contactIds).toHaveLength(20);

    // The mix follows the weights 3:4:2:1 (±5 standard deviations of a binomial count).
    expect(recorded.requests).toHaveLength(iterations);
    const byName = new Map<string, number>();
    for (const r of recorded.requests) byName.set(r.params.tags.name, (byName.get(r.params.tags.name) ?? 0) + 1);
    const weights: Record<string, number> = { 'GET /api/contacts': 3, 'GET /api/contacts/:id': 4, 'GET /api/search': 2, 'POST /api/contacts': 1 };
    for (const [name, weight] of Object.entries(weights)) {
      const p = weight / 10;
      const sigma = Math.sqrt(iterations * p * (1 - p));
      expect(Math.abs((byName.get(name) ?? 0) - iterations * p), name).toBeLessThan(5 * sigma);
    }
    // The real server saw every request the script sent (plus setup's 20 POSTs).
    expect(served.get('GET /api/contacts/:id')).toBe(byName.get('GET /api/contacts/:id'));
    expect(served.get('POST /api/contacts')).toBe((byName.get('POST /api/contacts') ?? 0) + 20);

    // Params as k6 expects them: name tag, timeout, expectedStatuses as responseCallback, JSON body.
    const post = recorded.requests.find((r) => r.params.tags.name === 'POST /api/contacts');
    expect(post?.params.timeout).toBe('60000ms');
    expect(post?.params.responseCallback).toEqual([201]);
    expect(post?.params.headers['content-type']).toBe('application/json');
    expect(JSON.parse(post?.body ?? 'null')).toMatchObject({ email: expect.stringContaining(recorded.setupData.api.runToken) as unknown });
    expect(post?.status).toBe(201);
    const read = recorded.requests.find((r) => r.params.tags.name === 'GET /api/contacts/:id');
    expect(read?.params.responseCallback).toEqual([{ min: 200, max: 399 }]);
    expect(read?.body).toBeNull();
    const id = Number(read?.url.split('/').pop());
    expect(recorded.setupData.api.contactIds).toContain(id);
    // api.ts has no checks: none are run.
    expect(recorded.checks).toHaveLength(0);
  }, 30_000);

  it('runs checks with k6 check, tagged with the request name, on a scenario with checks and two executors', async () => {
    const dir = await tempDir();
    const scenarioFile = path.join(dir, 'checks.ts');
    const typesUrl = JSON.stringify(path.join(HERE, '..', 'types.ts'));
    await writeFile(
      scenarioFile,
      `import { defineScenario } from ${typesUrl};
export default [
  defineScenario({ name: 'reads', executor: 'constant-vus', vus: 2, duration: '5s', requests: [
    { name: 'GET /api/contacts', weight: 1, method: 'GET', path: '/api/contacts', timeoutMs: 2500, headers: { 'x-load': 'k6' },
      checks: { 'status is 200': (r) => r.status === 200, 'is a list': (r) => Array.isArray(r.json()), 'never true': () => false } },
  ] }),
  defineScenario({ name: 'writes-later', executor: 'shared-iterations', iterations: 3, startTime: '5s', requests: [
    { name: 'POST /api/contacts', weight: 1, method: 'POST', path: '/api/contacts', body: (it) => ({ n: it.iteration, vu: it.vu }), expectedStatuses: [201] },
  ] }),
];
`,
    );
    const bundle = await bundleScenario({ scenarioFile, outDir: dir });
    expect(bundle.execNames).toEqual(['exec_reads', 'exec_writes_later']);
    const reads = await runUnderDouble(bundle.scriptPath, 'exec_reads', 6);
    expect(reads.checks).toHaveLength(6);
    expect(reads.checks[0]).toEqual({ results: { 'status is 200': true, 'is a list': true, 'never true': false }, tags: { name: 'GET /api/contacts' } });
    expect(reads.requests[0]?.params.timeout).toBe('2500ms');
    expect(reads.requests[0]?.params.headers).toEqual({ 'x-load': 'k6' });
    const writes = await runUnderDouble(bundle.scriptPath, 'exec_writes_later', 3);
    expect(writes.requests.map((r) => JSON.parse(r.body ?? 'null') as unknown)).toEqual([
      { n: 0, vu: 1 },
      { n: 1, vu: 2 },
      { n: 2, vu: 3 },
    ]);
  }, 30_000);

  it('fails at k6 init when BASE_URL is missing, naming the fix', async () => {
    const outDir = await tempDir();
    const bundle = await bundleScenario({ scenarioFile: API_SCENARIO, outDir });
    const child = await execa(process.execPath, ['--import', path.join(DOUBLE, 'register.js'), path.join(DOUBLE, 'driver.js'), bundle.scriptPath, 'exec_api', '1', '1'], {
      env: { BASE_URL: '' },
      reject: false,
      timeout: 20_000,
    });
    expect(child.exitCode).not.toBe(0);
    expect(child.stderr).toMatch(/BASE_URL=http/);
  });

  it('names the scenario file when it cannot be loaded, has no scenario, has bad options or imports Node', async () => {
    const dir = await tempDir();
    const types = JSON.stringify(path.join(HERE, '..', 'types.ts'));
    const cases: [string, string, RegExp][] = [
      ['missing.ts', '', /cannot load scenario file .*missing\.ts/],
      ['empty.ts', 'export default 42;\n', /empty\.ts has no scenario as default export/],
      [
        'bad.ts',
        `import { defineScenario } from ${types};\nexport default defineScenario({ name: 'bad', executor: 'constant-vus', vus: 0, duration: '1s', requests: [{ name: 'x', weight: 1, method: 'GET', path: '/' }] });\n`,
        /bad\.ts: scenarios\[0\]\.vus: got 0/,
      ],
      [
        'node.ts',
        `import { readFileSync } from 'node:fs';\nexport default { name: 'n', executor: 'constant-vus', vus: 1, duration: '1s', requests: [{ name: 'x', weight: 1, method: 'GET', path: () => String(readFileSync) }] };\n`,
        /cannot bundle scenario file .*node\.ts for k6/,
      ],
    ];
    for (const [file, source, message] of cases) {
      if (source !== '') await writeFile(path.join(dir, file), source);
      const error = await bundleScenario({ scenarioFile: path.join(dir, file), outDir: dir }).catch((e: unknown) => e);
      expect(error, file).toBeInstanceOf(K6BundleError);
      expect((error as Error).message, file).toMatch(message);
    }
  });
});
