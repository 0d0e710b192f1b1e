import pg from 'pg';
import type { ApiConfig } from './config.ts';
import { errorMessage, type Logger } from './log.ts';

/** PostgreSQL access: the connection pool, the schema, and the contacts repository. */

export interface Contact {
  id: number;
  name: string;
  email: string;
  company: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ContactInput {
  name: string;
  email: string;
  company: string | null;
}

/**
 * A pool that never crashes the process: errors of idle connections (PostgreSQL restarted or
 * killed by a chaos experiment) are logged, and the pool opens new connections on demand.
 */
export function createPool(config: ApiConfig, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.pgPoolSize,
    connectionTimeoutMillis: config.pgConnectTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: `hastecrm-api ${config.replicaName}`,
    ...(config.pgStatementTimeoutMs > 0
      ? {
          statement_timeout: config.pgStatementTimeoutMs,
          // Client-side bound too: a frozen (paused) server never sends the statement-timeout error.
          query_timeout: config.pgStatementTimeoutMs + 1_000,
        }
      : {}),
  });
  pool.on('error', (error) => log.throttled('pg-idle', 'idle PostgreSQL connection failed', { error: errorMessage(error) }));
  return pool;
}

/** Any integer key, the same for every replica: serialises their schema creation. */
const SCHEMA_LOCK_KEY = 4_815_162_342;

/**
 * Creates the table and index if absent. Idempotent and safe to run from several replicas at
 * once: concurrent `CREATE TABLE IF NOT EXISTS` can still fail on the catalog's unique index,
 * so the DDL runs under a transaction-scoped advisory lock.
 */
export async function ensureSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS contacts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name text NOT NULL,
      email text NOT NULL,
      company text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await client.query('CREATE INDEX IF NOT EXISTS contacts_email_lower_idx ON contacts (lower(email))');
    await client.query('COMMIT');
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    // A connection that failed mid-transaction is discarded rather than returned to the pool.
    client.release(broken);
  }
}

interface ContactRow {
  id: string; // bigint arrives as a string
  name: string;
  email: string;
  company: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, name, email, company, created_at, updated_at';

function toContact(row: ContactRow): Contact {
  return {
    id: Number(row.id),
    name: row.name,
    email: row.email,
    company: row.company,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** The contacts table. Every method runs one statement; errors propagate (see isUnavailable). */
export class ContactRepository {
  constructor(private readonly pool: pg.Pool) {}

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async list(limit: number, offset: number): Promise<Contact[]> {
    const result = await this.pool.query<ContactRow>(`SELECT ${COLUMNS} FROM contacts ORDER BY id LIMIT $1 OFFSET $2`, [limit, offset]);
    return result.rows.map(toContact);
  }

  async get(id: number): Promise<Contact | undefined> {
    const result = await this.pool.query<ContactRow>(`SELECT ${COLUMNS} FROM contacts WHERE id = $1`, [id]);
    const row = result.rows[0];
    return row ? toContact(row) : undefined;
  }

  async create(input: ContactInput): Promise<Contact> {
    const result = await this.pool.query<ContactRow>(`INSERT INTO contacts (name, email, company) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`, [input.name, input.email, input.company]);
    const row = result.rows[0];
    if (!row) throw new Error('INSERT … RETURNING returned no row');
    return toContact(row);
  }

  async update(id: number, input: ContactInput): Promise<Contact | undefined> {
    const result = await this.pool.query<ContactRow>(
      `UPDATE contacts SET name = $2, email = $3, company = $4, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, input.name, input.email, input.company],
    );
    const row = result.rows[0];
    return row ? toContact(row) : undefined;
  }

  async delete(id: number): Promise<boolean> {
    const result = await this.pool.query('DELETE FROM contacts WHERE id = $1', [id]);
    return (result.rowCount ?? 0) > 0;
  }

  /** Case-insensitive substring match on name, email or company; `q` is taken literally. */
  async search(q: string, limit: number): Promise<Contact[]> {
    const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const result = await this.pool.query<ContactRow>(
      `SELECT ${COLUMNS} FROM contacts WHERE name ILIKE $1 OR email ILIKE $1 OR company ILIKE $1 ORDER BY id LIMIT $2`,
      [pattern, limit],
    );
    return result.rows.map(toContact);
  }
}

/**
 * True for errors that mean "PostgreSQL is unavailable right now" (answer 503, a client may
 * retry) rather than a bug (500): connection failures and timeouts, pool exhaustion, the server
 * shutting down or out of resources, and the schema not created yet.
 */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    // SQLSTATE classes 08 connection exception, 53 insufficient resources, 57 operator intervention.
    if (/^(08|53|57)/.test(code)) return true;
    if (code === '42P01') return true; // undefined_table: schema creation still pending
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code)) return true;
  }
  const message = errorMessage(error);
  return /timeout exceeded when trying to connect|Connection terminated|Query read timeout|connection timeout|Client has encountered a connection error/i.test(message);
}
