/**
 * One JSON object per line on stdout, the way a container's logs are collected. During a chaos
 * experiment the same dependency error repeats thousands of times a second: `throttled` logs a
 * given key at most once per interval and says how many were suppressed, so logs stay readable
 * and the log file does not compete with the API for the disk.
 */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Like `error`, at most once per `intervalMs` (default 5 s) per `key`. */
  throttled(key: string, msg: string, fields?: Record<string, unknown>, intervalMs?: number): void;
}

export function createLogger(replica: string, write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const emit = (level: string, msg: string, fields?: Record<string, unknown>): void => {
    write(`${JSON.stringify({ time: new Date().toISOString(), level, replica, msg, ...fields })}\n`);
  };
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  return {
    info: (msg, fields) => emit('info', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    throttled(key, msg, fields, intervalMs = 5_000) {
      const now = Date.now();
      const entry = lastLogged.get(key);
      if (entry && now - entry.at < intervalMs) {
        entry.suppressed++;
        return;
      }
      emit('error', msg, { ...fields, ...(entry?.suppressed ? { suppressedSinceLast: entry.suppressed } : {}) });
      lastLogged.set(key, { at: now, suppressed: 0 });
    },
  };
}

/** The message of an unknown thrown value, for log fields and error bodies. */
export function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(errorMessage).join('; ');
  if (error instanceof Error) return error.message || (error as NodeJS.ErrnoException).code || error.name;
  return String(error);
}
