/**
 * The one error type the brain throws on purpose. `code` is a stable string
 * literal (`SCHEMA_TOO_NEW`, `VALIDATION_FAILED`, ...) that callers branch on;
 * `status` is the HTTP status the API maps it to; `expose` says whether the
 * message may be shown to an HTTP client (internal details never are).
 */
export interface AppErrorOptions {
  readonly status?: number;
  readonly expose?: boolean;
  readonly details?: unknown;
  readonly cause?: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly details: unknown;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? 500;
    this.expose = options.expose ?? this.status < 500;
    this.details = options.details;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
