import type { Kysely } from 'kysely';
import { isUniqueViolation, type Database, type Notifier } from '@z4j/db';
import { AppError } from '@z4j/errors';
import { deriveProjectSecret, encodeHmacSecret, hashAgentToken, mintAgentToken } from '@z4j/protocol';

/**
 * Enrolling and revoking agents: the one implementation behind
 * `z4j agents mint|revoke|list` and (with the auth issue) the REST endpoints.
 */

/** Channel every gateway replica listens on to close a revoked agent's sockets. */
export const AGENT_REVOKED_CHANNEL = 'z4j_agent_revoked';
const DEFAULT_PROJECT = { slug: 'default', name: 'Default' } as const;

export interface MintedAgent {
  readonly agent_id: string;
  readonly project_id: string;
  readonly project_slug: string;
  readonly name: string;
  /** Shown once; only its keyed hash is stored. */
  readonly token: string;
  /** The per-project frame-signing secret, URL-safe base64 with padding (what Z4J_HMAC_SECRET expects). */
  readonly hmac_secret: string;
}

export interface MintAgentOptions {
  readonly projectSlug: string;
  readonly name: string;
  /** Z4J_SECRET: keys the token hash and derives the project secret. */
  readonly masterSecret: string;
  readonly now: Date;
}

export async function mintAgent(db: Kysely<Database>, options: MintAgentOptions): Promise<MintedAgent> {
  const token = mintAgentToken();
  return db.transaction().execute(async (trx) => {
    if (options.projectSlug === DEFAULT_PROJECT.slug) {
      await trx
        .insertInto('projects')
        .values({ slug: DEFAULT_PROJECT.slug, name: DEFAULT_PROJECT.name })
        .onConflict((oc) => oc.column('slug').doNothing())
        .execute();
    }
    const project = await trx
      .selectFrom('projects')
      .select(['id', 'slug', 'is_active'])
      .where('slug', '=', options.projectSlug)
      .executeTakeFirst();
    if (!project || !project.is_active) {
      throw new AppError('PROJECT_NOT_FOUND', `no active project "${options.projectSlug}"`, { status: 404 });
    }
    try {
      const agent = await trx
        .insertInto('agents')
        .values({
          project_id: project.id,
          name: options.name,
          token_hash: hashAgentToken(options.masterSecret, token),
          created_at: options.now,
          updated_at: options.now,
        })
        .returning(['id'])
        .executeTakeFirstOrThrow();
      return {
        agent_id: agent.id,
        project_id: project.id,
        project_slug: project.slug,
        name: options.name,
        token,
        hmac_secret: encodeHmacSecret(deriveProjectSecret(options.masterSecret, project.id)),
      };
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError('AGENT_NAME_TAKEN', `project "${project.slug}" already has an agent named "${options.name}"`, {
          status: 409,
          cause: error,
        });
      }
      throw error;
    }
  });
}

/**
 * Makes the agent's token unusable at once and asks every gateway replica to
 * close its sockets. Revoking twice is fine; an unknown id is an error.
 */
export async function revokeAgent(
  db: Kysely<Database>,
  notifier: Notifier,
  agentId: string,
  now: Date,
): Promise<{ readonly alreadyRevoked: boolean }> {
  const row = await db.selectFrom('agents').select(['id', 'revoked_at']).where('id', '=', agentId).executeTakeFirst();
  if (!row) throw new AppError('AGENT_NOT_FOUND', `no agent with id ${agentId}`, { status: 404 });
  if (!row.revoked_at) {
    await db
      .updateTable('agents')
      .set({ revoked_at: now, state: 'offline', updated_at: now })
      .where('id', '=', agentId)
      .where('revoked_at', 'is', null)
      .execute();
  }
  await notifier.publish(AGENT_REVOKED_CHANNEL, agentId);
  return { alreadyRevoked: row.revoked_at !== null };
}

export interface AgentSummary {
  readonly agent_id: string;
  readonly project_slug: string;
  readonly name: string;
  readonly state: string;
  readonly last_seen_at: string | null;
  readonly revoked: boolean;
}

export async function listAgents(db: Kysely<Database>, projectSlug: string | undefined): Promise<AgentSummary[]> {
  let query = db
    .selectFrom('agents')
    .innerJoin('projects', 'projects.id', 'agents.project_id')
    .select(['agents.id', 'projects.slug', 'agents.name', 'agents.state', 'agents.last_seen_at', 'agents.revoked_at'])
    .orderBy('projects.slug')
    .orderBy('agents.name');
  if (projectSlug !== undefined) query = query.where('projects.slug', '=', projectSlug);
  const rows = await query.execute();
  return rows.map((row) => ({
    agent_id: row.id,
    project_slug: row.slug,
    name: row.name,
    state: row.state,
    last_seen_at: row.last_seen_at?.toISOString() ?? null,
    revoked: row.revoked_at !== null,
  }));
}
