import { isIP } from 'node:net';
import { appendAuditRow } from '@z4j/audit';
import { sql, type Kysely } from 'kysely';
import { COMMAND_UPDATES_CHANNEL, jsonText, storableText, type Database } from '@z4j/db';
import { hashAgentToken, type JsonValue } from '@z4j/protocol';
import type { QueueDepth, WorkerDetail } from './adapter-health.js';

/**
 * Every database write and read the gateway makes, in one place. Each method
 * is one short statement or transaction; nothing here holds a connection
 * across a network wait on an agent.
 */

export interface AgentIdentity {
  readonly id: string;
  readonly projectId: string;
  readonly name: string;
}

export interface HelloFacts {
  readonly protocolVersion: string;
  readonly agentVersion: string;
  readonly framework: string;
  readonly engines: readonly string[];
  readonly schedulers: readonly string[];
  readonly capabilities: JsonValue;
  readonly host: JsonValue;
  readonly workerId: string;
  readonly workerRole: string | null;
  readonly workerPid: number | null;
  readonly workerStartedAt: Date | null;
}

export interface PendingCommand {
  readonly id: string;
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string | null;
  readonly payload: unknown;
  readonly issuedBy: string | null;
}

/** JsonValue as exact JSON text jsonb accepts (bigints kept, NUL and lone surrogates made storable). */
function jsonb(value: JsonValue) {
  // Typed as a JSON object for Kysely; the text is exact JSON (bigints included) cast by Postgres.
  return sql<Record<string, never>>`${jsonText(value)}::jsonb`;
}

/** Orders composite keys the way Postgres orders them under the C collation used for locking order. */
function compareKeys(a: readonly string[], b: readonly string[]): number {
  for (let index = 0; index < a.length; index += 1) {
    const left = a[index] ?? '';
    const right = b[index] ?? '';
    if (left !== right) return left < right ? -1 : 1;
  }
  return 0;
}

function toPendingCommand(row: {
  readonly id: string;
  readonly action: string;
  readonly target_type: string;
  readonly target_id: string | null;
  readonly payload: unknown;
  readonly issued_by: string | null;
}): PendingCommand {
  return {
    id: row.id,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    payload: row.payload,
    issuedBy: row.issued_by,
  };
}

export interface GatewayStoreOptions {
  /**
   * Announce a command's final status (NOTIFY `z4j_command_updates`) in the statement that writes it, instead of
   * leaving it to the caller: one round trip less between an agent's result and a waiting `?wait=true` call.
   * Only with the postgres_notify registry, where NOTIFY is how replicas hear each other.
   */
  readonly notifyCommandUpdatesInStatement?: boolean;
}

