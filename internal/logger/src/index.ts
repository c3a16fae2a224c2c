export { createLogger, REDACTED_PATHS } from './create-logger.js';
export type { Logger, LoggerOptions } from './create-logger.js';
