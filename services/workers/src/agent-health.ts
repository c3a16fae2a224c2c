import type { Kysely } from 'kysely';
import type { Database } from '@z4j/db';

export interface AgentHealthSweepOptions {
  readonly db: Kysely<Database>;
  readonly now: Date;
  /** `Z4J_AGENT_OFFLINE_TIMEOUT_SECONDS` (30). */
  readonly offlineTimeoutSeconds: number;
}

export interface AgentHealthSweepResult {
  /** Agents marked offline. */
  readonly agents: string[];
  /** Their projects, distinct (the dashboards of these projects are told). */
  readonly projectIds: string[];
  /** Worker slots (`agent_workers`) marked offline. */
  readonly workers: number;
}

/**
 * One pass of the agent_health_worker (§9): online agents — and online worker
 * slots — not seen for `Z4J_AGENT_OFFLINE_TIMEOUT_SECONDS` become offline.
 *
 * The gateway marks agents offline when their last socket closes; this sweep
 * covers what that cannot: a gateway replica that died without closing its
 * sockets, and agents that stay connected but went silent. Worker slots are
 * swept too, or a dead replica's slots would stay "online" forever and keep
 * the gateway's "last worker gone → agent offline" check from ever holding.
 * A heartbeat (every 10 s from a healthy agent) puts both back online.
 */
export async function sweepAgentHealth(options: AgentHealthSweepOptions): Promise<AgentHealthSweepResult> {
  const cutoff = new Date(options.now.getTime() - options.offlineTimeoutSeconds * 1000);
  const workers = await options.db
    .updateTable('agent_workers')
    .set({ state: 'offline', updated_at: options.now })
    .where('state', '=', 'online')
    .where((eb) => eb.or([eb('last_seen_at', '<', cutoff), eb('last_seen_at', 'is', null)]))
    .executeTakeFirst();
  const agents = await options.db
    .updateTable('agents')
    .set({ state: 'offline', updated_at: options.now })
    .where('state', '=', 'online')
    .where((eb) => eb.or([eb('last_seen_at', '<', cutoff), eb('last_seen_at', 'is', null)]))
    .returning(['id', 'project_id'])
    .execute();
  return {
    agents: agents.map((row) => row.id),
    projectIds: [...new Set(agents.map((row) => row.project_id))],
    workers: Number(workers.numUpdatedRows),
  };
}