export function createGatewayStore(
  db: Kysely<Database>,
  secrets: { readonly current: string; readonly previous: readonly string[] },
  options: GatewayStoreOptions = {},
) {
  return {
    /** Looks the bearer token up by its keyed hash: current secret first, then each previous one (rotation). */
    async findAgentByToken(token: string): Promise<AgentIdentity | undefined> {
      const hashes = [secrets.current, ...secrets.previous].map((secret) => hashAgentToken(secret, token));
      const rows = await db
        .selectFrom('agents')
        .innerJoin('projects', 'projects.id', 'agents.project_id')
        .select(['agents.id', 'agents.project_id', 'agents.name', 'agents.token_hash'])
        .where('agents.token_hash', 'in', hashes)
        .where('agents.revoked_at', 'is', null)
        .where('projects.is_active', '=', true)
        .execute();
      // Prefer the current secret's match if (impossibly) both hashes matched rows.
      const row = hashes.map((hash) => rows.find((candidate) => candidate.token_hash === hash)).find(Boolean);
      return row ? { id: row.id, projectId: row.project_id, name: row.name } : undefined;
    },

    /** Audit row for a refused bearer token (§6.2 `agent.auth.bearer_failed`); callers throttle it per address. */
    async recordBearerFailure(ip: string, reason: string, at: Date): Promise<void> {
      await appendAuditRow(
        db,
        {
          action: 'agent.auth.bearer_failed',
          target_type: 'agent',
          result: 'failed',
          outcome: 'deny',
          source_ip: isIP(ip) ? ip : null,
          metadata: { reason },
        },
        { secret: secrets.current, now: at },
      );
    },

    async markConnected(agent: AgentIdentity, hello: HelloFacts, connectedAt: Date): Promise<void> {
      const metadataPatch: Record<string, JsonValue> = { host: hello.host };
      if (hello.agentVersion && hello.agentVersion !== '0.0.0') metadataPatch.version = hello.agentVersion;
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('agents')
          .set({
            state: 'online',
            protocol_version: hello.protocolVersion,
            framework_adapter: hello.framework,
            engine_adapters: [...hello.engines],
            scheduler_adapters: [...hello.schedulers],
            capabilities: jsonb(hello.capabilities),
            metadata: sql`metadata || ${jsonb(metadataPatch)}`,
            last_connect_at: connectedAt,
            last_seen_at: connectedAt,
            updated_at: connectedAt,
          })
          .where('id', '=', agent.id)
          .execute();
        await trx
          .insertInto('agent_workers')
          .values({
            agent_id: agent.id,
            project_id: agent.projectId,
            worker_id: hello.workerId,
            role: hello.workerRole,
            framework: hello.framework,
            pid: hello.workerPid,
            started_at: hello.workerStartedAt,
            state: 'online',
            last_seen_at: connectedAt,
            last_connect_at: connectedAt,
            updated_at: connectedAt,
          })
          .onConflict((oc) =>
            oc.columns(['agent_id', 'worker_id']).doUpdateSet((eb) => ({
              role: eb.ref('excluded.role'),
              framework: eb.ref('excluded.framework'),
              pid: eb.ref('excluded.pid'),
              started_at: eb.ref('excluded.started_at'),
              state: 'online',
              last_seen_at: eb.ref('excluded.last_seen_at'),
              last_connect_at: eb.ref('excluded.last_connect_at'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      });
    },

    /**
     * Marks this connection's worker slot offline (unless a newer connection
     * took the slot) and, when it was the agent's last socket on this replica,
     * the agent offline — but only if no worker slot of the agent is still
     * online anywhere (other replicas) and no newer connection has connected
     * since, so a late close cannot clobber a fresh connect.
     */
    async markDisconnected(agent: AgentIdentity, workerId: string, connectedAt: Date, wasLast: boolean, now: Date): Promise<void> {
      await db
        .updateTable('agent_workers')
        .set({ state: 'offline', updated_at: now })
        .where('agent_id', '=', agent.id)
        .where('worker_id', '=', workerId)
        .where('last_connect_at', '<=', connectedAt)
        .execute();
      if (!wasLast) return;
      await db
        .updateTable('agents')
        .set({ state: 'offline', updated_at: now })
        .where('id', '=', agent.id)
        .where('last_connect_at', '<=', connectedAt)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('agent_workers')
                .select('agent_workers.id')
                .where('agent_workers.agent_id', '=', agent.id)
                .where('agent_workers.state', '=', 'online'),
            ),
          ),
        )
        .execute();
    },

    /** Claim-then-push: moves up to `limit` pending commands to dispatched (oldest first) and returns them. */
    async claimPendingCommands(agentId: string, limit: number, now: Date): Promise<PendingCommand[]> {
      const rows = await db
        .updateTable('commands')
        .set({ status: 'dispatched', dispatched_at: now })
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('commands')
            .select('id')
            .where('agent_id', '=', agentId)
            .where('status', '=', 'pending')
            .where('timeout_at', '>', now)
            .orderBy('issued_at')
            .limit(limit)
            .forUpdate()
            .skipLocked(),
        )
        .where('status', '=', 'pending')
        .returning(['id', 'action', 'target_type', 'target_id', 'payload', 'issued_by', 'issued_at'])
        .execute();
      return rows.sort((a, b) => a.issued_at.getTime() - b.issued_at.getTime()).map(toPendingCommand);
    },

    /**
     * Claim-then-push for commands announced by NOTIFY or found by the
     * reconcile loop: pending → dispatched in one UPDATE … RETURNING, only
     * rows still pending, of this agent, and not past their timeout. A row
     * another replica (or the connect drain) claimed first is simply absent.
     */
    async claimCommands(agentId: string, commandIds: readonly string[], now: Date): Promise<PendingCommand[]> {
      if (commandIds.length === 0) return [];
      const rows = await db
        .updateTable('commands')
        .set({ status: 'dispatched', dispatched_at: now })
        .where('id', '=', sql<string>`any(${[...commandIds]}::uuid[])`)
        .where('agent_id', '=', agentId)
        .where('status', '=', 'pending')
        .where('timeout_at', '>', now)
        .returning(['id', 'action', 'target_type', 'target_id', 'payload', 'issued_by', 'issued_at'])
        .execute();
      return rows.sort((a, b) => a.issued_at.getTime() - b.issued_at.getTime()).map(toPendingCommand);
    },

    /** The reconcile loop's read: pending, unexpired commands of these agents, oldest first (served by commands_agent_pending_idx). */
    async pendingCommandsOf(
      agentIds: readonly string[],
      limit: number,
      now: Date,
    ): Promise<{ readonly id: string; readonly agentId: string }[]> {
      if (agentIds.length === 0) return [];
      const rows = await db
        .selectFrom('commands')
        .select(['id', 'agent_id'])
        .where('agent_id', '=', sql<string>`any(${[...agentIds]}::uuid[])`)
        .where('status', '=', 'pending')
        .where('timeout_at', '>', now)
        .orderBy('issued_at')
        .limit(limit)
        .execute();
      return rows.flatMap((row) => (row.agent_id ? [{ id: row.id, agentId: row.agent_id }] : []));
    },

    /** Of these agents, the ones that may no longer hold a socket: revoked, deleted, or in a deactivated project. */
    async unauthorisedAgents(agentIds: readonly string[]): Promise<string[]> {
      if (agentIds.length === 0) return [];
      const rows = await db
        .selectFrom('agents')
        .innerJoin('projects', 'projects.id', 'agents.project_id')
        .select('agents.id')
        .where('agents.id', '=', sql<string>`any(${[...agentIds]}::uuid[])`)
        .where('agents.revoked_at', 'is', null)
        .where('projects.is_active', '=', true)
        .execute();
      const allowed = new Set(rows.map((row) => row.id));
      return agentIds.filter((id) => !allowed.has(id));
    },

    /** One heartbeat: liveness of the agent and this worker slot, queue depths and engine workers (§1.10). */
    async recordHeartbeat(
      agent: AgentIdentity,
      workerId: string,
      at: { readonly seenAt: Date; readonly workersReportedAt: Date },
      health: { readonly queueDepths: readonly QueueDepth[]; readonly workers: readonly WorkerDetail[] },
    ): Promise<void> {
      const { seenAt } = at;
      const { queueDepths, workers } = health;
      await db.transaction().execute(async (trx) => {
        // Lock order matches ingest's group commit (queues, workers, then agents), rows sorted by key,
        // so a heartbeat and an ingest transaction touching the same rows cannot deadlock.
        const depths = [...queueDepths].sort((a, b) => compareKeys([a.engine, a.queue], [b.engine, b.queue]));
        if (depths.length > 0) {
          await trx
            .insertInto('queues')
            .values(
              depths.map((depth) => ({
                project_id: agent.projectId,
                engine: depth.engine,
                name: depth.queue,
                pending_count: Math.min(depth.depth, 2 ** 31 - 1),
                last_seen_at: seenAt,
                updated_at: seenAt,
              })),
            )
            .onConflict((oc) =>
              oc.columns(['project_id', 'engine', 'name']).doUpdateSet((eb) => ({
                pending_count: eb.ref('excluded.pending_count'),
                last_seen_at: eb.ref('excluded.last_seen_at'),
                updated_at: eb.ref('excluded.updated_at'),
              })),
            )
            .execute();
          // Depth over time: one sample per queue per minute, the latest heartbeat of the minute wins.
          const minute = new Date(Math.floor(seenAt.getTime() / 60_000) * 60_000);
          await trx
            .insertInto('queue_depth_samples')
            .values(
              depths.map((depth) => ({
                project_id: agent.projectId,
                engine: depth.engine,
                queue: depth.queue,
                minute,
                depth: Math.min(depth.depth, 2 ** 31 - 1),
              })),
            )
            .onConflict((oc) =>
              oc.columns(['project_id', 'engine', 'queue', 'minute']).doUpdateSet((eb) => ({ depth: eb.ref('excluded.depth') })),
            )
            .execute();
        }
        const details = [...workers].sort((a, b) => compareKeys([a.engine, a.name], [b.engine, b.name]));
        if (details.length > 0) {
          await trx
            .insertInto('workers')
            .values(
              details.map((worker) => ({
                project_id: agent.projectId,
                engine: worker.engine,
                name: worker.name,
                hostname: worker.hostname,
                pid: worker.pid,
                concurrency: worker.concurrency,
                queues: worker.queues,
                state: 'online' as const,
                last_heartbeat: at.workersReportedAt,
                load_average: worker.loadAverage,
                active_tasks: worker.activeTasks,
                metadata: JSON.stringify(worker.metadata),
                updated_at: seenAt,
              })),
            )
            .onConflict((oc) =>
              oc.columns(['project_id', 'engine', 'name']).doUpdateSet((eb) => ({
                hostname: eb.ref('excluded.hostname'),
                pid: eb.ref('excluded.pid'),
                concurrency: eb.ref('excluded.concurrency'),
                queues: eb.ref('excluded.queues'),
                state: 'online',
                last_heartbeat: eb.ref('excluded.last_heartbeat'),
                load_average: eb.ref('excluded.load_average'),
                active_tasks: eb.ref('excluded.active_tasks'),
                metadata: eb.ref('excluded.metadata'),
                updated_at: eb.ref('excluded.updated_at'),
              })),
            )
            .execute();
        }
        await trx
          .updateTable('agents')
          .set({ last_seen_at: seenAt, state: 'online', updated_at: seenAt })
          .where('id', '=', agent.id)
          .execute();
        await trx
          .updateTable('agent_workers')
          .set({ last_seen_at: seenAt, state: 'online', updated_at: seenAt })
          .where('agent_id', '=', agent.id)
          .where('worker_id', '=', workerId)
          .execute();
      });
      // Queues named by worker details are touched after the transaction, in one sorted statement of
      // their own, so this heartbeat never holds queue locks across the workers upsert.
      const queueNames = [...new Set(workers.flatMap((worker) => worker.queues.map((queue) => `${worker.engine}\u0000${queue}`)))].sort();
      if (queueNames.length > 0) {
        await db
          .insertInto('queues')
          .values(
            queueNames.map((key) => {
              const [engine = '', name = ''] = key.split('\u0000');
              return { project_id: agent.projectId, engine, name, last_seen_at: seenAt, updated_at: seenAt };
            }),
          )
          .onConflict((oc) =>
            oc.columns(['project_id', 'engine', 'name']).doUpdateSet((eb) => ({
              last_seen_at: eb.ref('excluded.last_seen_at'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
    },

    /** Puts claimed-but-unsent commands back to pending so the next connection drains them. */
    async releaseClaims(agentId: string, commandIds: readonly string[]): Promise<void> {
      if (commandIds.length === 0) return;
      await db
        .updateTable('commands')
        .set({ status: 'pending', dispatched_at: null })
        .where('agent_id', '=', agentId)
        .where('id', 'in', [...commandIds])
        .where('status', '=', 'dispatched')
        .execute();
    },

    async recordAgentStatus(agent: AgentIdentity, capturedAt: Date, payload: JsonValue): Promise<void> {
      await db
        .insertInto('agent_status_history')
        .values({ project_id: agent.projectId, agent_id: agent.id, captured_at: capturedAt, payload: jsonb(payload) })
        .execute();
    },

    /** `command_ack`: pending → dispatched (a drained command is already dispatched; then this is a no-op). */
    async commandAcknowledged(agent: AgentIdentity, commandId: string, now: Date): Promise<boolean> {
      const result = await db
        .updateTable('commands')
        .set({ status: 'dispatched', dispatched_at: now })
        .where('id', '=', commandId)
        .where('project_id', '=', agent.projectId)
        .where('agent_id', '=', agent.id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    /**
     * `command_result`: dispatched|pending → completed|failed. A result for a
     * command that is already terminal (e.g. timed out) changes nothing; the
     * caller counts it as late. `announced`: written and NOTIFYed in one
     * statement (notifyCommandUpdatesInStatement); `updated`: written, the
     * caller announces it.
     */
    async commandFinished(
      agent: AgentIdentity,
      commandId: string,
      outcome: { readonly success: boolean; readonly result: JsonValue; readonly error: string | null },
      now: Date,
    ): Promise<'updated' | 'announced' | 'late' | 'unknown'> {
      const update = db
        .updateTable('commands')
        .set({
          status: outcome.success ? 'completed' : 'failed',
          result: outcome.result === null ? null : jsonb(outcome.result),
          error: outcome.success ? null : storableText((outcome.error ?? 'agent reported failure').slice(0, 8192)),
          completed_at: now,
        })
        .where('id', '=', commandId)
        .where('project_id', '=', agent.projectId)
        .where('agent_id', '=', agent.id)
        .where('status', 'in', ['pending', 'dispatched']);
      if (options.notifyCommandUpdatesInStatement) {
        const announced = await db
          .with('updated', () => update.returning('id'))
          .selectFrom('updated')
          .select(sql<string>`pg_notify(${COMMAND_UPDATES_CHANNEL}, updated.id::text)`.as('notified'))
          .execute();
        if (announced.length > 0) return 'announced';
      } else if ((await update.executeTakeFirst()).numUpdatedRows > 0n) {
        return 'updated';
      }
      const existing = await db
        .selectFrom('commands')
        .select('status')
        .where('id', '=', commandId)
        .where('agent_id', '=', agent.id)
        .executeTakeFirst();
      return existing ? 'late' : 'unknown';
    },
  };
}

export type GatewayStore = ReturnType<typeof createGatewayStore>;
