import type * as v from 'valibot';
import { AppError } from '@z4j/errors';

/** One field problem in a 422 `validation_failed` reply: where (dotted path, `body.email`) and what. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** Turns valibot issues into {@link FieldError}s prefixed with where the input came from (body, query, path). */
export function fieldErrors(where: string, issues: readonly v.BaseIssue<unknown>[]): FieldError[] {
  return issues.map((issue) => {
    const path = (issue.path ?? []).map((item) => String(item.key)).join('.');
    return { field: path ? `${where}.${path}` : where, message: issue.message };
  });
}

/**
 * The API's error vocabulary (§5.1): each becomes `{error, message, request_id, details}` with its status
 * through the runtime's one error handler. Messages are shown to clients, so they never carry secrets.
 */
export const apiError = {
  validation: (errors: readonly FieldError[]) =>
    new AppError(
      'VALIDATION_FAILED',
      errors
        .map((error) => `${error.field}: ${error.message}`)
        .join('; ')
        .slice(0, 500),
      {
        status: 422,
        details: { errors },
      },
    ),
  unauthenticated: (message = 'authentication required') => new AppError('UNAUTHENTICATED', message, { status: 401 }),
  forbidden: (message = 'not allowed') => new AppError('FORBIDDEN', message, { status: 403 }),
  notFound: (what: string) => new AppError('NOT_FOUND', `${what} not found`, { status: 404 }),
  conflict: (message: string) => new AppError('CONFLICT', message, { status: 409 }),
  rateLimited: (message = 'too many requests; try again later') => new AppError('RATE_LIMITED', message, { status: 429 }),
  mfaRequired: () =>
    new AppError('MFA_REQUIRED', 'this session must verify its MFA code first (POST /api/v1/auth/mfa/verify)', { status: 401 }),
  mfaReverifyRequired: () =>
    new AppError('MFA_REVERIFY_REQUIRED', 'this action needs a recent MFA verification (POST /api/v1/auth/mfa/verify)', { status: 403 }),
  mfaEnrollmentRequired: () =>
    new AppError('MFA_ENROLLMENT_REQUIRED', 'MFA is required for this account: enrol first (POST /api/v1/auth/mfa/enroll-start)', {
      status: 403,
    }),
  csrf: () => new AppError('CSRF_FAILED', 'missing or wrong X-CSRF-Token header', { status: 403 }),
};
