import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { jsonText, storableText, type Database } from '@z4j/db';
import { AppError } from '@z4j/errors';
import { parseJson, type JsonObject } from '@z4j/protocol';
import { buildAuditCanonicalFields, computeRowHmac, type AuditCanonicalFields, type AuditOutcome } from './audit-canonical.js';
import { auditMicrosFromDate, formatAuditTimestamp, parseAuditTimestamp } from './audit-timestamp.js';

/**
 * Appending to the audit chain (reference §6.2). Each row signs its
 * predecessor's hmac, so writers must be strictly serial: every writer takes
 * the same transaction-scoped advisory lock, reads the newest row, and
 * inserts before it commits. The partial unique index on `prev_row_hmac`
 * is the backstop if a writer ever skips the lock: the second row to claim
 * a predecessor fails instead of forking the chain.
 */

/** The advisory xact lock every chain writer holds: 0x7A346ADA, the original brain's key. */
export const AUDIT_CHAIN_LOCK_KEY = 0x7a34_6ada;

/** One audited action, as a caller describes it; everything but the four required fields is optional. */
export interface AuditEntry {
  /** e.g. `agent.token.minted`; truncated to 80 code points. */
  readonly action: string;
  /** e.g. `agent`; truncated to 40. */
  readonly target_type: string;
  /** Truncated to 200. */
  readonly target_id?: string | null;
  /** `success`, `failed`, …; truncated to 20. */
  readonly result: string;
  /** Default from `result`: success → allow, failed → failure, else error. Pass `deny` for policy denials. */
  readonly outcome?: AuditOutcome;
  /** Correlates several rows written for one user-visible action. */
  readonly event_id?: string | null;
  readonly user_id?: string | null;
  readonly api_key_id?: string | null;
  readonly project_id?: string | null;
  /** A host address (IPv4 or IPv6) without a prefix length. */
  readonly source_ip?: string | null;
  /** Truncated to 1024. */
  readonly user_agent?: string | null;
  /** Default `{}`. */
  readonly metadata?: JsonObject;
}

export interface AppendAuditRowOptions {
  /** Z4J_SECRET: keys the row's HMAC. */
  readonly secret: string;
  /** The injected clock; the row's `occurred_at` is this, or just after the chain's head (see {@link appendAuditRow}). */
  readonly now: Date;
}

/** A stored audit row in its signed form. */
export type AuditRow = Omit<AuditCanonicalFields, 'version'> & { readonly row_hmac: string };

/**
 * Appends one row to the audit chain and returns it as stored.
 *
 * Transactions: given a transaction (`db.isTransaction`), the row is written
 * inside it, so it commits or rolls back together with the action it
 * records; otherwise a transaction of its own is opened. Either way the chain
 * lock is held until that transaction ends, so keep audited transactions
 * short. The transaction must be READ COMMITTED (Postgres' default): under a
 * snapshot taken before the lock was granted, the head read here would be
 * stale, and the insert would then collide with the unique index.
 *
 * Timestamps: chain order is `(occurred_at, id)`, both for the next writer
 * reading the head and for `audit verify`. Ids are random, so the id tiebreak
 * says nothing about which row came first: two rows with the same
 * `occurred_at`, or a row stamped earlier than its predecessor because a
 * clock stepped backwards (NTP, another host), would sort against their
 * prev pointers. Verify would report an intact chain as broken, and the next
 * writer would read a row that already has a successor as the head, which
 * the unique index refuses: audit writes (and the actions they record) would
 * fail until the clock caught up. So `occurred_at` is made strictly
 * increasing along the chain: `max(now, head.occurred_at + 1 µs)`. The lock
 * makes the head stable, so this holds across processes and hosts; the cost
 * is that after a backwards step rows carry the head's time plus a few µs
 * instead of the wall clock, until the clock catches up.
 *
 * Exact recomputation: the HMAC must be recomputable from the stored row, so
 * every value is hashed in the form the database hands back, never in the
 * caller's spelling. Microseconds are kept (see `audit-timestamp.ts`); UUIDs,
 * the IP address and the metadata are put through Postgres' own uuid, inet
 * and jsonb parsers first (uppercase UUIDs, `2001:DB8::1`, `1e+21`, key order
 * and duplicate keys all come back normalised), and text that Postgres cannot
 * store (NUL, lone surrogates) is replaced with U+FFFD before truncation.
 *
 * @example
 * await db.transaction().execute(async (trx) => {
 *   const agent = await createAgent(trx, ...);
 *   await appendAuditRow(trx, { action: 'agent.token.minted', target_type: 'agent', target_id: agent.id, result: 'success' },
 *     { secret: settings.secret, now: clock() });
 * });
 */
