import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps } from '../http/api-types.js';
import { clearSessionCookies } from '../http/cookies.js';
import { revokeSession, sessionRowExpiry } from '../http/principal.js';
import { sessionPrincipalOf } from './user-view.js';
import { isUuid } from '../http/uuid.js';

/** "Where am I signed in": the caller's own live sessions, and revoking one of them. */
export function createSessionRoutes(deps: ApiDeps): AnyRoute[] {
  const { db, settings } = deps;
  return [
    defineRoute({
      method: 'GET',
      path: '/auth/sessions',
      tag: 'auth',
      summary: 'The own live sessions, newest activity first',
      access: { kind: 'signed_in' },
      handler: async ({ c, principal }) => {
        const now = deps.now();
        const rows = await db
          .selectFrom('sessions')
          .innerJoin('users', 'users.id', 'sessions.user_id')
          .select([
            'sessions.id',
            'sessions.issued_at',
            'sessions.last_seen_at',
            'sessions.remember_me',
            'sessions.ip_at_issue',
            'sessions.user_agent_at_issue',
            'users.password_changed_at',
          ])
          .where('sessions.user_id', '=', principal.user.id)
          .where('sessions.revoked_at', 'is', null)
          .where('sessions.expires_at', '>', now)
          .orderBy('sessions.last_seen_at', 'desc')
          .orderBy('sessions.id')
          .execute();
        // The same validity rule the pipeline applies (idle timeout, password change), so a listed session works.
        const live = rows.filter((row) => sessionRowExpiry(row, settings, now).valid);
        return c.json(
          live.map((row) => ({
            id: row.id,
            issued_at: row.issued_at.toISOString(),
            last_seen_at: row.last_seen_at.toISOString(),
            ip: row.ip_at_issue,
            user_agent: row.user_agent_at_issue,
            current: principal.kind === 'session' && principal.session.id === row.id,
          })),
        );
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/auth/sessions/:sessionId/revoke',
      tag: 'auth',
      summary: 'Revoke one of the own sessions (another user’s session answers 404)',
      access: { kind: 'signed_in' },
      status: 204,
      handler: async ({ c, params, principal, audit }) => {
        const caller = sessionPrincipalOf(principal);
        const sessionId = params.sessionId ?? '';
        if (!isUuid(sessionId)) throw apiError.notFound('session');
        const current = sessionId.toLowerCase() === caller.session.id;
        await db.transaction().execute(async (trx) => {
          const row = await trx
            .selectFrom('sessions')
            .select(['id', 'revoked_at'])
            .where('id', '=', sessionId)
            .where('user_id', '=', caller.user.id)
            .executeTakeFirst();
          if (!row) throw apiError.notFound('session');
          if (row.revoked_at !== null) return;
          await revokeSession(trx, row.id, current ? 'logout' : 'user_revoked', deps.now());
          await audit(
            { action: 'user.session.revoked', target_type: 'session', target_id: row.id, result: 'success', metadata: { current } },
            trx,
          );
        });
        if (current) clearSessionCookies(c, deps);
        return c.body(null, 204);
      },
    }),
  ];
}
