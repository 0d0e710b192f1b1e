import { ApiException } from '@kubernetes/client-node';
import { describeApiError } from '../../cluster/targets/kind/object-client.ts';

/** describeApiError, with the Status message taken out of a body the client left as JSON text. */
export function describeError(error: unknown): string {
  if (error instanceof ApiException && typeof error.body === 'string') {
    try {
      const status = JSON.parse(error.body) as { message?: unknown };
      if (typeof status.message === 'string') return `HTTP ${error.code}: ${status.message}`;
    } catch {
      // Not JSON: describeApiError shows it as it is.
    }
  }
  return describeApiError(error);
}
