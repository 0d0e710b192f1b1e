import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { withDefaultHeaders } from './default-headers.ts';

// A real HTTP server on 127.0.0.1 records the headers each request arrives with.
let server: Server | undefined;
let pool: Pool | undefined;

async function echoServer(seen: IncomingHttpHeaders[]): Promise<string> {
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.end('ok');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await pool?.destroy();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  pool = undefined;
});

describe('withDefaultHeaders', () => {
  it('adds the defaults to every request, whatever form its own headers take; the request’s own value wins', async () => {
    const seen: IncomingHttpHeaders[] = [];
    pool = new Pool(await echoServer(seen));
    const dispatcher = pool.compose(withDefaultHeaders({ Host: 'api.hastecrm.com', 'x-run': 'r1' }));
    const send = async (headers?: Record<string, string> | string[]): Promise<void> => {
      const res = await dispatcher.request({ path: '/', method: 'GET', ...(headers ? { headers } : {}) });
      await res.body.text();
    };
    await send();
    await send({ 'X-Run': 'mine' });
    await send(['x-extra', '1']);
    expect(seen.map((h) => [h.host, h['x-run'], h['x-extra']])).toEqual([
      ['api.hastecrm.com', 'r1', undefined],
      ['api.hastecrm.com', 'mine', undefined],
      ['api.hastecrm.com', 'r1', '1'],
    ]);
  });
});
