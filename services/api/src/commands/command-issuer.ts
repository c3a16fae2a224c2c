import { isIP } from 'node:net';
import { sql, type Kysely } from 'kysely';
import type { AuditEntry, AuditRow } from '@z4j/audit';
import { jsonText, type Database } from '@z4j/db';
import type { JsonObject, JsonValue } from '@z4j/protocol';
import { apiError } from '../http/api-errors.js';
import type { ApiContext, ApiDeps, ProjectAccess } from '../http/api-types.js';
import { commandErrors } from './command-errors.js';
import { commandPublic, selectCommands, type CommandPublic } from './command-view.js';

// The channels are defined once, beside the notifier: the gateways LISTEN on z4j_commands (`{"c","a"}`, §10.2), and
// gateways and workers publish z4j_command_updates (payload = the command id) after every status change.
export { COMMAND_UPDATES_CHANNEL, COMMANDS_CHANNEL } from '@z4j/db';
import { COMMANDS_CHANNEL } from '@z4j/db';

/** Advisory-lock class (first int4 key) of the per-project issue lock; the second key is hashtext(project_id). */
const ISSUE_LOCK_CLASS = 0x7a34_c0de;
const RATE_WINDOW_MS = 60_000;

/** The agent a command goes to, as the issuer and the payload builders need it. */
export interface CommandAgent {
  readonly id: string;
  readonly name: string;
  /** online | offline | unknown; only `online` has a socket on some gateway. */
  readonly state: string;
  readonly engine_adapters: readonly string[];
  readonly scheduler_adapters: readonly string[];
}

/** What to send: the row's action, target and payload (→ the frame's `parameters`). */
export interface CommandSpec {
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string | null;
  readonly payload: JsonObject;
  /** Added to the audit row's `{command_id, agent_id, idempotency_key}` (e.g. the filter keys bulk-retry removed). */
  readonly auditMetadata?: JsonObject;
}

export interface IssueCommandOptions {
  readonly project: ProjectAccess;
  readonly agent: CommandAgent;
  readonly spec: CommandSpec;
  readonly idempotencyKey: string | null;
  /** The calling user (an API key's owner for Bearer calls). */
  readonly issuedBy: string;
  readonly sourceIp: string | null;
  /** The route's audit writer (fills in caller, ip and user agent). */
  readonly audit: (entry: AuditEntry, trx?: Kysely<Database>) => Promise<AuditRow>;
  /** More writes that commit or roll back with the command (schedules.is_enabled); not run for a repeated key. */
  readonly alsoInTransaction?: (trx: Kysely<Database>) => Promise<void>;
}

export interface IssuedCommand {
  readonly command: CommandPublic;
  /** False when the idempotency key named an earlier command: it comes back unchanged and nothing is written or announced. */
  readonly created: boolean;
}

/**
 * The agent `agentId` of the project, able to take commands: another
 * project's agent (or an unknown id) is 404, a revoked one 409. An agent that
 * is merely offline is returned; the caller decides what that means.
 */
export async function findCommandAgent(db: Kysely<Database>, projectId: string, agentId: string): Promise<CommandAgent> {
  const row = await db
    .selectFrom('agents')
    .select(['id', 'name', 'state', 'engine_adapters', 'scheduler_adapters', 'revoked_at'])
    .where('project_id', '=', projectId)
    .where('id', '=', agentId)
    .executeTakeFirst();
  if (!row) throw apiError.notFound('agent');
  if (row.revoked_at !== null) throw commandErrors.agentRevoked();
  return row;
}

/** The request's client address when it is one `inet` accepts (the test harness may send a label instead). */
export function sourceIpOf(c: ApiContext): string | null {
  const ip = c.get('clientIp');
  return isIP(ip) ? ip : null;
}

/**
 * Issues one command (reference §3.1, issue flow):
 *
 * 1. In one transaction, under a per-project advisory lock: a repeated
 *    `(project_id, idempotency_key)` returns the first row unchanged; else the
 *    project's budget (Z4J_RATELIMIT_COMMANDS_PER_MINUTE, counted over the
 *    commands users issued in the last minute, so it holds across API
 *    replicas) is checked (429), the row is inserted as `pending` with
 *    `timeout_at = now + Z4J_COMMAND_TIMEOUT_SECONDS`, and the audit row
 *    `command.issue.<action>` is appended.
 * 2. Commit.
 * 3. NOTIFY `z4j_commands` `{"c","a"}`: the gateway replica holding the agent
 *    claims the row (pending → dispatched) and pushes the frame. Sent only
 *    after the commit, so the claim always finds the row. A lost NOTIFY only
 *    delays delivery: the gateways' reconcile loop re-reads pending rows.
 *
 * The lock serialises issuance per project, which makes the budget exact;
 * the insert still says `on conflict do nothing` and re-selects, so a writer
 * that does not take the lock (another service issuing with the same key)
 * cannot make a duplicate key fail with a 500.
 */
