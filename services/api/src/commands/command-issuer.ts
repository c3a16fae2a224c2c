import { isIP } from 'node:net';
import { sql, type Kysely } from 'kysely';
import type { AuditEntry, AuditRow } from '@z4j/audit';
import { jsonText, type Database } from '@z4j/db';
import type { JsonObject, JsonValue } from '@z4j/protocol';
import { apiError } from '../http/api-errors.js';
import type { ApiContext, ApiDeps, ProjectAccess } from '../http/api-types.js';
import { commandErrors } from './command-errors.js';
import { COMMAND_COLUMNS, commandPublic, selectCommands, type CommandPublic, type CommandRow } from './command-view.js';
import { timestampText } from '../audit/timestamp-cursor.js';

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
 *    `(project_id, idempotency_key)` returns the first row unchanged; else one
 *    INSERT … SELECT … WHERE checks the project's budget
 *    (Z4J_RATELIMIT_COMMANDS_PER_MINUTE, counted over the commands users
 *    issued in the last minute, so it holds across API replicas), inserts the
 *    row as `pending` with `timeout_at = now + Z4J_COMMAND_TIMEOUT_SECONDS`
 *    and returns it. The audit row `command.issue.<action>` is appended.
 * 2. Commit.
 * 3. NOTIFY `z4j_commands` `{"c","a"}`: the gateway replica holding the agent
 *    claims the row (pending → dispatched) and pushes the frame. Sent only
 *    after the commit, so the claim always finds the row. A lost NOTIFY only
 *    delays delivery: the gateways' reconcile loop re-reads pending rows.
 *
 * Every round trip here is on the latency of `?wait=true` (issue 5's goal), so
 * the budget check, the insert and the re-read are one statement.
 * The lock serialises issuance per project, which makes the budget exact; the
 * insert still says `on conflict do nothing`, so a writer that does not take
 * the lock (another service issuing with the same key) cannot make a duplicate
 * key fail with a 500.
 */
export async function issueCommand(deps: ApiDeps, options: IssueCommandOptions): Promise<IssuedCommand> {
  const { project, agent, spec, idempotencyKey } = options;
  if (!project.isActive) throw commandErrors.projectArchived();
  const now = deps.now();
  const perMinute = deps.settings.ratelimitCommandsPerMinute;
  const issued = await deps.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${ISSUE_LOCK_CLASS}::int, hashtext(${project.id}::text))`.execute(trx);
    const earlier = idempotencyKey === null ? undefined : await findByKey(trx, project.id, idempotencyKey);
    if (earlier) return { row: earlier, created: false };

    const row = await insertWithinBudget(trx, { ...options, now, timeoutSeconds: deps.settings.commandTimeoutSeconds, perMinute });
    if (!row) {
      // Nothing inserted: the key was taken by a writer outside this lock that has committed, or the budget is spent.
      const taken = idempotencyKey === null ? undefined : await findByKey(trx, project.id, idempotencyKey);
      if (taken) return { row: taken, created: false };
      throw apiError.rateLimited(
        `this project issued ${perMinute} commands in the last minute (Z4J_RATELIMIT_COMMANDS_PER_MINUTE); try again shortly`,
      );
    }
    await options.alsoInTransaction?.(trx);
    await options.audit(
      {
        action: `command.issue.${spec.action}`,
        target_type: spec.targetType,
        target_id: spec.targetId,
        result: 'success',
        metadata: { command_id: row.id, agent_id: agent.id, idempotency_key: idempotencyKey, ...spec.auditMetadata },
      },
      trx,
    );
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
 * INSERT … SELECT … WHERE the project is within Z4J_RATELIMIT_COMMANDS_PER_MINUTE
 * (over the commands users issued, issued_by set: commands the brain issues
 * itself never eat into the operators' budget), RETURNING the row as the
 * routes answer it. Undefined when
 * nothing was inserted (budget spent, or the idempotency key taken).
 */
async function insertWithinBudget(
  trx: Kysely<Database>,
  options: IssueCommandOptions & { readonly now: Date; readonly timeoutSeconds: number; readonly perMinute: number },
): Promise<CommandRow | undefined> {
  const { project, agent, spec, now } = options;
  return trx
    .insertInto('commands')
    .columns([
      'project_id',
      'issued_by',
      'agent_id',
      'action',
      'target_type',
      'target_id',
      'payload',
      'idempotency_key',
      'status',
      'issued_at',
      'timeout_at',
      'source_ip',
    ])
    .expression(
      trx
        .selectNoFrom((eb) => [
          sql<string>`${project.id}::uuid`.as('project_id'),
          sql<string>`${options.issuedBy}::uuid`.as('issued_by'),
          sql<string>`${agent.id}::uuid`.as('agent_id'),
          eb.val(spec.action).as('action'),
          eb.val(spec.targetType).as('target_type'),
          sql<string | null>`${spec.targetId}::text`.as('target_id'),
          sql`${jsonText(spec.payload)}::jsonb`.as('payload'),
          sql<string | null>`${options.idempotencyKey}::text`.as('idempotency_key'),
          sql`'pending'::command_status`.as('status'),
          sql<Date>`${now}::timestamptz`.as('issued_at'),
          sql<Date>`${new Date(now.getTime() + options.timeoutSeconds * 1000)}::timestamptz`.as('timeout_at'),
          sql<string | null>`${options.sourceIp}::inet`.as('source_ip'),
        ])
        .where((eb) =>
          eb(
            eb
              .selectFrom('commands')
              .select((count) => count.fn.countAll<string>().as('issued'))
              .where('project_id', '=', project.id)
              .where('issued_by', 'is not', null)
              .where('issued_at', '>', new Date(now.getTime() - RATE_WINDOW_MS)),
            '<',
            sql<string>`${options.perMinute}::bigint`,
          ),
        ),
    )
    .onConflict((oc) => oc.columns(['project_id', 'idempotency_key']).doNothing())
    .returning([...COMMAND_COLUMNS, timestampText('commands.issued_at').as('issued_at_text')])
    .executeTakeFirst();
}

/** A JSON value from validated input (valibot's `unknown` leaves) as the JsonValue the payload carries. */
export function asJson(value: unknown): JsonValue {
  return value as JsonValue;
}
