/**
 * A tiny HTTP server that serves `/metrics` for Prometheus to scrape (scrape job `k6`).
 */
import http from 'node:http';

export interface MetricsServer {
  /** `http://127.0.0.1:<port>/metrics` */
  url: string;
  port: number;
  /** Stops listening and drops open scrape connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Listens on `host` at a port the kernel picks (no race with other processes choosing ports) and
 * answers GET /metrics with `render()`; anything else is 404. Resolves once it is listening.
 */
export async function startMetricsServer(render: () => string, host = '127.0.0.1'): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the engine serves GET /metrics\n');
      return;
    }
    let body: string;
    try {
      body = render();
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`rendering metrics failed: ${(error as Error).message}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // Scrapes come from a local Prometheus: a short keep-alive avoids holding sockets after close.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    server.close();
    throw new Error('the metrics server has no TCP address');
  }
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}/metrics`,
    port: address.port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