export async function issueCommand(deps: ApiDeps, options: IssueCommandOptions): Promise<IssuedCommand> {
  const { project, agent, spec, idempotencyKey } = options;
  if (!project.isActive) throw commandErrors.projectArchived();
  const now = deps.now();
  const issued = await deps.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${ISSUE_LOCK_CLASS}::int, hashtext(${project.id}::text))`.execute(trx);
    const earlier = idempotencyKey === null ? undefined : await findByKey(trx, project.id, idempotencyKey);
    if (earlier) return { row: earlier, created: false };
    await assertWithinBudget(trx, project.id, now, deps.settings.ratelimitCommandsPerMinute);

    const inserted = await trx
      .insertInto('commands')
      .values({
        project_id: project.id,
        issued_by: options.issuedBy,
        agent_id: agent.id,
        action: spec.action,
        target_type: spec.targetType,
        target_id: spec.targetId,
        payload: jsonText(spec.payload),
        idempotency_key: idempotencyKey,
        status: 'pending',
        issued_at: now,
        timeout_at: new Date(now.getTime() + deps.settings.commandTimeoutSeconds * 1000),
        source_ip: options.sourceIp,
      })
      .onConflict((oc) => oc.columns(['project_id', 'idempotency_key']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) {
      // Only reachable with a key (NULLs never conflict), taken by a writer outside this lock that has committed.
      return { row: (await findByKey(trx, project.id, idempotencyKey!))!, created: false };
    }
    await options.alsoInTransaction?.(trx);
    await options.audit(
      {
        action: `command.issue.${spec.action}`,
        target_type: spec.targetType,
        target_id: spec.targetId,
        result: 'success',
        metadata: { command_id: inserted.id, agent_id: agent.id, idempotency_key: idempotencyKey, ...spec.auditMetadata },
      },
      trx,
    );
    const row = await selectCommands(trx).where('commands.id', '=', inserted.id).executeTakeFirstOrThrow();
    return { row, created: true };
  });

  if (issued.created) {
    try {
      await deps.notify(COMMANDS_CHANNEL, JSON.stringify({ c: issued.row.id, a: agent.id }));
    } catch (error) {
      // The row is committed; the gateways' reconcile loop delivers it without the NOTIFY.
      deps.logger.warn({ err: error, commandId: issued.row.id }, 'api:command:notify_failed');
    }
  }
  return { command: commandPublic(issued.row), created: issued.created };
}

function findByKey(db: Kysely<Database>, projectId: string, key: string) {
  return selectCommands(db).where('commands.project_id', '=', projectId).where('commands.idempotency_key', '=', key).executeTakeFirst();
}

/**
 * Z4J_RATELIMIT_COMMANDS_PER_MINUTE per project, over the commands users
 * issued (issued_by set): commands the brain issues itself (reconciliation,
 * schedule fires) never eat into the operators' budget.
 */
async function assertWithinBudget(trx: Kysely<Database>, projectId: string, now: Date, perMinute: number): Promise<void> {
  const { issued } = await trx
    .selectFrom('commands')
    .select((eb) => eb.fn.countAll<string | number>().as('issued'))
    .where('project_id', '=', projectId)
    .where('issued_by', 'is not', null)
    .where('issued_at', '>', new Date(now.getTime() - RATE_WINDOW_MS))
    .executeTakeFirstOrThrow();
  if (Number(issued) >= perMinute) {
    throw apiError.rateLimited(
      `this project issued ${perMinute} commands in the last minute (Z4J_RATELIMIT_COMMANDS_PER_MINUTE); try again shortly`,
    );
  }
}

/** A JSON value from validated input (valibot's `unknown` leaves) as the JsonValue the payload carries. */
export function asJson(value: unknown): JsonValue {
  return value as JsonValue;
}
