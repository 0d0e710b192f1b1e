/**
 * The small HTTP helper a scenario's `setup` uses (create test data before the load). It shares the
 * engine's connection pool and fails loudly: a setup that half-worked would make the load lie.
 */
import type { Dispatcher } from 'undici';
import type { ExpectedStatus, HttpMethod, SetupHttp, SetupRequestOptions, SetupResponse } from '../types.ts';
import { DEFAULT_EXPECTED_STATUSES } from './resolve.ts';

/** A setup request that went wrong: unexpected status, network error or timeout. */
export class SetupRequestError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SetupRequestError';
  }
}

export interface SetupHttpOptions {
  dispatcher: Dispatcher;
  /** Path prefix of the base URL ('' or '/prefix'), put before every path. */
  basePath: string;
  signal: AbortSignal;
  timeoutMs?: number;
}

const BODY_PREVIEW_CHARS = 300;

export function createSetupHttp(options: SetupHttpOptions): SetupHttp {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const request = async (method: HttpMethod, path: string, requestOptions: SetupRequestOptions = {}): Promise<SetupResponse> => {
    const what = `setup ${method} ${path}`;
    const headers: Record<string, string> = { ...requestOptions.headers };
    let body: string | undefined;
    if (requestOptions.body !== undefined) {
      body = JSON.stringify(requestOptions.body);
      headers['content-type'] ??= 'application/json';
    }
    let response: Dispatcher.ResponseData;
    try {
      response = await options.dispatcher.request({
        path: options.basePath + path,
        method,
        headers,
        body,
        signal: AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (error) {
      throw new SetupRequestError(`${what} failed: ${(error as Error).message}`, undefined, { cause: error });
    }
    const text = await response.body.text();
    const contentType = String(response.headers['content-type'] ?? '');
    let parsed: unknown = text;
    if (contentType.includes('json') && text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new SetupRequestError(`${what}: the response says JSON but does not parse: ${(error as Error).message}`, response.statusCode, { cause: error });
      }
    }
    if (!statusIsExpected(response.statusCode, requestOptions.expectedStatuses ?? DEFAULT_EXPECTED_STATUSES)) {
      throw new SetupRequestError(`${what} answered ${response.statusCode}: ${text.slice(0, BODY_PREVIEW_CHARS)}`, response.statusCode);
    }
    return { status: response.statusCode, headers: response.headers, body: parsed };
  };
  return {
    request,
    get: (path, requestOptions) => request('GET', path, requestOptions),
    post: (path, body, requestOptions) => request('POST', path, { ...requestOptions, body }),
  };
}

function statusIsExpected(status: number, expected: readonly ExpectedStatus[]): boolean {
  return expected.some((entry) => (typeof entry === 'number' ? entry === status : status >= entry.min && status <= entry.max));
}
