import { sql, type Kysely } from 'kysely';
import * as v from 'valibot';
import type { Database } from '@z4j/db';
import { AGENT_REVOKED_CHANNEL, markAgentRevoked, mintAgent } from '@z4j/enrolment';
import { isAppError } from '@z4j/errors';
import { decodeTimestampCursor, olderThan, timestampCursorKey, timestampText } from '../audit/timestamp-cursor.js';
import { apiError } from '../http/api-errors.js';
import { defineRoute, type AnyRoute, type ApiDeps } from '../http/api-types.js';
import { decodeCursor, pageOf, paginationQuery } from '../http/pagination.js';
import { isUuid, UUID_PATTERN } from '../http/uuid.js';

const MintAgentBody = v.object({
  name: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(200), v.regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')),
});

/** An agent as the dashboard lists it: identity, liveness, what it runs, and whether its token still works. */
export interface AgentView {
  readonly id: string;
  readonly name: string;
  /** online | offline | unknown (never connected). */
  readonly state: string;
  readonly last_seen_at: Date | null;
  readonly last_connect_at: Date | null;
  readonly protocol_version: string | null;
  /** The agent package's version and host, from its hello. */
  readonly agent_version: string | null;
  readonly host: string | null;
  readonly framework_adapter: string | null;
  readonly engine_adapters: string[];
  readonly scheduler_adapters: string[];
  readonly capabilities: unknown;
  readonly revoked: boolean;
  readonly revoked_at: Date | null;
  readonly created_at: Date;
}

function selectAgents(db: Kysely<Database>, projectId: string) {
  return db
    .selectFrom('agents')
    .select([
      'agents.id',
      'agents.name',
      'agents.state',
      'agents.last_seen_at',
      'agents.last_connect_at',
      'agents.protocol_version',
      sql<string | null>`agents.metadata->>'version'`.as('agent_version'),
      sql<string | null>`agents.metadata->>'host'`.as('host'),
      'agents.framework_adapter',
      'agents.engine_adapters',
      'agents.scheduler_adapters',
      'agents.capabilities',
      'agents.revoked_at',
      'agents.created_at',
    ])
    .where('agents.project_id', '=', projectId);
}

type AgentRow = Awaited<ReturnType<ReturnType<typeof selectAgents>['executeTakeFirstOrThrow']>>;

function agentView(row: AgentRow): AgentView {
  return { ...row, revoked: row.revoked_at !== null };
}

/** The enrolment library speaks its own codes; the API answers in its vocabulary (§5.1) with the same message. */
function asApiError(error: unknown): unknown {
  if (!isAppError(error)) return error;
  if (error.code === 'AGENT_NAME_TAKEN') return apiError.conflict(error.message);
  if (error.code === 'AGENT_NOT_FOUND') return apiError.notFound('agent');
  if (error.code === 'PROJECT_NOT_FOUND') return apiError.conflict('this project is archived; its agents cannot change');
  return error;
}

/**
 * A project's agents over REST, with the semantics of `z4j agents
 * mint|revoke|list` (same library): a minted agent's token and the project's
 * frame-signing secret are shown once; revoking makes the token unusable at
 * once and NOTIFYs `z4j_agent_revoked` so every gateway replica closes the
 * agent's sockets. The NOTIFY goes out after the revocation commits, so an
 * agent that reconnects at once is already refused.
 */
