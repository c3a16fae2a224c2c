import { sql, type Kysely } from 'kysely';
import type { Database } from '@z4j/db';
import { parseJson } from '@z4j/protocol';
import { buildAuditCanonicalFields, computeRowHmac, type AuditCanonicalFields } from './audit-canonical.js';
import { occurredAtText } from './audit-timestamp.js';

/**
 * `z4j audit verify` (reference §6.2): walks the oldest rows of the chain in
 * `(occurred_at, id)` order, recomputes every row's HMAC and checks every
 * prev pointer.
 */

/** Most rows one verification reads (and the default), as in the original. */
export const MAX_AUDIT_VERIFY_LIMIT = 5000;
const PAGE_SIZE = 1000;

/**
 * - `hmac_mismatch`: the row's content does not hash to its `row_hmac` under any secret tried (edited, or signed with
 *   a secret not in the list).
 * - `chain_truncation`: the oldest row has a predecessor (rows before it were deleted; every retention sweep does this).
 * - `chain_break`: the row's predecessor is not among the rows read (a row was deleted or its hmac edited), or a second
 *   row without a predecessor.
 * - `fork`: the row claims a predecessor another row already follows, or continues such a branch.
 * - `out_of_order`: the row's predecessor exists but is not the row before it in `(occurred_at, id)` order.
 */
export type AuditProblemKind = 'hmac_mismatch' | 'chain_truncation' | 'chain_break' | 'fork' | 'out_of_order';

export interface AuditProblem {
  readonly rowId: string;
  readonly kind: AuditProblemKind;
  readonly message: string;
}

export interface VerifyAuditChainOptions {
  /** Z4J_SECRET first, then each Z4J_PREVIOUS_SECRETS entry; a row verifies if any of them produces its hmac. */
  readonly secrets: readonly string[];
  /** How many of the oldest rows to check: 1 … {@link MAX_AUDIT_VERIFY_LIMIT}, default the maximum. */
  readonly limit?: number;
}

export interface VerifyAuditChainResult {
  /** Rows read and checked (problems or not). */
  readonly verified: number;
  /** In chain order; empty when the checked range is intact. */
  readonly problems: AuditProblem[];
  /** True when more rows exist after the checked ones. */
  readonly reachedLimit: boolean;
}

/** A stored row as the verifier reads it: the signed fields, with metadata and the timestamp as Postgres' own text. */
type DbAuditRow = Omit<AuditCanonicalFields, 'version' | 'metadata' | 'occurred_at'> & {
  readonly metadata_text: string;
  readonly occurred_at_text: string;
  readonly row_hmac: string;
};

/**
 * Verifies the oldest `limit` rows. Reads them in pages inside one
 * REPEATABLE READ, read-only transaction (unless `db` already is a
 * transaction), so a concurrent retention sweep or append cannot make the
 * pages disagree.
 *
 * @example
 * const { verified, problems } = await verifyAuditChain(db, { secrets: [settings.secret, ...settings.previousSecrets] });
 */
