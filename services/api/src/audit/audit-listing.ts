import { sql, type Kysely } from 'kysely';
import * as v from 'valibot';
import type { Database } from '@z4j/db';
import { exportFormatInput } from '../exports/table-export.js';
import { pageOf, paginationQuery } from '../http/pagination.js';
import { decodeTimestampCursor, olderThan, timestampCursorKey, timestampText } from './timestamp-cursor.js';
import { timestampInput } from './timestamp-input.js';
import { UUID_PATTERN } from '../http/uuid.js';

/**
 * `?cursor=&limit=&action=&user_id=&since=&until=` for audit lists: `action`
 * is a prefix (`agent.` matches `agent.token.minted`), `since` is inclusive
 * and `until` exclusive.
 */
export function auditQuery(settings: { readonly restDefaultPageSize: number; readonly restMaxPageSize: number }) {
  return v.object({
    ...paginationQuery(settings).entries,
    action: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(80))),
    user_id: v.optional(v.pipe(v.string(), v.regex(UUID_PATTERN, 'expected a uuid'))),
    since: v.optional(timestampInput()),
    until: v.optional(timestampInput()),
    format: exportFormatInput(),
  });
}

export type AuditQuery = v.InferOutput<ReturnType<typeof auditQuery>>;

/** Which rows a caller may read: one project's, those of the projects a user belongs to, or every row (global admins). */
export type AuditVisibility =
  | { readonly kind: 'project'; readonly projectId: string }
  | { readonly kind: 'member_of'; readonly userId: string }
  | { readonly kind: 'all' };

/** One audit row as the API shows it (never its hmacs: the chain is checked by `z4j audit verify`, not by clients). */
export interface AuditRowView {
  readonly id: string;
  readonly action: string;
  readonly target_type: string;
  readonly target_id: string | null;
  readonly result: string;
  readonly outcome: string;
  readonly project_id: string | null;
  readonly project_slug: string | null;
  readonly user_id: string | null;
  readonly user_email: string | null;
  readonly api_key_id: string | null;
  readonly source_ip: string | null;
  readonly user_agent: string | null;
  readonly metadata: unknown;
  /** The signed timestamp, to the microsecond: `2026-01-01T12:00:00.000001+00:00`. */
  readonly occurred_at: string;
}

/**
 * The audit rows a caller may read, narrowed by the query's filters (not its
 * cursor). Users and projects are left-joined: audit rows have no foreign keys
 * and outlive both.
 */
function filteredAuditRows(db: Kysely<Database>, visibility: AuditVisibility, query: AuditQuery) {
  let select = db
    .selectFrom('audit_log')
    .leftJoin('users', 'users.id', 'audit_log.user_id')
    .leftJoin('projects', 'projects.id', 'audit_log.project_id')
    .select([
      'audit_log.id',
      'audit_log.action',
      'audit_log.target_type',
      'audit_log.target_id',
      'audit_log.result',
      'audit_log.outcome',
      'audit_log.project_id',
      'projects.slug as project_slug',
      'audit_log.user_id',
      'users.email as user_email',
      'audit_log.api_key_id',
      'audit_log.source_ip',
      'audit_log.user_agent',
      'audit_log.metadata',
      timestampText('audit_log.occurred_at').as('occurred_at'),
    ]);
  if (visibility.kind === 'project') select = select.where('audit_log.project_id', '=', visibility.projectId);
  if (visibility.kind === 'member_of') {
    const userId = visibility.userId;
    select = select.where('audit_log.project_id', 'in', (eb) =>
      eb.selectFrom('memberships').select('memberships.project_id').where('memberships.user_id', '=', userId),
    );
  }
  if (query.action !== undefined) select = select.where('audit_log.action', 'like', `${escapeLike(query.action)}%`);
  if (query.user_id !== undefined) select = select.where('audit_log.user_id', '=', query.user_id);
  if (query.since !== undefined) select = select.where('audit_log.occurred_at', '>=', query.since);
  if (query.until !== undefined) select = select.where('audit_log.occurred_at', '<', query.until);
  return select;
}

/** A page of audit rows, newest first by `(occurred_at, id)`. */
export async function listAuditRows(
  db: Kysely<Database>,
  visibility: AuditVisibility,
  query: AuditQuery,
): Promise<{ items: AuditRowView[]; next_cursor: string | null }> {
  let select = filteredAuditRows(db, visibility, query);
  if (query.cursor !== undefined)
    select = select.where(olderThan('audit_log.occurred_at', 'audit_log.id', decodeTimestampCursor(query.cursor)));
  const rows = await select
    .orderBy('audit_log.occurred_at', 'desc')
    .orderBy('audit_log.id', 'desc')
    .limit(query.limit + 1)
    .execute();
  return pageOf<AuditRowView>(rows, query.limit, (row) => timestampCursorKey(row.occurred_at, row.id));
}

/** How many rows match, counted up to `max` (for the export cap: never counts the whole log). */
export async function countAuditRowsUpTo(
  db: Kysely<Database>,
  visibility: AuditVisibility,
  query: AuditQuery,
  max: number,
): Promise<number> {
  const row = await db
    .selectFrom(
      filteredAuditRows(db, visibility, query)
        .clearSelect()
        .select(sql`1`.as('one'))
        .limit(max)
        .as('matched'),
    )
    .select(sql<number>`count(*)::int`.as('count'))
    .executeTakeFirstOrThrow();
  return row.count;
}

/** The matching rows for an export, newest first, in keyset pages of 1000, at most `max` rows. */
export async function* auditRowBatches(
  db: Kysely<Database>,
  visibility: AuditVisibility,
  query: AuditQuery,
  max: number,
): AsyncGenerator<AuditRowView[]> {
  let cursor: string | undefined;
  let left = max;
  while (left > 0) {
    const page = await listAuditRows(db, visibility, { ...query, cursor, limit: Math.min(1000, left) });
    if (page.items.length > 0) yield page.items;
    left -= page.items.length;
    if (page.next_cursor === null) return;
    cursor = page.next_cursor;
  }
}

/** LIKE treats `%`, `_` and the escape character `\` specially; a prefix filter matches them literally. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
