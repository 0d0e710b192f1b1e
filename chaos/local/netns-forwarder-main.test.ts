import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../scripts/exit-codes.ts';
import { FORWARDER_ROUTES_ENV } from './netns.ts';

// The relay process on 127.0.0.1 (inside a hop it listens on veth addresses; see netns.test.ts).

const MAIN = fileURLToPath(new URL('./netns-forwarder-main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Started {
  exit: Promise<number | null>;
  output: () => { stdout: string; stderr: string };
  kill: (signal: NodeJS.Signals) => void;
}

function start(routes: string): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, [FORWARDER_ROUTES_ENV]: routes }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    child.kill('SIGKILL');
    await exit;
  });
  return { exit, output: () => ({ stdout, stderr }), kill: (signal) => child.kill(signal) };
}

async function listening(server: net.Server | http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

async function readyPorts(proc: Started): Promise<number[]> {
  for (let i = 0; i < 400; i++) {
    const m = /^ready (\[[\d,]*\])$/m.exec(proc.output().stdout);
    if (m) return JSON.parse(m[1]!) as number[];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no ready line; stderr: ${proc.output().stderr}`);
}

describe('netns-forwarder-main', () => {
  it('relays each route, prints the ports, and exits 0 on SIGTERM', async () => {
    const server = http.createServer((_req, res) => res.end('relayed'));
    server.keepAliveTimeout = 1;
    const target = await listening(server);
    const proc = start(JSON.stringify([{ listen: '127.0.0.1:0', target: `127.0.0.1:${target}` }]));
    const [port] = await readyPorts(proc);
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('relayed');
    proc.kill('SIGTERM');
    expect(await proc.exit).toBe(ExitCode.Pass);
  });

  it('exits 2 naming the variable when the routes are missing or invalid', async () => {
    const missing = start('');
    expect(await missing.exit).toBe(ExitCode.InvalidConfig);
    expect(missing.output().stderr).toMatch(/NETNS_FORWARDER_ROUTES is required/);
    const bad = start(JSON.stringify([{ listen: 'localhost:0', target: '127.0.0.1:1' }]));
    expect(await bad.exit).toBe(ExitCode.InvalidConfig);
    expect(bad.output().stderr).toMatch(/NETNS_FORWARDER_ROUTES\[0\]\.listen must start with an IPv4 literal, got "localhost:0"/);
    const notJson = start('{');
    expect(await notJson.exit).toBe(ExitCode.InvalidConfig);
    expect(notJson.output().stderr).toMatch(/is not JSON/);
  });

  it('exits 4 when it cannot listen', async () => {
    const taken = await listening(net.createServer());
    const proc = start(JSON.stringify([{ listen: `127.0.0.1:${taken}`, target: '127.0.0.1:1' }]));
    expect(await proc.exit).toBe(ExitCode.Environment);
    expect(proc.output().stderr).toMatch(new RegExp(`cannot listen on 127.0.0.1:${taken}`));
  });
});
