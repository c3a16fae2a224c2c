import type { Kysely } from 'kysely';
import * as v from 'valibot';
import { isUniqueViolation, type Database } from '@z4j/db';
import type { AuditEntry, AuditRow } from '@z4j/audit';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps } from '../http/api-types.js';
import { decodeTextCursor, pageOf, paginationQuery } from '../http/pagination.js';
import { revokeUserSessions } from '../http/principal.js';
import { EmailField, NameField, PasswordField, USER_VIEW_COLUMNS, assertPasswordPolicy, escapeLike, userView } from './user-fields.js';
import { isUuid } from '../http/uuid.js';

const CreateUserBody = v.object({
  email: EmailField,
  password: PasswordField,
  display_name: NameField,
  is_admin: v.optional(v.boolean(), false),
});

const UpdateUserBody = v.pipe(
  v.object({
    display_name: NameField,
    first_name: NameField,
    last_name: NameField,
    is_admin: v.optional(v.boolean()),
    is_active: v.optional(v.boolean()),
  }),
  v.check((body) => Object.values(body).some((value) => value !== undefined), 'expected at least one field to change'),
);
type UpdateUserInput = v.InferOutput<typeof UpdateUserBody>;

const SetPasswordBody = v.object({ password: PasswordField });

/** The profile fields PATCH may change, in the order the audit row lists them. */
const PROFILE_FIELDS = ['display_name', 'first_name', 'last_name', 'is_admin', 'is_active'] as const;

/**
 * User administration (§5.2 `/users`, global admin only; writes need fresh
 * MFA). Users are deactivated, never deleted, so their audit rows keep a
 * real author. Two invariants hold under concurrency: there is always at
 * least one active global admin (demotion and deactivation lock the active
 * admins' rows first, so two admins demoting each other cannot both win),
 * and a deactivated user or a reset password ends every session at once.
 */
