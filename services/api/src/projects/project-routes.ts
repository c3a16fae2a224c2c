import type { Kysely, Selectable, Updateable } from 'kysely';
import * as v from 'valibot';
import { isUniqueViolation, type Database } from '@z4j/db';
import { canonicalTimeZone } from '../auth/time-zone.js';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps, type Principal, type ProjectRole } from '../http/api-types.js';

/** The projects.slug CHECK constraint, so a bad slug is a 422 and not a database error. */
const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;

const SchedulerName = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/, 'expected a scheduler name like z4j-scheduler'),
);

/** The editable project fields; `slug` is fixed at creation (agents and URLs name the project by it). */
const projectFields = {
  name: v.pipe(v.string(), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(200)),
  description: v.nullable(v.pipe(v.string(), v.maxLength(2000))),
  environment: v.pipe(v.string(), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(64)),
  timezone: v.pipe(
    v.string(),
    v.check((name) => canonicalTimeZone(name) !== undefined, 'expected an IANA time zone such as UTC or Europe/Paris'),
  ),
  retention_days: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3650)),
  default_scheduler_owner: SchedulerName,
  allowed_schedulers: v.nullable(
    v.pipe(
      v.array(SchedulerName),
      v.maxLength(32),
      v.transform((names) => [...new Set(names)]),
    ),
  ),
};

const CreateProjectBody = v.object({
  slug: v.pipe(v.string(), v.regex(SLUG_PATTERN, 'expected 2-63 lower-case letters, digits or dashes, starting with a letter or digit')),
  name: projectFields.name,
  description: v.optional(projectFields.description),
  environment: v.optional(projectFields.environment),
  timezone: v.optional(projectFields.timezone),
  retention_days: v.optional(projectFields.retention_days),
  default_scheduler_owner: v.optional(projectFields.default_scheduler_owner),
  allowed_schedulers: v.optional(projectFields.allowed_schedulers),
});

const UpdateProjectBody = v.pipe(
  v.object({
    name: v.optional(projectFields.name),
    description: v.optional(projectFields.description),
    environment: v.optional(projectFields.environment),
    timezone: v.optional(projectFields.timezone),
    retention_days: v.optional(projectFields.retention_days),
    default_scheduler_owner: v.optional(projectFields.default_scheduler_owner),
    allowed_schedulers: v.optional(projectFields.allowed_schedulers),
    /** `true` restores an archived project (archiving is DELETE). */
    is_active: v.optional(v.boolean()),
  }),
  v.check((body) => Object.values(body).some((value) => value !== undefined), 'expected at least one field to change'),
);

const ListProjectsQuery = v.object({
  include_archived: v.optional(v.picklist(['true', 'false']), 'false'),
});

const PROJECT_COLUMNS = [
  'projects.id',
  'projects.slug',
  'projects.name',
  'projects.description',
  'projects.environment',
  'projects.timezone',
  'projects.retention_days',
  'projects.is_active',
  'projects.default_scheduler_owner',
  'projects.allowed_schedulers',
  'projects.created_at',
  'projects.updated_at',
] as const;

type ProjectRow = Pick<
  Selectable<Database['projects']>,
  | 'id'
  | 'slug'
  | 'name'
  | 'description'
  | 'environment'
  | 'timezone'
  | 'retention_days'
  | 'is_active'
  | 'default_scheduler_owner'
  | 'allowed_schedulers'
  | 'created_at'
  | 'updated_at'
>;

/** A project as the API shows it, with the caller's effective role in it. */
export function projectView(row: ProjectRow, role: ProjectRole) {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    environment: row.environment,
    timezone: row.timezone,
    retention_days: row.retention_days,
    is_active: row.is_active,
    default_scheduler_owner: row.default_scheduler_owner,
    allowed_schedulers: row.allowed_schedulers,
    created_at: row.created_at,
    updated_at: row.updated_at,
    role,
  };
}

/** Schedules created without a scheduler go to the default owner, so a restricted project must allow it. */
function assertOwnerAllowed(owner: string, allowed: readonly string[] | null): void {
  if (allowed !== null && !allowed.includes(owner)) {
    throw apiError.validation([
      { field: 'body.default_scheduler_owner', message: `must be one of allowed_schedulers (${allowed.join(', ') || 'none'})` },
    ]);
  }
}

/**
 * Projects (§5.2 `/projects`). Anyone signed in lists the projects they can
 * see (a global admin: all; others: their memberships; a key bound to a
 * project: that one only). Creating, changing and archiving are for global
 * admins. Projects are archived (`is_active = false`), never deleted here:
 * deleting one would cascade to its whole history.
 */
