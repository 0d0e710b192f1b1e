/**
 * The benchmark's target: nginx from apt with a generated config in a temp dir, one worker pinned to
 * one core, serving a small static file on 127.0.0.1 with logging off, so the server is cheap and
 * steady and the figures measure the generators.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, isPortOpen } from '../../cluster/targets/local/ports.ts';
import { waitUntil } from '../util/wait.ts';
import { startPinnedDaemon } from './processes.ts';

/** The static body every request gets (small, like an API's JSON answer). */
export const BODY = '{"status":"ok","service":"bench","note":"a small static body served by nginx"}\n';

export interface NginxTarget {
  url: string;
  port: number;
  pid: number;
  /** Stops nginx (master and worker) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

export function nginxConfig(dir: string, port: number): string {
  // Temp paths inside our dir: the defaults under /var/lib/nginx may not be writable or may clash
  // with a system nginx. keepalive_requests is raised so no tool pays for reconnections nginx forces.
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type application/json;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
    location / { try_files /index.json =404; }
  }
}
`;
}

/**
 * Starts nginx pinned to `core` on a free loopback port and resolves once it accepts connections
 * and serves the body. Rejects (with nginx's output) if it exits or is not ready within 10 s.
 */
export async function startNginx(core: number, nginxBinary = 'nginx'): Promise<NginxTarget> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-nginx-'));
  // The worker runs as nobody: it must be able to read the docroot inside our 0700 temp dir.
  await chmod(dir, 0o755);
  await mkdir(path.join(dir, 'www'), { mode: 0o755 });
  await writeFile(path.join(dir, 'www', 'index.json'), BODY, { mode: 0o644 });
  const port = await freePort();
  await writeFile(path.join(dir, 'nginx.conf'), nginxConfig(dir, port));
  let daemon: ReturnType<typeof startPinnedDaemon> | undefined;
  const stop = async (): Promise<void> => {
    await daemon?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    daemon = startPinnedDaemon(core, nginxBinary, ['-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    const started = daemon;
    const url = `http://127.0.0.1:${port}/`;
    await waitUntil(
      async () => {
        if (started.exited()) throw new Error(`nginx exited: ${started.output().slice(-500)}`);
        if (!(await isPortOpen(port))) return false;
        const response = await fetch(url);
        const text = await response.text();
        if (response.status !== 200 || text !== BODY) throw new Error(`GET ${url} answered ${response.status} ${JSON.stringify(text.slice(0, 100))}, expected 200 and the static body`);
        return true;
      },
      { what: `nginx on 127.0.0.1:${port}`, timeoutMs: 10_000 },
    );
    let stopped: Promise<void> | undefined;
    return { url, port, pid: started.pid, stop: () => (stopped ??= stop()) };
  } catch (error) {
    await stop();
    throw error;
  }
}
