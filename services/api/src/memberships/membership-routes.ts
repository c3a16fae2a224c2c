import type { Kysely } from 'kysely';
import * as v from 'valibot';
import { isUniqueViolation, type Database } from '@z4j/db';
import { apiError } from '../http/api-errors.js';
import { PROJECT_ROLES, defineRoute, type AnyRoute, type ApiDeps, type ProjectRole } from '../http/api-types.js';
import { decodeTextCursor, pageOf, paginationQuery } from '../http/pagination.js';
import { EmailField } from '../users/user-fields.js';
import { isUuid } from '../http/uuid.js';

const RoleField = v.picklist(PROJECT_ROLES, `expected one of ${PROJECT_ROLES.join(', ')}`);

const AddMemberBody = v.pipe(
  v.object({
    email: v.optional(EmailField),
    user_id: v.optional(v.pipe(v.string(), v.uuid('expected a user id'))),
    role: RoleField,
  }),
  v.check((body) => (body.email === undefined) !== (body.user_id === undefined), 'give exactly one of email or user_id'),
);

const ChangeRoleBody = v.object({ role: RoleField });

const MEMBERSHIP_COLUMNS = [
  'memberships.id',
  'memberships.project_id',
  'memberships.user_id',
  'memberships.role',
  'memberships.created_at',
  'memberships.updated_at',
  'users.email',
  'users.display_name',
  'users.is_active',
] as const;

interface MembershipRow {
  id: string;
  project_id: string;
  user_id: string;
  role: ProjectRole;
  created_at: Date;
  updated_at: Date;
  email: string;
  display_name: string | null;
  is_active: boolean;
}

