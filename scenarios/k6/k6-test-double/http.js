// Test double of k6's `k6/http` module (see README.md). Requests go to the real server; `request`
// blocks like k6's by handing the fetch to a worker thread and waiting on a shared flag.
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { recorded } from './state.js';

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { port, flag } = workerData;
port.on('message', async ({ method, url, body, headers, timeoutMs }) => {
  let result;
  try {
    const res = await fetch(url, { method, body: body ?? undefined, headers, signal: AbortSignal.timeout(timeoutMs) });
    result = { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text(), error: '', error_code: 0 };
  } catch (error) {
    result = { status: 0, headers: {}, body: null, error: String(error && error.message), error_code: 1000 };
  }
  port.postMessage(result);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

let channel;
let flag;

function syncFetch(message) {
  if (channel === undefined) {
    channel = new MessageChannel();
    flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { port: channel.port2, flag }, transferList: [channel.port2] });
    worker.unref();
    channel.port1.unref();
  }
  Atomics.store(flag, 0, 0);
  channel.port1.postMessage(message);
  // Bounded: the fetch has its own timeout; one extra second for the worker to answer.
  if (Atomics.wait(flag, 0, 0, message.timeoutMs + 1_000) === 'timed-out') throw new Error(`k6-test-double: no answer for ${message.method} ${message.url}`);
  const received = receiveMessageOnPort(channel.port1);
  if (received === undefined) throw new Error('k6-test-double: the worker signalled but sent nothing');
  return received.message;
}

/** k6 takes `"60s"`, `"500ms"` or milliseconds. */
function timeoutMs(timeout) {
  if (timeout === undefined) return 60_000;
  if (typeof timeout === 'number') return timeout;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(timeout);
  if (match === null) throw new Error(`k6-test-double: timeout ${JSON.stringify(timeout)} is not a k6 duration`);
  return Number(match[1]) * { ms: 1, s: 1_000, m: 60_000 }[match[2]];
}

function describeParams(params = {}) {
  return { ...params, responseCallback: params.responseCallback?.expectedStatuses ?? null };
}

export default {
  request(method, url, body, params) {
    const res = syncFetch({ method, url, body, headers: params?.headers ?? {}, timeoutMs: timeoutMs(params?.timeout) });
    recorded.requests.push({ method, url, body: body ?? null, params: describeParams(params), status: res.status });
    return res;
  },
  async asyncRequest(method, url, body, params) {
    let res;
    try {
      const response = await fetch(url, { method, body: body ?? undefined, headers: params?.headers ?? {}, signal: AbortSignal.timeout(timeoutMs(params?.timeout)) });
      res = { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text(), error: '', error_code: 0 };
    } catch (error) {
      res = { status: 0, headers: {}, body: null, error: String(error?.message), error_code: 1000 };
    }
    recorded.asyncRequests.push({ method, url, body: body ?? null, params: describeParams(params), status: res.status });
    return res;
  },
  /** k6 returns an opaque native callback; the double keeps the arguments so tests can read them. */
  expectedStatuses(...statuses) {
    for (const s of statuses) {
      if (!(Number.isInteger(s) || (typeof s === 'object' && Number.isInteger(s.min) && Number.isInteger(s.max)))) {
        throw new Error(`k6-test-double: expectedStatuses takes integers or { min, max }, got ${JSON.stringify(s)}`);
      }
    }
    return { expectedStatuses: statuses };
  },
};
