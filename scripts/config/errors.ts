/** One invalid field: where it is, what was given, and what is allowed. */
export interface ConfigIssue {
  /** Dotted path from the config's root, e.g. "suites.api.load.rate". */
  path: string;
  /** The value found there, JSON-encoded (or "missing"). */
  given: string;
  /** What is allowed there. */
  expected: string;
}

/** The config (or a flag) is invalid. The CLI prints every issue and exits with code 2. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(
      `invalid config in ${file}:\n` +
        issues.map((i) => `  ✖ ${i.path || '(root)'}: got ${i.given}; ${i.expected}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** JSON for a value found in the config, shortened for messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'function') return 'a function';
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = typeof value;
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
