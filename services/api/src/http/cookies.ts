import { deleteCookie, setCookie } from 'hono/cookie';
import { REMEMBER_ME_LIFETIME_SECONDS, cookieNames, signSessionCookie } from '@z4j/identity';
import type { ApiContext, ApiDeps } from './api-types.js';

/**
 * The session cookie (HttpOnly, SameSite from Z4J_SESSION_COOKIE_SAMESITE,
 * Secure over HTTPS) and its CSRF echo cookie (readable by the dashboard's
 * JavaScript, SameSite Strict). `__Host-` names over HTTPS pin both to this
 * exact host and path `/`.
 */
export function setSessionCookies(
  c: ApiContext,
  deps: ApiDeps,
  session: { readonly id: string; readonly csrfToken: string; readonly rememberMe: boolean },
): void {
  const names = cookieNames(deps.secureCookies);
  const maxAge = session.rememberMe ? REMEMBER_ME_LIFETIME_SECONDS : deps.settings.sessionAbsoluteLifetimeSeconds;
  const sameSite = deps.settings.sessionCookieSamesite === 'strict' ? 'Strict' : 'Lax';
  setCookie(c, names.session, signSessionCookie(session.id, deps.settings.sessionSecret), {
    path: '/',
    httpOnly: true,
    secure: deps.secureCookies,
    sameSite,
    // Without remember-me the cookie ends with the browser session; the row's own lifetimes still apply.
    ...(session.rememberMe ? { maxAge } : {}),
  });
  setCookie(c, names.csrf, session.csrfToken, {
    path: '/',
    httpOnly: false,
    secure: deps.secureCookies,
    sameSite: 'Strict',
    ...(session.rememberMe ? { maxAge } : {}),
  });
}

export function clearSessionCookies(c: ApiContext, deps: ApiDeps): void {
  const names = cookieNames(deps.secureCookies);
  deleteCookie(c, names.session, { path: '/', secure: deps.secureCookies });
  deleteCookie(c, names.csrf, { path: '/', secure: deps.secureCookies });
}
