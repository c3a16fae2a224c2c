import { apiError } from '../http/api-errors.js';
import type { Principal } from '../http/api-types.js';

/** The `users` columns {@link userView} reads; select these (`users.` prefixed or not) wherever a view is built. */
export const USER_VIEW_COLUMNS = [
  'id',
  'email',
  'display_name',
  'first_name',
  'last_name',
  'is_admin',
  'timezone',
  'mfa_enrolled_at',
  'created_at',
] as const;

export interface UserViewRow {
  readonly id: string;
  readonly email: string;
  readonly display_name: string | null;
  readonly first_name: string | null;
  readonly last_name: string | null;
  readonly is_admin: boolean;
  readonly timezone: string;
  readonly mfa_enrolled_at: Date | null;
  readonly created_at: Date;
}

/** The signed-in user as the API shows it (login and `me` answer with exactly this). */
export interface UserView {
  readonly id: string;
  readonly email: string;
  readonly display_name: string | null;
  readonly first_name: string | null;
  readonly last_name: string | null;
  readonly is_admin: boolean;
  readonly timezone: string;
  readonly mfa_enrolled: boolean;
  readonly created_at: string;
}

export function userView(row: UserViewRow): UserView {
  return {
    id: row.id,
    email: row.email,
    display_name: row.display_name,
    first_name: row.first_name,
    last_name: row.last_name,
    is_admin: row.is_admin,
    timezone: row.timezone,
    mfa_enrolled: row.mfa_enrolled_at !== null,
    created_at: row.created_at.toISOString(),
  };
}

/**
 * The browser session of a caller. Auth write routes are closed to API keys
 * by the pipeline already; this narrows the type and keeps that guarantee
 * local to the routes that rely on it.
 */
export function sessionPrincipalOf(principal: Principal): Extract<Principal, { kind: 'session' }> {
  if (principal.kind !== 'session') throw apiError.forbidden('this route needs a signed-in browser session; API keys cannot use it');
  return principal;
}
