/**
 * The subset of k6's built-in modules that `runtime.ts` uses, typed after k6's documentation
 * (https://grafana.com/docs/k6/latest/javascript-api/). k6 provides these modules at run time;
 * nothing here exists in Node (tests resolve them to `k6-test-double/`).
 */
declare module 'k6/http' {
  export type ExpectedStatusArg = number | { min: number; max: number };
  /** Opaque: a callback k6 evaluates natively to set the `expected_response` tag. */
  export interface ResponseCallback {
    readonly __k6ResponseCallback?: true;
  }
  export interface Params {
    headers?: Record<string, string>;
    tags?: Record<string, string>;
    /** A duration string (`"60s"`) or milliseconds. */
    timeout?: string | number;
    responseCallback?: ResponseCallback | null;
  }
  export interface RefinedResponse {
    status: number;
    headers: Record<string, string>;
    /** null when bodies are discarded or the request failed before a response. */
    body: string | null;
    /** Non-empty when the request failed (e.g. connection refused); `status` is then 0. */
    error: string;
    error_code: number;
  }
  interface K6Http {
    request(method: string, url: string, body?: string | null, params?: Params): RefinedResponse;
    asyncRequest(method: string, url: string, body?: string | null, params?: Params): Promise<RefinedResponse>;
    expectedStatuses(...statuses: ExpectedStatusArg[]): ResponseCallback;
  }
  const http: K6Http;
  export default http;
}

declare module 'k6' {
  export function check<T>(value: T, sets: Record<string, (value: T) => boolean>, tags?: Record<string, string>): boolean;
}

declare module 'k6/execution' {
  interface K6Execution {
    scenario: { name: string; iterationInTest: number; iterationInInstance: number };
    vu: { idInTest: number; idInInstance: number; iterationInScenario: number; iterationInInstance: number };
  }
  const execution: K6Execution;
  export default execution;
}

/** k6's environment variables (`-e NAME=value` and, by default, the system environment). */
declare const __ENV: Record<string, string | undefined>;