export async function appendAuditRow(db: Kysely<Database>, entry: AuditEntry, options: AppendAuditRowOptions): Promise<AuditRow> {
  if (db.isTransaction) return appendInTransaction(db, entry, options);
  return db.transaction().execute((trx) => appendInTransaction(trx, entry, options));
}

interface NormalisedValues {
  readonly isolation: string;
  readonly metadata: string;
  readonly source_ip: string | null;
  readonly event_id: string | null;
  readonly user_id: string | null;
  readonly api_key_id: string | null;
  readonly project_id: string | null;
}

async function appendInTransaction(trx: Kysely<Database>, entry: AuditEntry, options: AppendAuditRowOptions): Promise<AuditRow> {
  const nowMicros = auditMicrosFromDate(options.now);
  const id = randomUUID();
  // One round trip takes the chain lock, reads the head with a snapshot from after the lock (z4j_audit_chain_head,
  // migration 0012: a volatile function's query snapshots anew) and normalises the typed values (see "Exact
  // recomputation" above).
  const { rows } = await sql<NormalisedValues & { readonly head_hmac: string | null; readonly head_at: string | null }>`
    select current_setting('transaction_isolation') as isolation,
           ${jsonText(entry.metadata ?? {})}::jsonb::text as metadata,
           host(${entry.source_ip ?? null}::inet) as source_ip,
           ${entry.event_id ?? null}::uuid::text as event_id,
           ${entry.user_id ?? null}::uuid::text as user_id,
           ${entry.api_key_id ?? null}::uuid::text as api_key_id,
           ${entry.project_id ?? null}::uuid::text as project_id,
           head.row_hmac as head_hmac,
           head.occurred_at_text as head_at
      from (select 1) as one
      left join lateral z4j_audit_chain_head(${AUDIT_CHAIN_LOCK_KEY}::bigint) as head on true`.execute(trx);
  const normalised = rows[0]!;
  if (normalised.isolation !== 'read committed') {
    throw new AppError(
      'AUDIT_ISOLATION_LEVEL',
      `audit rows must be appended in a READ COMMITTED transaction, not ${normalised.isolation}: a snapshot from before the chain lock cannot see the chain's head`,
    );
  }
  const head =
    normalised.head_hmac !== null && normalised.head_at !== null
      ? { row_hmac: normalised.head_hmac, occurred_at_text: normalised.head_at }
      : undefined;
  const afterHead = head ? parseAuditTimestamp(head.occurred_at_text) + 1n : nowMicros;
  const occurredAt = formatAuditTimestamp(nowMicros > afterHead ? nowMicros : afterHead);

  const fields = buildAuditCanonicalFields({
    id,
    action: storableText(entry.action),
    target_type: storableText(entry.target_type),
    target_id: nullableText(entry.target_id),
    result: storableText(entry.result),
    outcome: entry.outcome ?? null,
    event_id: normalised.event_id,
    user_id: normalised.user_id,
    api_key_id: normalised.api_key_id,
    project_id: normalised.project_id,
    source_ip: normalised.source_ip,
    user_agent: nullableText(entry.user_agent),
    metadata: parseJson(normalised.metadata),
    occurred_at: occurredAt,
    prev_row_hmac: head?.row_hmac ?? null,
  });
  const rowHmac = computeRowHmac(options.secret, fields);
  await trx
    .insertInto('audit_log')
    .values({
      id: fields.id,
      action: fields.action,
      target_type: fields.target_type,
      target_id: fields.target_id,
      result: fields.result,
      outcome: fields.outcome,
      event_id: fields.event_id,
      user_id: fields.user_id,
      api_key_id: fields.api_key_id,
      project_id: fields.project_id,
      source_ip: fields.source_ip,
      user_agent: fields.user_agent,
      // The jsonb text Postgres produced above, so the stored value is exactly the one hashed.
      metadata: sql`${normalised.metadata}::jsonb`,
      // Canonical text with an explicit offset: Postgres parses it exactly, microseconds included.
      occurred_at: fields.occurred_at,
      row_hmac: rowHmac,
      prev_row_hmac: fields.prev_row_hmac,
    })
    .execute();
  const { version: _version, ...row } = fields;
  return { ...row, row_hmac: rowHmac };
}

function nullableText(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : storableText(text);
}
