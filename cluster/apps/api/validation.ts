import type { ContactInput } from './db.ts';
import { HttpError } from './http.ts';

/** Input checks. Each failure is an HttpError 400 whose `field` names the offending input. */

const MAX_TEXT = 200;
const MAX_EMAIL = 254;
// Deliberately loose: one @, something on both sides, a dot in the domain, no whitespace.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function parseContactInput(body: unknown): ContactInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'request body must be a JSON object');
  const fields = body as Record<string, unknown>;

  const name = typeof fields.name === 'string' ? fields.name.trim() : undefined;
  if (!name || name.length > MAX_TEXT) throw new HttpError(400, `name is required: a non-empty string of at most ${MAX_TEXT} characters`, 'name');

  const email = typeof fields.email === 'string' ? fields.email.trim() : undefined;
  if (!email || email.length > MAX_EMAIL || !EMAIL.test(email)) throw new HttpError(400, 'email is required: an e-mail address such as ada@example.com', 'email');

  let company: string | null = null;
  if (fields.company !== undefined && fields.company !== null) {
    if (typeof fields.company !== 'string' || fields.company.trim().length > MAX_TEXT) {
      throw new HttpError(400, `company must be a string of at most ${MAX_TEXT} characters, or null`, 'company');
    }
    company = fields.company.trim() || null;
  }
  return { name, email, company };
}

/** A contact id from the path: a positive integer. */
export function parseId(raw: string | undefined): number {
  const id = raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : 0;
  if (id < 1) throw new HttpError(400, 'id must be a positive integer', 'id');
  return id;
}

/** An optional integer query parameter within [min, max]. */
export function parseIntParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max)) throw new HttpError(400, `${name} must be an integer from ${min} to ${max}`, name);
  return value;
}

/** The search term: required, at most 200 characters. */
export function parseSearchTerm(params: URLSearchParams): string {
  const q = params.get('q')?.trim();
  if (!q || q.length > MAX_TEXT) throw new HttpError(400, `q is required: a search term of 1 to ${MAX_TEXT} characters`, 'q');
  return q;
}
