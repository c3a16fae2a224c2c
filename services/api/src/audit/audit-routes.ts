import { assertExportWithinCap, exportFileStamp, exportResponse } from '../exports/table-export.js';
import { defineRoute, type AnyRoute, type ApiContext, type ApiDeps } from '../http/api-types.js';
import { auditQuery, auditRowBatches, countAuditRowsUpTo, listAuditRows, type AuditQuery, type AuditVisibility } from './audit-listing.js';

/** The columns of an audit export, in order (the fields of a listed row). */
const AUDIT_EXPORT_COLUMNS = [
  'occurred_at',
  'id',
  'action',
  'result',
  'outcome',
  'target_type',
  'target_id',
  'project_slug',
  'project_id',
  'user_email',
  'user_id',
  'api_key_id',
  'source_ip',
  'user_agent',
  'metadata',
] as const;

/**
 * Reading the audit log (§5.2, §6.1): a project's rows for its admins, and
 * `/activity`, the rows of every project the caller can see. Global admins
 * see everything there, including rows that belong to no project (setup,
 * user administration); everyone else only their membership projects' rows.
 */
export function createAuditRoutes(deps: ApiDeps): AnyRoute[] {
  const query = auditQuery(deps.settings);
  /** A page, or with `?format=csv|xlsx|json` every matching row as a streamed download (capped by Z4J_TASKS_EXPORT_MAX_ROWS). */
  const listOrExport = async (c: ApiContext, visibility: AuditVisibility, input: AuditQuery, name: string) => {
    if (input.format === undefined) return c.json(await listAuditRows(deps.db, visibility, input));
    const cap = deps.settings.tasksExportMaxRows;
    assertExportWithinCap(await countAuditRowsUpTo(deps.db, visibility, input, cap + 1), cap);
    return exportResponse({
      format: input.format,
      basename: `${name}-${exportFileStamp(deps.now())}`,
      columns: AUDIT_EXPORT_COLUMNS,
      batches: auditRowBatches(deps.db, visibility, input, cap),
      sheetName: 'audit',
      onStreamError: (error) => deps.logger.error({ err: error }, 'api:audit:export_failed'),
    });
  };
  return [
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/audit',
      tag: 'audit',
      summary:
        "A project's audit rows, newest first (filters: action prefix, user_id, since, until; format=csv|xlsx|json exports every match)",
      access: { kind: 'project', role: 'admin' },
      query,
      handler: async ({ c, query, project }) => listOrExport(c, { kind: 'project', projectId: project.id }, query, `${project.slug}-audit`),
    }),
    defineRoute({
      method: 'GET',
      path: '/activity',
      tag: 'activity',
      summary: 'Audit rows across the projects the caller can see, newest first (same filters and export formats as the project audit)',
      access: { kind: 'signed_in' },
      query,
      handler: async ({ c, query, principal }) => {
        const visibility = principal.user.isAdmin
          ? ({ kind: 'all' } as const)
          : ({ kind: 'member_of', userId: principal.user.id } as const);
        return listOrExport(c, visibility, query, 'activity');
      },
    }),
  ];
}