export async function verifyAuditChain(db: Kysely<Database>, options: VerifyAuditChainOptions): Promise<VerifyAuditChainResult> {
  const limit = options.limit ?? MAX_AUDIT_VERIFY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_VERIFY_LIMIT) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_AUDIT_VERIFY_LIMIT}, got ${limit}`);
  }
  if (options.secrets.length === 0) throw new RangeError('at least one secret is needed to verify the audit chain');
  const walk = (trx: Kysely<Database>) => walkChain(trx, options.secrets, limit);
  if (db.isTransaction) return walk(db);
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(walk);
}

async function walkChain(db: Kysely<Database>, secrets: readonly string[], limit: number): Promise<VerifyAuditChainResult> {
  const walker = new ChainWalker(secrets);
  let last: DbAuditRow | undefined;
  let verified = 0;
  let reachedLimit = false;
  for (;;) {
    // One row past the limit tells whether more exist.
    const want = Math.min(PAGE_SIZE, limit - verified + 1);
    const page = await readPage(db, last, want);
    for (const row of page) {
      if (verified === limit) {
        reachedLimit = true;
        break;
      }
      walker.visit(row);
      verified += 1;
      last = row;
    }
    if (reachedLimit || page.length < want) break;
  }
  return { verified, problems: walker.finish(reachedLimit), reachedLimit };
}

/** Keyset paging on `(occurred_at, id)`; the timestamp goes back as canonical text, exact to the microsecond. */
async function readPage(db: Kysely<Database>, after: DbAuditRow | undefined, size: number): Promise<DbAuditRow[]> {
  let query = db
    .selectFrom('audit_log')
    .select([
      sql<string>`audit_log.id::text`.as('id'),
      'action',
      'target_type',
      'target_id',
      'result',
      'outcome',
      sql<string | null>`audit_log.event_id::text`.as('event_id'),
      sql<string | null>`audit_log.user_id::text`.as('user_id'),
      sql<string | null>`audit_log.api_key_id::text`.as('api_key_id'),
      sql<string | null>`audit_log.project_id::text`.as('project_id'),
      // host(): the address as the writer hashed it (the inet type's text cast would add "/32").
      sql<string | null>`host(audit_log.source_ip)`.as('source_ip'),
      'user_agent',
      sql<string>`audit_log.metadata::text`.as('metadata_text'),
      occurredAtText().as('occurred_at_text'),
      'row_hmac',
      'prev_row_hmac',
    ])
    .orderBy('audit_log.occurred_at')
    .orderBy('audit_log.id')
    .limit(size);
  if (after) {
    query = query.where(sql<boolean>`(audit_log.occurred_at, audit_log.id) > (${after.occurred_at_text}::timestamptz, ${after.id}::uuid)`);
  }
  return query.execute();
}

interface SeenRow {
  readonly id: string;
  readonly position: number;
  readonly rowHmac: string;
}

interface PositionedProblem extends AuditProblem {
  readonly position: number;
}

/**
 * The link check as a single pass over rows in chain order. It keeps:
 * - `tip`: the row the next row should follow (normally the previous row);
 * - `seen`: every row read so far, by hmac;
 * - `successor`: which row claimed each predecessor hmac (a second claim is a fork);
 * - `branch`: hmacs of rows off the main chain (a fork and whatever follows it), which do not move `tip`;
 * - `pending`: rows whose predecessor has not been read yet. Resolved when it turns up later (`out_of_order`), or
 *   reported as `chain_break` at the end (the predecessor is gone).
 * A row with an unknown predecessor still becomes the tip, so one deleted row is reported once, not at every row
 * after it.
 */
class ChainWalker {
  readonly #secrets: readonly string[];
  readonly #problems: PositionedProblem[] = [];
  readonly #seen = new Map<string, SeenRow>();
  readonly #successor = new Map<string, string>();
  readonly #branch = new Set<string>();
  readonly #pending = new Map<string, SeenRow>();
  #tip: string | undefined;
  #position = 0;

  constructor(secrets: readonly string[]) {
    this.#secrets = secrets;
  }

  visit(row: DbAuditRow): void {
    const position = this.#position++;
    const current: SeenRow = { id: row.id, position, rowHmac: row.row_hmac };
    this.#checkHmac(row, position);
    this.#link(row, current);
    this.#seen.set(row.row_hmac, current);
  }

  finish(reachedLimit: boolean): AuditProblem[] {
    for (const [missing, row] of this.#pending) {
      this.#report(
        row.id,
        row.position,
        'chain_break',
        `its prev_row_hmac ${abbreviate(missing)} matches no row ${reachedLimit ? 'among those checked' : 'in the table'}: ` +
          `the row before it was deleted or its row_hmac edited${reachedLimit ? ', or it sorts after the checked range' : ''}`,
      );
    }
    return this.#problems.sort((a, b) => a.position - b.position).map(({ rowId, kind, message }) => ({ rowId, kind, message }));
  }

  #checkHmac(row: DbAuditRow, position: number): void {
    let fields: AuditCanonicalFields;
    try {
      fields = buildAuditCanonicalFields({
        id: row.id,
        action: row.action,
        target_type: row.target_type,
        target_id: row.target_id,
        result: row.result,
        outcome: row.outcome,
        event_id: row.event_id,
        user_id: row.user_id,
        api_key_id: row.api_key_id,
        project_id: row.project_id,
        source_ip: row.source_ip,
        user_agent: row.user_agent,
        metadata: parseJson(row.metadata_text),
        occurred_at: row.occurred_at_text,
        prev_row_hmac: row.prev_row_hmac,
      });
    } catch (error) {
      this.#report(row.id, position, 'hmac_mismatch', `its content cannot be canonicalised: ${(error as Error).message}`);
      return;
    }
    if (this.#secrets.some((secret) => computeRowHmac(secret, fields) === row.row_hmac)) return;
    const tried = this.#secrets.length === 1 ? 'the secret' : `any of the ${this.#secrets.length} secrets`;
    this.#report(
      row.id,
      position,
      'hmac_mismatch',
      `row_hmac does not match the row's content under ${tried} tried: the row was edited, or signed with a secret not in the list`,
    );
  }

  #link(row: DbAuditRow, current: SeenRow): void {
    const prev = row.prev_row_hmac;
    if (prev === null) {
      if (current.position > 0) {
        this.#report(
          row.id,
          current.position,
          'chain_break',
          'it has no prev_row_hmac but is not the oldest row: a second chain starts here',
        );
      }
      this.#advance(current);
      return;
    }
    if (current.position === 0) {
      this.#report(
        row.id,
        current.position,
        'chain_truncation',
        `the oldest row has prev_row_hmac ${abbreviate(prev)}: the rows before it were deleted (a retention sweep does this)`,
      );
      this.#successor.set(prev, row.id);
      this.#advance(current);
      return;
    }
    const rival = this.#successor.get(prev);
    if (rival !== undefined) {
      const parent = this.#seen.get(prev);
      this.#report(
        row.id,
        current.position,
        'fork',
        `it follows ${parent ? `row ${parent.id}` : `prev_row_hmac ${abbreviate(prev)}`}, which row ${rival} already follows: the chain forks`,
      );
      this.#branch.add(row.row_hmac);
      return;
    }
    this.#successor.set(prev, row.id);
    if (this.#branch.has(prev)) {
      this.#report(row.id, current.position, 'fork', `it continues a forked branch after row ${this.#seen.get(prev)?.id ?? '?'}`);
      this.#branch.add(row.row_hmac);
      return;
    }
    if (prev !== this.#tip) {
      const parent = this.#seen.get(prev);
      if (parent) {
        this.#report(
          row.id,
          current.position,
          'out_of_order',
          `it follows row ${parent.id}, which is not the row before it in (occurred_at, id) order: the chain was reordered`,
        );
      } else {
        this.#pending.set(prev, current);
      }
    }
    this.#advance(current);
  }

  /** Moves the tip to `row`, then along any rows read earlier that turn out to follow it. */
  #advance(row: SeenRow): void {
    let tip = row;
    for (let waiting = this.#pending.get(tip.rowHmac); waiting; waiting = this.#pending.get(tip.rowHmac)) {
      this.#pending.delete(tip.rowHmac);
      this.#report(
        waiting.id,
        waiting.position,
        'out_of_order',
        `it follows row ${tip.id}, which comes after it in (occurred_at, id) order: the chain was reordered`,
      );
      tip = waiting;
    }
    this.#tip = tip.rowHmac;
  }

  #report(rowId: string, position: number, kind: AuditProblemKind, detail: string): void {
    this.#problems.push({ rowId, position, kind, message: `${KIND_LABELS[kind]} at row ${rowId}: ${detail}` });
  }
}

const KIND_LABELS: Readonly<Record<AuditProblemKind, string>> = {
  hmac_mismatch: 'hmac mismatch',
  chain_truncation: 'chain truncation',
  chain_break: 'chain break',
  fork: 'chain fork',
  out_of_order: 'chain out of order',
};

function abbreviate(hmac: string): string {
  return `${hmac.slice(0, 12)}…`;
}
