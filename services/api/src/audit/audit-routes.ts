import { defineRoute, type AnyRoute, type ApiDeps } from '../http/api-types.js';
import { auditQuery, listAuditRows } from './audit-listing.js';

/**
 * Reading the audit log (§5.2, §6.1): a project's rows for its admins, and
 * `/activity`, the rows of every project the caller can see. Global admins
 * see everything there, including rows that belong to no project (setup,
 * user administration); everyone else only their membership projects' rows.
 */
export function createAuditRoutes(deps: ApiDeps): AnyRoute[] {
  const query = auditQuery(deps.settings);
  return [
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/audit',
      tag: 'audit',
      summary: "A project's audit rows, newest first (filters: action prefix, user_id, since, until)",
      access: { kind: 'project', role: 'admin' },
      query,
      handler: async ({ c, query, project }) => c.json(await listAuditRows(deps.db, { kind: 'project', projectId: project.id }, query)),
    }),
    defineRoute({
      method: 'GET',
      path: '/activity',
      tag: 'activity',
      summary: 'Audit rows across the projects the caller can see, newest first (same filters as the project audit)',
      access: { kind: 'signed_in' },
      query,
      handler: async ({ c, query, principal }) => {
        const visibility = principal.user.isAdmin
          ? ({ kind: 'all' } as const)
          : ({ kind: 'member_of', userId: principal.user.id } as const);
        return c.json(await listAuditRows(deps.db, visibility, query));
      },
    }),
  ];
}
