/**
 * One problem with the configuration, already rendered for an operator.
 * `variable` is what to change: a `Z4J_*` name, or a file path when the
 * file itself is unreadable.
 */
export interface ConfigIssue {
  readonly variable: string;
  /** What would have been accepted, e.g. `an integer from 8192 to 33554432`. */
  readonly expected: string;
  /** What was found, already quoted or redacted: `"abc"`, `<redacted, 12 bytes>`, `nothing`. */
  readonly got: string;
  /** `VARIABLE: expected ..., got ...` on one line. */
  readonly message: string;
}

/**
 * Thrown for any configuration the brain refuses to start with. The message
 * is one line naming the first problem (the CLI prints it and exits 2); the
 * rest are in `issues`, in the settings table's order, so the first is stable.
 * Secret values never appear in it: see {@link describeGot}.
 */
export class ConfigError extends Error {
  /** Matched by name in `main-runner`, which cannot import this class without a cycle. */
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  readonly variable: string;
  readonly expected: string;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    // Callers always pass at least one issue; the fallback keeps the message well-formed if one ever does not.
    const [first = createIssue('settings', 'a valid configuration', 'an unexplained rejection'), ...rest] = issues;
    const more = rest.length === 0 ? '' : ` (and ${rest.length} more: ${rest.map((issue) => issue.variable).join(', ')})`;
    super(`${first.message}${more}`);
    this.variable = first.variable;
    this.expected = first.expected;
    this.issues = [first, ...rest];
  }
}

export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof ConfigError;
}

/** Longest raw value quoted back in a message; the rest is elided so one bad value cannot flood the terminal. */
const MAX_ECHO = 120;

/**
 * Renders a raw value for the "got" half of a message. Secrets are reduced
 * to their UTF-8 length, which is what the operator needs to see ("too
 * short") and reveals nothing usable.
 */
export function describeGot(raw: string | undefined, secret: boolean): string {
  if (raw === undefined) return 'nothing';
  if (secret) return `<redacted, ${Buffer.byteLength(raw, 'utf8')} bytes>`;
  const shown = raw.length > MAX_ECHO ? `${raw.slice(0, MAX_ECHO)}…` : raw;
  return JSON.stringify(shown);
}

export function createIssue(variable: string, expected: string, got: string): ConfigIssue {
  return { variable, expected, got, message: `${variable}: expected ${expected}, got ${got}` };
}
