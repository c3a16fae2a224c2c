import type { Kysely, Selectable, SelectQueryBuilder } from 'kysely';
import type { Database } from '@z4j/db';
import { timestampText } from '../audit/timestamp-cursor.js';

/** pending → dispatched → completed | failed, or timeout (reference §3.1). */
export type CommandStatus = Selectable<Database['commands']>['status'];

/** A command as every command route answers it (the original's CommandPublic, plus idempotency_key). */
export interface CommandPublic {
  readonly id: string;
  readonly project_id: string;
  readonly agent_id: string | null;
  readonly action: string;
  readonly target_type: string;
  readonly target_id: string | null;
  readonly payload: unknown;
  readonly status: CommandStatus;
  readonly result: unknown;
  readonly error: string | null;
  readonly idempotency_key: string | null;
  readonly issued_by: string | null;
  readonly issued_at: Date;
  readonly dispatched_at: Date | null;
  readonly completed_at: Date | null;
  readonly timeout_at: Date;
}

/** Statuses after which a command never changes again (`cancelled` is in the enum but unused). */
export const FINAL_COMMAND_STATUSES: ReadonlySet<CommandStatus> = new Set<CommandStatus>(['completed', 'failed', 'timeout', 'cancelled']);

/** The columns of {@link CommandPublic}; source_ip stays in the database. */
export const COMMAND_COLUMNS = [
  'commands.id',
  'commands.project_id',
  'commands.agent_id',
  'commands.action',
  'commands.target_type',
  'commands.target_id',
  'commands.payload',
  'commands.status',
  'commands.result',
  'commands.error',
  'commands.idempotency_key',
  'commands.issued_by',
  'commands.issued_at',
  'commands.dispatched_at',
  'commands.completed_at',
  'commands.timeout_at',
] as const;

/** {@link COMMAND_COLUMNS}, plus `issued_at_text` (µs, for cursors). */
export function selectCommands(db: Kysely<Database>): SelectQueryBuilder<Database, 'commands', CommandRow> {
  return db.selectFrom('commands').select([...COMMAND_COLUMNS, timestampText('commands.issued_at').as('issued_at_text')]);
}

/** A selected command: {@link CommandPublic} plus its issued_at as Postgres text with microseconds (the list cursor). */
export interface CommandRow extends CommandPublic {
  readonly issued_at_text: string;
}

export function commandPublic(row: CommandRow): CommandPublic {
  const { issued_at_text: _text, ...command } = row;
  return command;
}

/** One command of a project, or undefined (another project's command is not found either). */
export function findCommand(db: Kysely<Database>, projectId: string, commandId: string): Promise<CommandRow | undefined> {
  return selectCommands(db).where('commands.project_id', '=', projectId).where('commands.id', '=', commandId).executeTakeFirst();
}
