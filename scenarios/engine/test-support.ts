/**
 * Real HTTP servers on 127.0.0.1 for the engine's and scenarios' tests. Kept out of the engine's
 * public surface (index.ts); imported by *.test.ts only.
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { execa } from 'execa';

export interface TestServer {
  url: string;
  port: number;
  /** Requests received, by `METHOD path` (query included). */
  readonly received: Map<string, number>;
  /** Total requests received. */
  count(): number;
  /** Stops listening and destroys every open connection, also ones whose response is pending. */
  close(): Promise<void>;
}

export async function startTestServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const received = new Map<string, number>();
  let total = 0;
  const server = http.createServer((req, res) => {
    total += 1;
    const key = `${req.method ?? ''} ${req.url ?? ''}`;
    received.set(key, (received.get(key) ?? 0) + 1);
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('test server has no TCP address');
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    received,
    count: () => total,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** Answers after `ms` unless the client went away first (the timer is then cleared). */
export function respondAfter(res: ServerResponse, ms: number, status = 200, body = 'ok'): void {
  const timer = setTimeout(() => {
    if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  }, ms);
  res.on('close', () => clearTimeout(timer));
}

export async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}, expected 200`);
  return response.text();
}

/** One sample of the exposition: name, labels, value. Throws on a line that is not valid text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

/** A strict reader of the text exposition format, enough to check what the engine writes. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null) throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`);
    const [, name = '', labelText = '', valueText = ''] = match;
    const labels: Record<string, string> = {};
    LABEL_PAIR.lastIndex = 0;
    while (LABEL_PAIR.lastIndex < labelText.length) {
      const pair = LABEL_PAIR.exec(labelText);
      if (pair === null) throw new Error(`bad labels in exposition line: ${JSON.stringify(line)}`);
      // One pass, so an escaped backslash followed by "n" is not read as a newline.
      labels[pair[1] ?? ''] = (pair[2] ?? '').replace(/\\(.)/g, (_escape, char: string) => (char === 'n' ? '\n' : char));
    }
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`bad value in exposition line: ${JSON.stringify(line)}`);
    samples.push({ name, labels, value });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `match`. */
export function sumSamples(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([key, value]) => s.labels[key] === value))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Runs `promtool check metrics` (Prometheus's own parser and linter) on an exposition. */
export async function promtoolCheckMetrics(exposition: string): Promise<{ exitCode: number; output: string }> {
  const result = await execa('promtool', ['check', 'metrics'], { input: exposition, reject: false, timeout: 20_000 });
  return { exitCode: result.exitCode ?? -1, output: `${result.stdout}${result.stderr}` };
}
