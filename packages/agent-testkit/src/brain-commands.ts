import * as v from 'valibot';
import type { JsonObject } from '@z4j/protocol';
import type { ConformanceBrain } from './conformance-brain.js';
import { pollUntil } from './poll-until.js';

/**
 * The brain's command API as an operator (or the brain itself) uses it. Every reply crosses an HTTP or database
 * boundary, so it is parsed before the suite reads it: a reply of another shape fails with what it was.
 */

const FinalCommand = v.object({
  id: v.string(),
  status: v.string(),
  result: v.nullable(v.record(v.string(), v.unknown())),
  error: v.nullable(v.string()),
});

/** A command the brain has finished with (or given up waiting for). */
export interface CommandOutcome {
  readonly id: string;
  /** `completed`, `failed`, `timeout`, … (the brain's `commands.status`). */
  readonly status: string;
  readonly result: JsonObject | null;
  readonly error: string | null;
}

/** Who issues: the brain, the suite's API token, and the agent the commands go to. */
export interface CommandIssuer {
  readonly brain: ConformanceBrain;
  readonly apiToken: string;
  readonly agentId: string;
  readonly projectId: string;
}

function parsed(what: string, status: number, body: unknown): CommandOutcome {
  const outcome = v.safeParse(FinalCommand, body);
  if (!outcome.success) throw new Error(`${what}: HTTP ${status} with an unexpected body ${JSON.stringify(body)}`);
  return outcome.output as CommandOutcome;
}

async function post(issuer: CommandIssuer, path: string, body: JsonObject): Promise<{ status: number; body: unknown }> {
  const reply = await fetch(`${issuer.brain.url}/api/v1/projects/${issuer.brain.projectSlug}/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${issuer.apiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: reply.status, body: await reply.json() };
}

/**
 * `POST /projects/{slug}/commands/<endpoint>?wait=true` for the suite's agent: resolves once the agent's result is in
 * (or the brain gave up waiting), with the final command.
 *
 * @example
 * const outcome = await issueCommand(issuer, 'retry-task', { engine: 'bullmq', task_id: 'work:7' });
 * outcome.status; // 'completed'
 */
export async function issueCommand(issuer: CommandIssuer, endpoint: string, body: JsonObject): Promise<CommandOutcome> {
  const reply = await post(issuer, `commands/${endpoint}?wait=true`, { agent_id: issuer.agentId, ...body });
  return parsed(`POST commands/${endpoint}`, reply.status, reply.body);
}

const IssuedScheduleCommand = v.object({ command: v.object({ id: v.string() }) });

/**
 * `POST /projects/{slug}/schedules/{id}/<control>` (202: the command is stored), then the command once the agent
 * has answered it.
 *
 * @example
 * const outcome = await controlSchedule(issuer, schedule.id, 'trigger');
 */
export async function controlSchedule(
  issuer: CommandIssuer,
  scheduleId: string,
  control: 'enable' | 'disable' | 'trigger',
): Promise<CommandOutcome> {
  const reply = await post(issuer, `schedules/${scheduleId}/${control}`, {});
  const issued = v.safeParse(IssuedScheduleCommand, reply.body);
  if (reply.status !== 202 || !issued.success) {
    throw new Error(`POST schedules/${scheduleId}/${control}: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
  }
  return finalCommand(issuer, issued.output.command.id);
}

/**
 * Issues a command the way the brain's own workers do (the reconciliation worker's `reconcile_task`, the scheduler
 * bridge's fires), for actions no REST endpoint issues: a pending `commands` row for the agent, which the gateway
 * delivers. Resolves with the command once the agent has answered it.
 *
 * @example
 * await issueFromBrain(issuer, 'reconcile_task', { type: 'task', id: 'bullmq:work:7' }, { engine: 'bullmq', task_id: 'work:7' });
 */
export async function issueFromBrain(
  issuer: CommandIssuer,
  action: string,
  target: { readonly type: string; readonly id: string },
  payload: JsonObject,
): Promise<CommandOutcome> {
  const row = await issuer.brain.db
    .insertInto('commands')
    .values({
      project_id: issuer.projectId,
      agent_id: issuer.agentId,
      action,
      target_type: target.type,
      target_id: target.id,
      payload: JSON.stringify(payload),
      timeout_at: new Date(Date.now() + 60_000),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return finalCommand(issuer, row.id);
}

const FINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'timeout', 'cancelled']);

async function finalCommand(issuer: CommandIssuer, id: string): Promise<CommandOutcome> {
  const read = () =>
    issuer.brain.db.selectFrom('commands').select(['id', 'status', 'result', 'error']).where('id', '=', id).executeTakeFirstOrThrow();
  const row = await pollUntil(read, (command) => FINAL_STATUSES.has(command.status));
  return parsed(`command ${id}`, 200, row);
}
