export { AppError, isAppError } from './app-error.js';
export type { AppErrorOptions } from './app-error.js';