export function createProjectRoutes(deps: ApiDeps): AnyRoute[] {
  /**
   * The `:slug` project for a global-admin route, which the route runner does not resolve. A key bound to another
   * project gets the same 404 as an unknown slug (the runner lets bound keys reach `projects` routes).
   */
  async function projectForAdmin(db: Kysely<Database>, principal: Principal, slug: string | undefined, lock = false): Promise<ProjectRow> {
    if (slug === undefined || !SLUG_PATTERN.test(slug)) throw apiError.notFound('project');
    const row = await db
      .selectFrom('projects')
      .select(PROJECT_COLUMNS)
      .where('projects.slug', '=', slug)
      .$if(lock, (q) => q.forUpdate())
      .executeTakeFirst();
    if (!row || (principal.kind === 'api_key' && principal.apiKey.projectId !== null && principal.apiKey.projectId !== row.id)) {
      throw apiError.notFound('project');
    }
    return row;
  }

  return [
    defineRoute({
      method: 'GET',
      path: '/projects',
      tag: 'projects',
      summary: 'The projects the caller can see, with their role in each (?include_archived=true adds archived ones)',
      access: { kind: 'signed_in' },
      query: ListProjectsQuery,
      handler: async ({ c, query, principal }) => {
        const { user } = principal;
        const boundTo = principal.kind === 'api_key' ? principal.apiKey.projectId : null;
        const rows = await deps.db
          .selectFrom('projects')
          .leftJoin('memberships', (join) =>
            join.onRef('memberships.project_id', '=', 'projects.id').on('memberships.user_id', '=', user.id),
          )
          .select([...PROJECT_COLUMNS, 'memberships.role'])
          .$if(!user.isAdmin, (q) => q.where('memberships.role', 'is not', null))
          .$if(boundTo !== null, (q) => q.where('projects.id', '=', boundTo!))
          .$if(query.include_archived !== 'true', (q) => q.where('projects.is_active', '=', true))
          .orderBy('projects.slug')
          .execute();
        return c.json({ items: rows.map((row) => projectView(row, user.isAdmin ? 'admin' : (row.role ?? 'viewer'))) });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/projects',
      tag: 'projects',
      summary: 'Create a project (global admin; the creator becomes its admin member; 409 when the slug is taken)',
      access: { kind: 'global_admin' },
      body: CreateProjectBody,
      status: 201,
      handler: async ({ c, body, principal, audit }) => {
        assertOwnerAllowed(body.default_scheduler_owner ?? 'z4j-scheduler', body.allowed_schedulers ?? null);
        const now = deps.now();
        try {
          const created = await deps.db.transaction().execute(async (trx) => {
            const row = await trx
              .insertInto('projects')
              .values({
                slug: body.slug,
                name: body.name,
                description: body.description ?? null,
                environment: body.environment,
                timezone: body.timezone,
                retention_days: body.retention_days,
                default_scheduler_owner: body.default_scheduler_owner,
                allowed_schedulers: body.allowed_schedulers ?? null,
                created_at: now,
                updated_at: now,
              })
              .returning(PROJECT_COLUMNS)
              .executeTakeFirstOrThrow();
            // Global admins are admin everywhere anyway; the row keeps the project administered if that flag is removed.
            await trx.insertInto('memberships').values({ user_id: principal.user.id, project_id: row.id, role: 'admin' }).execute();
            await audit(
              {
                action: 'project.created',
                target_type: 'project',
                target_id: row.id,
                result: 'success',
                project_id: row.id,
                metadata: { slug: row.slug, name: row.name },
              },
              trx,
            );
            return row;
          });
          return c.json(projectView(created, 'admin'), 201);
        } catch (error) {
          if (isUniqueViolation(error)) throw apiError.conflict(`a project with the slug "${body.slug}" already exists`);
          throw error;
        }
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug',
      tag: 'projects',
      summary: 'One project, with the caller’s role in it',
      access: { kind: 'project', role: 'viewer' },
      handler: async ({ c, project }) => {
        const row = await deps.db.selectFrom('projects').select(PROJECT_COLUMNS).where('projects.id', '=', project.id).executeTakeFirst();
        if (!row) throw apiError.notFound('project');
        return c.json(projectView(row, project.role));
      },
    }),
    defineRoute({
      method: 'PATCH',
      path: '/projects/:slug',
      tag: 'projects',
      summary: 'Change a project (global admin; partial; is_active=true restores an archived one)',
      access: { kind: 'global_admin' },
      body: UpdateProjectBody,
      handler: async ({ c, body, params, principal, audit }) => {
        const updated = await deps.db.transaction().execute(async (trx) => {
          const current = await projectForAdmin(trx, principal, params.slug, true);
          assertOwnerAllowed(
            body.default_scheduler_owner ?? current.default_scheduler_owner,
            body.allowed_schedulers === undefined ? current.allowed_schedulers : body.allowed_schedulers,
          );
          // The body's keys are project columns; only the ones that really change are written and audited.
          const changes = Object.fromEntries(
            Object.entries(body).filter(
              ([field, next]) => next !== undefined && JSON.stringify(current[field as keyof ProjectRow]) !== JSON.stringify(next),
            ),
          ) as Updateable<Database['projects']>;
          if (Object.keys(changes).length === 0) return current;
          const row = await trx
            .updateTable('projects')
            .set({ ...changes, updated_at: deps.now() })
            .where('id', '=', current.id)
            .returning(PROJECT_COLUMNS)
            .executeTakeFirstOrThrow();
          await audit(
            {
              action: 'project.updated',
              target_type: 'project',
              target_id: row.id,
              result: 'success',
              project_id: row.id,
              metadata: { slug: row.slug, fields: Object.keys(changes) },
            },
            trx,
          );
          return row;
        });
        return c.json(projectView(updated, 'admin'));
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/projects/:slug',
      tag: 'projects',
      summary: 'Archive a project (is_active=false; global admin + fresh MFA); answers the archived project',
      access: { kind: 'global_admin' },
      freshMfa: true,
      handler: async ({ c, params, principal, audit }) => {
        const archived = await deps.db.transaction().execute(async (trx) => {
          const current = await projectForAdmin(trx, principal, params.slug, true);
          if (!current.is_active) return current;
          const row = await trx
            .updateTable('projects')
            .set({ is_active: false, updated_at: deps.now() })
            .where('id', '=', current.id)
            .returning(PROJECT_COLUMNS)
            .executeTakeFirstOrThrow();
          await audit(
            {
              action: 'project.archived',
              target_type: 'project',
              target_id: row.id,
              result: 'success',
              project_id: row.id,
              metadata: { slug: row.slug },
            },
            trx,
          );
          return row;
        });
        return c.json(projectView(archived, 'admin'));
      },
    }),
  ];
}
