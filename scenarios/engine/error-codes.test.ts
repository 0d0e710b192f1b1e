import { describe, expect, it } from 'vitest';
import { K6_ERROR_CODE, RequestTimeoutError, classifyNetworkError, httpErrorCode } from './error-codes.ts';

function systemError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

describe('classifyNetworkError', () => {
  it.each([
    ['ECONNREFUSED', 'refused', 1212],
    ['ECONNRESET', 'reset', 1220],
    ['UND_ERR_SOCKET', 'reset', 1220],
    ['EPIPE', 'reset', 1201],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout', 1050],
    ['UND_ERR_BODY_TIMEOUT', 'timeout', 1050],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout', 1211],
    ['ENOTFOUND', 'other', 1101],
    ['EHOSTUNREACH', 'other', 1210],
    ['SOMETHING_ELSE', 'other', 1000],
  ])('maps %s to kind %s with k6 error_code %d', (code, kind, errorCode) => {
    expect(classifyNetworkError(systemError(code))).toEqual({ kind, errorCode });
  });

  it('reads the system error from `cause`, where fetch puts it', () => {
    expect(classifyNetworkError(new TypeError('fetch failed', { cause: systemError('ECONNREFUSED') })).kind).toBe('refused');
  });

  it('maps the engine’s own timeout to 1050, and anything unrecognisable to other/1000 without throwing', () => {
    expect(classifyNetworkError(new RequestTimeoutError(200))).toEqual({ kind: 'timeout', errorCode: K6_ERROR_CODE.requestTimeout });
    for (const weird of [undefined, null, 'text', 42, {}]) expect(classifyNetworkError(weird)).toEqual({ kind: 'other', errorCode: 1000 });
  });
});

describe('httpErrorCode', () => {
  it('is 1000 + status for 4xx and 5xx, as k6 tags them, and 0 otherwise', () => {
    expect([200, 302, 400, 404, 429, 500, 503, 599].map(httpErrorCode)).toEqual([0, 0, 1400, 1404, 1429, 1500, 1503, 1599]);
  });
});