export function createAgentRoutes(deps: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/agents',
      tag: 'agents',
      summary: "The project's agents by name, revoked ones included (flagged)",
      access: { kind: 'project', role: 'viewer' },
      query: paginationQuery(deps.settings),
      handler: async ({ c, query, project }) => {
        let select = selectAgents(deps.db, project.id);
        if (query.cursor !== undefined) {
          const [name, id] = decodeCursor(query.cursor);
          if (typeof name !== 'string')
            throw apiError.validation([{ field: 'query.cursor', message: 'not a cursor returned by this API' }]);
          select = select.where(sql<boolean>`(agents.name, agents.id) > (${name}, ${id}::uuid)`);
        }
        const rows = await select
          .orderBy('agents.name')
          .orderBy('agents.id')
          .limit(query.limit + 1)
          .execute();
        const page = pageOf(rows, query.limit, (row) => [row.name, row.id]);
        return c.json({ items: page.items.map(agentView), next_cursor: page.next_cursor });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/projects/:slug/agents',
      tag: 'agents',
      summary: 'Mint an agent; its token and the hmac_secret are in this reply only',
      access: { kind: 'project', role: 'admin' },
      freshMfa: true,
      body: MintAgentBody,
      status: 201,
      handler: async ({ c, body, project, audit }) => {
        const minted = await deps.db
          .transaction()
          .execute(async (trx) => {
            const agent = await mintAgent(trx, {
              projectId: project.id,
              name: body.name,
              masterSecret: deps.settings.secret,
              now: deps.now(),
            });
            await audit(
              {
                action: 'agent.token.minted',
                target_type: 'agent',
                target_id: agent.agent_id,
                result: 'success',
                metadata: { name: agent.name },
              },
              trx,
            );
            return agent;
          })
          .catch((error: unknown) => {
            throw asApiError(error);
          });
        const row = await selectAgents(deps.db, project.id).where('agents.id', '=', minted.agent_id).executeTakeFirstOrThrow();
        return c.json({ agent: agentView(row), token: minted.token, hmac_secret: minted.hmac_secret }, 201);
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/projects/:slug/agents/:agentId',
      tag: 'agents',
      summary: "Revoke an agent's token and close its live sockets on every gateway (revoking twice is fine)",
      access: { kind: 'project', role: 'admin' },
      status: 204,
      handler: async ({ c, params, project, audit }) => {
        const agentId = (params.agentId ?? '').toLowerCase();
        if (!isUuid(agentId)) throw apiError.notFound('agent');
        await deps.db
          .transaction()
          .execute(async (trx) => {
            const marked = await markAgentRevoked(trx, agentId, deps.now(), { projectId: project.id });
            // A repeat changes nothing, so it leaves no audit row; its NOTIFY below still closes any straggling socket.
            if (!marked.alreadyRevoked) {
              await audit(
                {
                  action: 'agent.token.revoked',
                  target_type: 'agent',
                  target_id: agentId,
                  result: 'success',
                  metadata: { name: marked.agent.name },
                },
                trx,
              );
            }
          })
          .catch((error: unknown) => {
            throw asApiError(error);
          });
        await deps.notify(AGENT_REVOKED_CHANNEL, agentId);
        return c.body(null, 204);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/projects/:slug/agent-workers',
      tag: 'agents',
      summary: "Per-process connections of the project's agents, newest first (filter: agent_id)",
      access: { kind: 'project', role: 'viewer' },
      query: v.object({
        ...paginationQuery(deps.settings).entries,
        agent_id: v.optional(v.pipe(v.string(), v.regex(UUID_PATTERN, 'expected a uuid'))),
      }),
      handler: async ({ c, query, project }) => {
        let select = deps.db
          .selectFrom('agent_workers')
          .innerJoin('agents', 'agents.id', 'agent_workers.agent_id')
          .select([
            'agent_workers.id',
            'agent_workers.agent_id',
            'agents.name as agent_name',
            'agent_workers.worker_id',
            'agent_workers.role',
            'agent_workers.framework',
            'agent_workers.pid',
            'agent_workers.started_at',
            'agent_workers.state',
            'agent_workers.last_seen_at',
            'agent_workers.last_connect_at',
            'agent_workers.created_at',
            timestampText('agent_workers.created_at').as('created_at_text'),
          ])
          .where('agent_workers.project_id', '=', project.id);
        if (query.agent_id !== undefined) select = select.where('agent_workers.agent_id', '=', query.agent_id);
        if (query.cursor !== undefined) {
          select = select.where(olderThan('agent_workers.created_at', 'agent_workers.id', decodeTimestampCursor(query.cursor)));
        }
        const rows = await select
          .orderBy('agent_workers.created_at', 'desc')
          .orderBy('agent_workers.id', 'desc')
          .limit(query.limit + 1)
          .execute();
        const page = pageOf(rows, query.limit, (row) => timestampCursorKey(row.created_at_text, row.id));
        return c.json({ items: page.items.map(({ created_at_text: _text, ...row }) => row), next_cursor: page.next_cursor });
      },
    }),
  ];
}
