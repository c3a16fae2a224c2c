/**
 * `@z4j/redaction`: the redaction engine the brain runs on every ingested event and the TypeScript agents run before
 * sending. See README.md for what is redacted by default.
 *
 * @example
 * import { createRedactor } from '@z4j/redaction';
 * const redactor = createRedactor();
 * redactor.redact({ kwargs: { email: 'a@b.co', password: 'hunter2', user_id: 5 } }).value;
 * // { kwargs: { email: '[REDACTED]', password: '[REDACTED]', user_id: 5 } }
 */
export { createRedactor } from './redactor.js';
export type { RedactionResult, Redactor, RedactorOptions } from './redactor.js';
export { DEFAULT_KEY_NAMES, DEFAULT_VALUE_PATTERNS } from './default-patterns.js';
export type { DefaultValuePattern } from './default-patterns.js';
export { RedactionConfigError } from './redaction-config-error.js';
export { truncateUtf8, truncationSuffix } from './truncate-utf8.js';
