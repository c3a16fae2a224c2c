import * as v from 'valibot';
import { createSlidingWindowLimiter } from '@z4j/runtime';
import { decodeTimestampCursor, olderThan, timestampCursorKey } from '../audit/timestamp-cursor.js';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps, type ProjectRole, type RouteInput } from '../http/api-types.js';
import { pageOf, paginationQuery } from '../http/pagination.js';
import { commandErrors } from './command-errors.js';
import { findCommandAgent, issueCommand, sourceIpOf, type CommandAgent, type CommandSpec } from './command-issuer.js';
import {
  BulkRetryBody,
  CancelTaskBody,
  ConsumerBody,
  PoolResizeBody,
  PurgeQueueBody,
  QueueStateBody,
  RateLimitBody,
  RestartWorkerBody,
  RetryTaskBody,
  advertisedEngine,
  bulkRetryCommand,
  cancelTaskCommand,
  commandEngine,
  consumerCommand,
  filterTaskIds,
  poolResizeCommand,
  purgeQueueCommand,
  queueStateCommand,
  rateLimitCommand,
  restartWorkerCommand,
  retryTaskCommand,
  stripBrainFilledKeys,
} from './command-requests.js';
import { commandPublic, findCommand, selectCommands, type CommandStatus } from './command-view.js';
import { openCommandWaiter } from './command-waiter.js';
import { isUuid, UUID_PATTERN } from '../http/uuid.js';

const STATUSES = ['pending', 'dispatched', 'completed', 'failed', 'timeout', 'cancelled'] as const satisfies readonly CommandStatus[];

/** bulk-retry and purge-queue: at most this many per client address per minute (the original's bulk-action throttle). */
const BULK_ACTIONS_PER_MINUTE = 10;

/** `?wait=true[&wait_seconds=N]`: N defaults to, and may not exceed, Z4J_COMMAND_TIMEOUT_SECONDS. */
function waitQuery(timeoutSeconds: number) {
  return v.object({
    wait: v.optional(
      v.pipe(
        v.picklist(['true', 'false', '1', '0']),
        v.transform((value) => value === 'true' || value === '1'),
      ),
      'false',
    ),
    wait_seconds: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^\d{1,5}$/, 'expected a whole number of seconds'),
        v.transform(Number),
        v.minValue(1),
        v.maxValue(timeoutSeconds, `at most Z4J_COMMAND_TIMEOUT_SECONDS (${timeoutSeconds})`),
      ),
    ),
  });
}

type WaitQuery = v.InferOutput<ReturnType<typeof waitQuery>>;

/** What every command body has, after validation. */
interface CommonBody {
  readonly agent_id: string;
  readonly idempotency_key: string | null;
}

interface CommandEndpoint<S extends v.GenericSchema<unknown, CommonBody>> {
  readonly path: string;
  readonly summary: string;
  readonly role: ProjectRole;
  readonly body: S;
  readonly bulk?: boolean;
  build(body: v.InferOutput<S>, agent: CommandAgent, projectId: string): Promise<CommandSpec> | CommandSpec;
}

/**
 * Issuing commands (reference §3.1) and their history.
 *
 * Replies to `POST /projects/{slug}/commands/<x>`:
 * - 202 + the command: stored as pending and announced to the gateways;
 * - 200 + the command: the idempotency key named an earlier command, which
 *   comes back as it is now (nothing new is stored, announced or audited);
 * - 503 `agent_offline`, the command in `details`: stored and announced, but
 *   the agent has no socket. As in the reference we answer 503 rather than 202
 *   with a warning: the caller asked for an action now and it cannot happen
 *   now, and a script checking for 2xx must not take it for done. The row
 *   stays pending, so an agent that reconnects before `timeout_at` still
 *   drains and runs it; `details.command.id` lets the caller follow it.
 * - with `?wait=true`: subscribes to `z4j_command_updates` before the insert,
 *   then 200 + the final command once it is completed or failed, or 504
 *   `command_timeout` (command in `details`) when it timed out or the wait
 *   (`wait_seconds`, default and maximum Z4J_COMMAND_TIMEOUT_SECONDS) ran
 *   out. An offline agent still answers 503 at once.
 */