export function createUserRoutes(deps: ApiDeps): AnyRoute[] {
  const ListUsersQuery = v.object({
    ...paginationQuery(deps.settings).entries,
    search: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(200))),
  });

  async function loadUser(db: Kysely<Database>, userId: string | undefined) {
    if (!isUuid(userId)) throw apiError.notFound('user');
    const row = await db.selectFrom('users').select(USER_VIEW_COLUMNS).where('users.id', '=', userId).executeTakeFirst();
    if (!row) throw apiError.notFound('user');
    return row;
  }

  /**
   * The active global admins, row-locked for the rest of the transaction. Locking them all serialises concurrent
   * demotions: the second waits, re-reads, and sees one admin fewer.
   */
  async function lockActiveAdmins(trx: Kysely<Database>): Promise<string[]> {
    const admins = await trx
      .selectFrom('users')
      .select('id')
      .where('is_admin', '=', true)
      .where('is_active', '=', true)
      .orderBy('id')
      .forUpdate()
      .execute();
    return admins.map((admin) => admin.id);
  }

  async function updateUser(userId: string | undefined, input: UpdateUserInput, audit: RouteAudit) {
    if (!isUuid(userId)) throw apiError.notFound('user');
    const demoting = input.is_admin === false || input.is_active === false;
    return deps.db.transaction().execute(async (trx) => {
      const admins = demoting ? await lockActiveAdmins(trx) : [];
      const current = await trx.selectFrom('users').select(USER_VIEW_COLUMNS).where('users.id', '=', userId).forUpdate().executeTakeFirst();
      if (!current) throw apiError.notFound('user');
      if (demoting && current.is_admin && current.is_active && !admins.some((id) => id !== userId)) {
        throw apiError.conflict('this is the last active global admin; make another user a global admin first');
      }
      const changes: Record<string, { from: string | boolean | null; to: string | boolean | null }> = {};
      for (const field of PROFILE_FIELDS) {
        const next = input[field];
        if (next !== undefined && next !== current[field]) changes[field] = { from: current[field], to: next };
      }
      if (Object.keys(changes).length === 0) return current;
      const now = deps.now();
      const updated = await trx
        .updateTable('users')
        .set({
          ...Object.fromEntries(Object.entries(changes).map(([field, change]) => [field, change.to])),
          updated_at: now,
        })
        .where('id', '=', userId)
        .returning(USER_VIEW_COLUMNS)
        .executeTakeFirstOrThrow();
      const revoked = changes.is_active?.to === false ? await revokeUserSessions(trx, userId, 'deactivated', now) : 0;
      await audit(
        {
          action: 'user.updated',
          target_type: 'user',
          target_id: userId,
          result: 'success',
          project_id: null,
          metadata: { email: current.email, changes, sessions_revoked: revoked },
        },
        trx,
      );
      return updated;
    });
  }

  return [
    defineRoute({
      method: 'GET',
      path: '/users',
      tag: 'users',
      summary: 'List users (cursor paginated, ordered by email; ?search= matches email or display name)',
      access: { kind: 'global_admin' },
      query: ListUsersQuery,
      handler: async ({ c, query }) => {
        const after = decodeTextCursor(query.cursor);
        const pattern = query.search ? `%${escapeLike(query.search)}%` : undefined;
        const rows = await deps.db
          .selectFrom('users')
          .select(USER_VIEW_COLUMNS)
          .$if(pattern !== undefined, (q) =>
            q.where((eb) => eb.or([eb('users.email', 'ilike', pattern!), eb('users.display_name', 'ilike', pattern!)])),
          )
          .$if(after !== undefined, (q) =>
            q.where((eb) => {
              const [email, id] = after as [string, string];
              return eb.or([eb('users.email', '>', email), eb.and([eb('users.email', '=', email), eb('users.id', '>', id)])]);
            }),
          )
          .orderBy('users.email')
          .orderBy('users.id')
          .limit(query.limit + 1)
          .execute();
        const page = pageOf(rows, query.limit, (row) => [row.email, row.id]);
        return c.json({ items: page.items.map(userView), next_cursor: page.next_cursor });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/users',
      tag: 'users',
      summary: 'Create a user (409 when the email is taken)',
      access: { kind: 'global_admin' },
      freshMfa: true,
      body: CreateUserBody,
      status: 201,
      handler: async ({ c, body, audit }) => {
        assertPasswordPolicy(body.password, body.email, deps.settings.passwordMinLength);
        const taken = await deps.db.selectFrom('users').select('id').where('email', '=', body.email).executeTakeFirst();
        if (taken) throw apiError.conflict('a user with this email already exists');
        const passwordHash = await deps.passwords.hash(body.password);
        const now = deps.now();
        try {
          const created = await deps.db.transaction().execute(async (trx) => {
            const row = await trx
              .insertInto('users')
              .values({
                email: body.email,
                password_hash: passwordHash,
                display_name: body.display_name ?? null,
                is_admin: body.is_admin,
                created_at: now,
                updated_at: now,
              })
              .returning(USER_VIEW_COLUMNS)
              .executeTakeFirstOrThrow();
            await audit(
              {
                action: 'user.created',
                target_type: 'user',
                target_id: row.id,
                result: 'success',
                project_id: null,
                metadata: { email: row.email, is_admin: row.is_admin },
              },
              trx,
            );
            return row;
          });
          return c.json(userView(created), 201);
        } catch (error) {
          if (isUniqueViolation(error)) throw apiError.conflict('a user with this email already exists');
          throw error;
        }
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/users/:userId',
      tag: 'users',
      summary: 'One user, with their project memberships',
      access: { kind: 'global_admin' },
      handler: async ({ c, params }) => {
        const user = await loadUser(deps.db, params.userId);
        const memberships = await deps.db
          .selectFrom('memberships')
          .innerJoin('projects', 'projects.id', 'memberships.project_id')
          .select([
            'memberships.id',
            'memberships.project_id',
            'projects.slug as project_slug',
            'projects.name as project_name',
            'memberships.role',
          ])
          .where('memberships.user_id', '=', user.id)
          .orderBy('projects.slug')
          .execute();
        return c.json({ ...userView(user), memberships });
      },
    }),
    defineRoute({
      method: 'PATCH',
      path: '/users/:userId',
      tag: 'users',
      summary: 'Change a user (deactivating revokes their sessions; the last active global admin cannot be demoted or deactivated)',
      access: { kind: 'global_admin' },
      freshMfa: true,
      body: UpdateUserBody,
      handler: async ({ c, body, params, audit }) => c.json(userView(await updateUser(params.userId, body, audit))),
    }),
    defineRoute({
      method: 'POST',
      path: '/users/:userId/password',
      tag: 'users',
      summary: "Set a user's password (revokes their sessions and clears a lockout)",
      access: { kind: 'global_admin' },
      freshMfa: true,
      body: SetPasswordBody,
      status: 204,
      handler: async ({ c, body, params, audit }) => {
        const user = await loadUser(deps.db, params.userId);
        assertPasswordPolicy(body.password, user.email, deps.settings.passwordMinLength);
        const passwordHash = await deps.passwords.hash(body.password);
        await deps.db.transaction().execute(async (trx) => {
          const now = deps.now();
          const updated = await trx
            .updateTable('users')
            .set({
              password_hash: passwordHash,
              password_changed_at: now,
              failed_login_count: 0,
              locked_until: null,
              updated_at: now,
            })
            .where('id', '=', user.id)
            .executeTakeFirst();
          if (updated.numUpdatedRows === 0n) throw apiError.notFound('user');
          const revoked = await revokeUserSessions(trx, user.id, 'password_set_by_admin', now);
          await audit(
            {
              action: 'user.password_set',
              target_type: 'user',
              target_id: user.id,
              result: 'success',
              project_id: null,
              metadata: { email: user.email, sessions_revoked: revoked },
            },
            trx,
          );
        });
        return c.body(null, 204);
      },
    }),
  ];
}

/** The request's audit writer, as the route runner hands it to a handler. */
type RouteAudit = (entry: AuditEntry, trx?: Kysely<Database>) => Promise<AuditRow>;