function membershipView(row: MembershipRow) {
  return {
    id: row.id,
    project_id: row.project_id,
    user_id: row.user_id,
    role: row.role,
    email: row.email,
    display_name: row.display_name,
    user_is_active: row.is_active,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function selectMembership(db: Kysely<Database>) {
  return db.selectFrom('memberships').innerJoin('users', 'users.id', 'memberships.user_id').select(MEMBERSHIP_COLUMNS);
}

/**
 * Project memberships (§5.2 `/projects/{slug}/memberships`, project admin;
 * writes need fresh MFA). A project is never left without an admin: the
 * last admin membership of an active user cannot be demoted or removed
 * (409). Every write locks the project row first, so concurrent writes to
 * one project's memberships run one after another and two admins demoting
 * each other cannot both pass the check.
 */
export function createMembershipRoutes(deps: ApiDeps): AnyRoute[] {
  const ListQuery = paginationQuery(deps.settings);

  /** Locks the project (serialising its membership writes) and loads the membership, 404 when it is another project's. */
  async function lockMembership(trx: Kysely<Database>, projectId: string, membershipId: string | undefined): Promise<MembershipRow> {
    if (!isUuid(membershipId)) throw apiError.notFound('membership');
    await trx.selectFrom('projects').select('id').where('id', '=', projectId).forUpdate().executeTakeFirst();
    const row = await selectMembership(trx)
      .where('memberships.id', '=', membershipId)
      .where('memberships.project_id', '=', projectId)
      .executeTakeFirst();
    if (!row) throw apiError.notFound('membership');
    return row;
  }

  /** Refuses taking the admin role away from `row` when no other active user would keep it. */
  async function assertNotLastAdmin(trx: Kysely<Database>, row: MembershipRow): Promise<void> {
    if (row.role !== 'admin' || !row.is_active) return;
    const other = await trx
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select('memberships.id')
      .where('memberships.project_id', '=', row.project_id)
      .where('memberships.role', '=', 'admin')
      .where('memberships.id', '<>', row.id)
      .where('users.is_active', '=', true)
      .limit(1)
      .executeTakeFirst();
    if (!other) throw apiError.conflict("this is the project's last admin; make another member an admin first");
  }

  return [
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/memberships',
      tag: 'memberships',
      summary: "The project's members with their roles (cursor paginated, ordered by email)",
      access: { kind: 'project', role: 'admin' },
      query: ListQuery,
      handler: async ({ c, query, project }) => {
        const after = decodeTextCursor(query.cursor);
        const rows = await selectMembership(deps.db)
          .where('memberships.project_id', '=', project.id)
          .$if(after !== undefined, (q) =>
            q.where((eb) => {
              const [email, id] = after as [string, string];
              return eb.or([eb('users.email', '>', email), eb.and([eb('users.email', '=', email), eb('memberships.id', '>', id)])]);
            }),
          )
          .orderBy('users.email')
          .orderBy('memberships.id')
          .limit(query.limit + 1)
          .execute();
        const page = pageOf(rows, query.limit, (row) => [row.email, row.id]);
        return c.json({ items: page.items.map(membershipView), next_cursor: page.next_cursor });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/projects/:slug/memberships',
      tag: 'memberships',
      summary: 'Add an existing user to the project by email or user_id (409 when already a member)',
      access: { kind: 'project', role: 'admin' },
      freshMfa: true,
      body: AddMemberBody,
      status: 201,
      handler: async ({ c, body, project, audit }) => {
        const user = await deps.db
          .selectFrom('users')
          .select(['id', 'email'])
          .$if(body.email !== undefined, (q) => q.where('email', '=', body.email!))
          .$if(body.user_id !== undefined, (q) => q.where('id', '=', body.user_id!))
          .executeTakeFirst();
        if (!user) throw apiError.notFound('user');
        try {
          const created = await deps.db.transaction().execute(async (trx) => {
            await trx.selectFrom('projects').select('id').where('id', '=', project.id).forUpdate().executeTakeFirst();
            const existing = await trx
              .selectFrom('memberships')
              .select('id')
              .where('project_id', '=', project.id)
              .where('user_id', '=', user.id)
              .executeTakeFirst();
            if (existing) throw apiError.conflict('this user is already a member of the project; change their role instead');
            const now = deps.now();
            const inserted = await trx
              .insertInto('memberships')
              .values({ project_id: project.id, user_id: user.id, role: body.role, created_at: now, updated_at: now })
              .returning('id')
              .executeTakeFirstOrThrow();
            await audit(
              {
                action: 'membership.created',
                target_type: 'membership',
                target_id: inserted.id,
                result: 'success',
                metadata: { user_id: user.id, email: user.email, role: body.role },
              },
              trx,
            );
            return selectMembership(trx).where('memberships.id', '=', inserted.id).executeTakeFirstOrThrow();
          });
          return c.json(membershipView(created), 201);
        } catch (error) {
          if (isUniqueViolation(error)) throw apiError.conflict('this user is already a member of the project; change their role instead');
          throw error;
        }
      },
    }),
    defineRoute({
      method: 'PATCH',
      path: '/projects/:slug/memberships/:membershipId',
      tag: 'memberships',
      summary: "Change a member's role (the project's last admin cannot be demoted)",
      access: { kind: 'project', role: 'admin' },
      freshMfa: true,
      body: ChangeRoleBody,
      handler: async ({ c, body, params, project, audit }) => {
        const updated = await deps.db.transaction().execute(async (trx) => {
          const current = await lockMembership(trx, project.id, params.membershipId);
          if (current.role === body.role) return current;
          if (body.role !== 'admin') await assertNotLastAdmin(trx, current);
          await trx.updateTable('memberships').set({ role: body.role, updated_at: deps.now() }).where('id', '=', current.id).execute();
          await audit(
            {
              action: 'membership.updated',
              target_type: 'membership',
              target_id: current.id,
              result: 'success',
              metadata: { user_id: current.user_id, email: current.email, role: body.role, previous_role: current.role },
            },
            trx,
          );
          return selectMembership(trx).where('memberships.id', '=', current.id).executeTakeFirstOrThrow();
        });
        return c.json(membershipView(updated));
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/projects/:slug/memberships/:membershipId',
      tag: 'memberships',
      summary: "Remove a member from the project (the project's last admin cannot be removed)",
      access: { kind: 'project', role: 'admin' },
      freshMfa: true,
      status: 204,
      handler: async ({ c, params, project, audit }) => {
        await deps.db.transaction().execute(async (trx) => {
          const current = await lockMembership(trx, project.id, params.membershipId);
          await assertNotLastAdmin(trx, current);
          await trx.deleteFrom('memberships').where('id', '=', current.id).execute();
          await audit(
            {
              action: 'membership.deleted',
              target_type: 'membership',
              target_id: current.id,
              result: 'success',
              metadata: { user_id: current.user_id, email: current.email, role: current.role },
            },
            trx,
          );
        });
        return c.body(null, 204);
      },
    }),
  ];
}
