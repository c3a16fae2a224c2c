import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isAppError } from '@z4j/errors';
import type { Logger } from '@z4j/logger';

/** `{error, message, request_id, details}`: the one error shape every API response uses. */
export interface ErrorEnvelope {
  readonly error: string;
  readonly message: string;
  readonly request_id: string | null;
  readonly details?: unknown;
}

/**
 * The single place errors become HTTP responses, and the single place they are
 * logged. Unexpected errors are logged with their stack and answered with a
 * generic 500 that leaks nothing.
 */
export function createErrorHandler(logger: Logger) {
  return (error: Error, c: Context): Response => {
    const requestId = (c.get('requestId' as never) as string | undefined) ?? null;
    if (isAppError(error)) {
      const status = error.status as ContentfulStatusCode;
      if (status >= 500) logger.error({ err: error, requestId, code: error.code }, 'http:error');
      const body: ErrorEnvelope = {
        error: error.code.toLowerCase(),
        message: error.expose ? error.message : 'internal error',
        request_id: requestId,
        ...(error.expose && error.details !== undefined ? { details: error.details } : {}),
      };
      return c.json(body, status);
    }
    if (error instanceof HTTPException) {
      const body: ErrorEnvelope = { error: 'http_error', message: error.message || 'request failed', request_id: requestId };
      return c.json(body, error.status);
    }
    logger.error({ err: error, requestId }, 'http:error:unhandled');
    const body: ErrorEnvelope = { error: 'internal_error', message: 'internal error', request_id: requestId };
    return c.json(body, 500);
  };
}
