import type { IncomingMessage } from 'node:http';

/** Request and response plumbing shared by the handlers. */

/** A client error with its status; `field` names the input at fault, when there is one. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** What a handler answers. `text` bodies are sent as is (metrics); anything else as JSON. */
export interface Reply {
  status: number;
  body?: unknown;
  text?: { contentType: string; content: string };
  headers?: Record<string, string>;
}

/** The JSON body every error response carries. */
export interface ErrorBody {
  error: string;
  field?: string;
}

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads and parses a JSON request body of at most `limitBytes`. Throws HttpError 413 when larger
 * (by Content-Length before reading, or while reading), 415 for another content type, 400 for
 * invalid JSON.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes = MAX_BODY_BYTES): Promise<unknown> {
  const contentType = req.headers['content-type'];
  if (contentType !== undefined && !/^application\/(.+\+)?json\b/i.test(contentType)) {
    throw new HttpError(415, `Content-Type must be application/json, got ${contentType}`);
  }
  const tooLarge = new HttpError(413, `request body larger than ${limitBytes} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw tooLarge;
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'request body must be a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}
