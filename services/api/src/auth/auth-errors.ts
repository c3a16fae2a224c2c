import { AppError } from '@z4j/errors';

/**
 * The one answer to every failed sign-in (unknown email, wrong password,
 * inactive or locked account) and to a wrong current password: the same
 * status, code and message whatever the cause, so the reply tells nothing.
 */
export function invalidCredentials(): AppError {
  return new AppError('INVALID_CREDENTIALS', 'invalid email or password', { status: 401 });
}

/** Sign-in takes JSON only: a cross-site HTML form cannot send it without a CORS preflight (login CSRF). */
export function unsupportedMediaType(): AppError {
  return new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the request body as application/json', { status: 415 });
}
