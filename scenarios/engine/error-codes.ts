/**
 * Request failures by kind, with k6's `error_code` numbers so dashboards and SLOs written for k6
 * read the embedded engine's metrics the same way. Numbers from k6's `lib/netext/httpext/error_codes.go`
 * and its documentation (1400–1499 for HTTP 4xx, 1500–1599 for HTTP 5xx: 1000 + status).
 */

export type ErrorKind = 'refused' | 'reset' | 'timeout' | 'http' | 'other';

export const ERROR_KINDS: readonly ErrorKind[] = ['refused', 'reset', 'timeout', 'http', 'other'];

export const K6_ERROR_CODE = {
  /** A generic error that is none of the others. */
  generic: 1000,
  /** The request did not complete within its timeout. */
  requestTimeout: 1050,
  /** lookup: no such host. */
  dnsNoSuchHost: 1101,
  /** A TCP error that is none of the others. */
  tcp: 1200,
  /** write: broken pipe. */
  brokenPipe: 1201,
  /** dial: an error other than timeout or refused. */
  dial: 1210,
  /** dial: i/o timeout. */
  dialTimeout: 1211,
  /** dial: connection refused. */
  dialRefused: 1212,
  /** connection reset by peer (also: the peer closed the connection mid-request). */
  resetByPeer: 1220,
} as const;

/** k6's `error_code` for an HTTP status: 1000 + status for 4xx/5xx, none (0) otherwise. */
export function httpErrorCode(status: number): number {
  return status >= 400 && status <= 599 ? 1000 + status : 0;
}

/** Raised by the engine when it aborts a request that ran past its `timeoutMs`. */
export class RequestTimeoutError extends Error {
  readonly code = 'RESILIENCE_REQUEST_TIMEOUT';
  constructor(timeoutMs: number) {
    super(`request timeout after ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}

export interface ErrorClass {
  kind: ErrorKind;
  /** k6's error_code number. */
  errorCode: number;
}

// Frozen singletons: classification is on the hot path of failing runs and allocates nothing.
const REFUSED: ErrorClass = Object.freeze({ kind: 'refused', errorCode: K6_ERROR_CODE.dialRefused });
const RESET: ErrorClass = Object.freeze({ kind: 'reset', errorCode: K6_ERROR_CODE.resetByPeer });
const BROKEN_PIPE: ErrorClass = Object.freeze({ kind: 'reset', errorCode: K6_ERROR_CODE.brokenPipe });
const REQUEST_TIMEOUT: ErrorClass = Object.freeze({ kind: 'timeout', errorCode: K6_ERROR_CODE.requestTimeout });
const DIAL_TIMEOUT: ErrorClass = Object.freeze({ kind: 'timeout', errorCode: K6_ERROR_CODE.dialTimeout });
const DIAL_OTHER: ErrorClass = Object.freeze({ kind: 'other', errorCode: K6_ERROR_CODE.dial });
const NO_SUCH_HOST: ErrorClass = Object.freeze({ kind: 'other', errorCode: K6_ERROR_CODE.dnsNoSuchHost });
const TCP_OTHER: ErrorClass = Object.freeze({ kind: 'other', errorCode: K6_ERROR_CODE.tcp });
const GENERIC: ErrorClass = Object.freeze({ kind: 'other', errorCode: K6_ERROR_CODE.generic });

/**
 * Classifies a network-level failure (no HTTP status) from undici or Node. Unknown errors are
 * `other`/1000, never thrown. Looks one level into `cause`, where undici and fetch put the
 * system error.
 */
export function classifyNetworkError(error: unknown): ErrorClass {
  const code = errorCode(error) ?? errorCode((error as { cause?: unknown } | null)?.cause);
  switch (code) {
    case 'ECONNREFUSED':
      return REFUSED;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET': // "other side closed": the server dropped the connection mid-request
      return RESET;
    case 'EPIPE':
      return BROKEN_PIPE;
    case 'RESILIENCE_REQUEST_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return REQUEST_TIMEOUT;
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return DIAL_TIMEOUT;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return DIAL_OTHER;
    case 'ENOTFOUND':
      return NO_SUCH_HOST;
    case 'ECONNABORTED':
      return TCP_OTHER;
    default:
      return GENERIC;
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
