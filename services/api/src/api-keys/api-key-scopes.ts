import { SCOPED_TAGS } from '../http/api-types.js';

/** Covers every scoped tag, reads and writes; only global admins may put it on a key. */
export const ADMIN_SCOPE = 'admin:*';

export interface ApiKeyScope {
  readonly scope: string;
  /** The route tag it opens, or `*`. */
  readonly tag: string;
  readonly access: 'read' | 'write' | 'all';
  readonly admin_only: boolean;
}

/**
 * The scopes a key can carry (§5.1): `<tag>:read|write` for every tag an API
 * key can reach, plus `admin:*`. `auth` is read-only for keys (the runner
 * refuses Bearer calls on auth writes whatever the scopes), so `auth:write`
 * would grant nothing and is not offered.
 */
export const API_KEY_SCOPES: readonly ApiKeyScope[] = [
  ...[...SCOPED_TAGS].flatMap((tag) =>
    (tag === 'auth' ? (['read'] as const) : (['read', 'write'] as const)).map((access): ApiKeyScope => ({
      scope: `${tag}:${access}`,
      tag,
      access,
      admin_only: false,
    })),
  ),
  { scope: ADMIN_SCOPE, tag: '*', access: 'all', admin_only: true },
];

export const API_KEY_SCOPE_NAMES: readonly string[] = API_KEY_SCOPES.map((entry) => entry.scope);