export function createCommandRoutes(deps: ApiDeps): AnyRoute[] {
  const { settings } = deps;
  const bulkLimiter = createSlidingWindowLimiter({
    limit: BULK_ACTIONS_PER_MINUTE,
    windowMs: 60_000,
    now: () => deps.now().getTime(),
  });
  const query = waitQuery(settings.commandTimeoutSeconds);

  async function issueAndReply<B extends CommonBody>(
    input: RouteInput<B, WaitQuery, { kind: 'project'; role: ProjectRole }>,
    endpoint: CommandEndpoint<v.GenericSchema<unknown, B>>,
  ): Promise<Response> {
    const { c, body, project, principal } = input;
    if (endpoint.bulk && !bulkLimiter.hit(c.get('clientIp'))) {
      throw apiError.rateLimited(`at most ${BULK_ACTIONS_PER_MINUTE} bulk actions per minute from one address`);
    }
    const agent = await findCommandAgent(deps.db, project.id, body.agent_id);
    const spec = await endpoint.build(body, agent, project.id);
    // Subscribed before the insert: an agent may answer before this call gets to wait.
    const waiter = input.query.wait ? await openCommandWaiter(deps) : undefined;
    try {
      const issued = await issueCommand(deps, {
        project,
        agent,
        spec,
        idempotencyKey: body.idempotency_key,
        issuedBy: principal.user.id,
        sourceIp: sourceIpOf(c),
        audit: input.audit,
      });
      if (issued.created && agent.state !== 'online') throw commandErrors.agentOffline(issued.command);
      if (!waiter) return c.json(issued.command, issued.created ? 202 : 200);
      const waitSeconds = input.query.wait_seconds ?? settings.commandTimeoutSeconds;
      const waited = await waiter.waitForFinal(issued.command, waitSeconds * 1000, c.req.raw.signal);
      const command = waited.row;
      if (!waited.final || command.status === 'timeout') throw commandErrors.commandTimeout(command);
      return c.json(command, 200);
    } finally {
      await waiter?.close();
    }
  }

  function commandRoute<S extends v.GenericSchema<unknown, CommonBody>>(endpoint: CommandEndpoint<S>): AnyRoute {
    return defineRoute({
      method: 'POST',
      path: `/projects/:slug/commands/${endpoint.path}`,
      tag: 'commands',
      summary: endpoint.summary,
      access: { kind: 'project', role: endpoint.role },
      body: endpoint.body,
      query,
      status: 202,
      handler: (input) => issueAndReply(input, endpoint),
    });
  }

  return [
    commandRoute({
      path: 'retry-task',
      summary: 'Retry a task (retry_task): its name, args, kwargs and priority come from the stored task',
      role: 'operator',
      body: RetryTaskBody,
      build: async (body, agent, projectId) => {
        advertisedEngine(agent, body.engine);
        const task = await deps.db
          .selectFrom('tasks')
          .select(['name', 'args', 'kwargs', 'priority'])
          .where('project_id', '=', projectId)
          .where('engine', '=', body.engine)
          .where('task_id', '=', body.task_id)
          .executeTakeFirst();
        if (!task) throw apiError.notFound('task');
        return retryTaskCommand(body, task);
      },
    }),
    commandRoute({
      path: 'cancel-task',
      summary: 'Cancel (revoke) a task (cancel_task)',
      role: 'operator',
      body: CancelTaskBody,
      build: (body, agent) => {
        advertisedEngine(agent, body.engine);
        return cancelTaskCommand(body);
      },
    }),
    commandRoute({
      path: 'bulk-retry',
      summary: 'Retry the tasks a filter selects (bulk_retry, at most `max`); throttled per address',
      role: 'operator',
      body: BulkRetryBody,
      bulk: true,
      build: async (body, agent, projectId) => {
        const { filter, stripped } = stripBrainFilledKeys(body.filter);
        const engine = commandEngine(agent, body.engine ?? (typeof filter.engine === 'string' ? filter.engine : null));
        const selection = filterTaskIds(filter, body.max);
        const tasks = selection
          ? await deps.db
              .selectFrom('tasks')
              .select(['task_id', 'name', 'priority'])
              .where('project_id', '=', projectId)
              .where('engine', '=', selection.engine)
              .where('task_id', 'in', selection.taskIds)
              .execute()
          : [];
        return bulkRetryCommand(body, engine, stripped, filter, tasks);
      },
    }),
    commandRoute({
      path: 'purge-queue',
      summary: 'Purge a queue (purge_queue; needs confirm_token or force); admin only, throttled per address',
      role: 'admin',
      body: PurgeQueueBody,
      bulk: true,
      build: (body, agent) => purgeQueueCommand(body, commandEngine(agent, body.engine)),
    }),
    commandRoute({
      path: 'pause-queue',
      summary: 'Pause a queue: workers stop taking its jobs, nothing is lost (pause_queue; engines that support it)',
      role: 'operator',
      body: QueueStateBody,
      build: (body, agent) => queueStateCommand('pause_queue', body, commandEngine(agent, body.engine)),
    }),
    commandRoute({
      path: 'resume-queue',
      summary: 'Resume a paused queue (resume_queue)',
      role: 'operator',
      body: QueueStateBody,
      build: (body, agent) => queueStateCommand('resume_queue', body, commandEngine(agent, body.engine)),
    }),
    commandRoute({
      path: 'restart-worker',
      summary: 'Restart a worker (restart_worker)',
      role: 'operator',
      body: RestartWorkerBody,
      build: (body, agent) => restartWorkerCommand(body, commandEngine(agent, body.engine)),
    }),
    commandRoute({
      path: 'pool-resize',
      summary: "Grow or shrink a worker's pool by delta processes (pool_grow / pool_shrink)",
      role: 'operator',
      body: PoolResizeBody,
      build: (body, agent) => poolResizeCommand(body, commandEngine(agent, body.engine)),
    }),
    commandRoute({
      path: 'add-consumer',
      summary: 'Make a worker consume a queue (add_consumer)',
      role: 'operator',
      body: ConsumerBody,
      build: (body, agent) => consumerCommand('add_consumer', body, commandEngine(agent, body.engine)),
    }),
    commandRoute({
      path: 'cancel-consumer',
      summary: 'Make a worker stop consuming a queue (cancel_consumer)',
      role: 'operator',
      body: ConsumerBody,
      build: (body, agent) => consumerCommand('cancel_consumer', body, commandEngine(agent, body.engine)),
    }),
    commandRoute({
      path: 'rate-limit',
      summary: "Set or clear (rate 0) a task's rate limit on one worker or all of them (rate_limit)",
      role: 'operator',
      body: RateLimitBody,
      build: (body, agent) => rateLimitCommand(body, commandEngine(agent, body.engine)),
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/commands',
      tag: 'commands',
      summary: "The project's commands, newest first (filters: status, action, agent_id)",
      access: { kind: 'project', role: 'viewer' },
      query: v.object({
        ...paginationQuery(settings).entries,
        status: v.optional(v.picklist(STATUSES)),
        action: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(100))),
        agent_id: v.optional(v.pipe(v.string(), v.regex(UUID_PATTERN, 'expected a uuid'), v.toLowerCase())),
      }),
      handler: async ({ c, query, project }) => {
        let select = selectCommands(deps.db).where('commands.project_id', '=', project.id);
        if (query.status !== undefined) select = select.where('commands.status', '=', query.status);
        if (query.action !== undefined) select = select.where('commands.action', '=', query.action);
        if (query.agent_id !== undefined) select = select.where('commands.agent_id', '=', query.agent_id);
        if (query.cursor !== undefined) {
          select = select.where(olderThan('commands.issued_at', 'commands.id', decodeTimestampCursor(query.cursor)));
        }
        const rows = await select
          .orderBy('commands.issued_at', 'desc')
          .orderBy('commands.id', 'desc')
          .limit(query.limit + 1)
          .execute();
        const page = pageOf(rows, query.limit, (row) => timestampCursorKey(row.issued_at_text, row.id));
        return c.json({ items: page.items.map(commandPublic), next_cursor: page.next_cursor });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/commands/:commandId',
      tag: 'commands',
      summary: 'One command: its status, result or error',
      access: { kind: 'project', role: 'viewer' },
      handler: async ({ c, params, project }) => {
        const commandId = (params.commandId ?? '').toLowerCase();
        const row = isUuid(commandId) ? await findCommand(deps.db, project.id, commandId) : undefined;
        if (!row) throw apiError.notFound('command');
        return c.json(commandPublic(row));
      },
    }),
  ];
}
