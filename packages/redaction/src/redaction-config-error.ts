/**
 * Thrown by {@link createRedactor} when its options cannot be used: a pattern that does not compile, a value pattern
 * that matches the empty string (it would redact every string), or an out-of-range limit. The brain turns it into a
 * startup refusal; the message names the option and the pattern so the operator knows what to fix.
 *
 * @example
 * try {
 *   createRedactor({ extraValuePatterns: ['(unclosed'] });
 * } catch (error) {
 *   if (error instanceof RedactionConfigError) console.error(error.option, error.pattern, error.message);
 * }
 */
export class RedactionConfigError extends Error {
  /** Stable code for logs and error envelopes. */
  readonly code = 'REDACTION_CONFIG_INVALID';

  constructor(
    message: string,
    /** The option at fault, e.g. `extraValuePatterns`. */
    readonly option: string,
    /** The offending pattern, when a pattern is at fault. */
    readonly pattern?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RedactionConfigError';
  }
}
