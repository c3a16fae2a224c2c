import type { Kysely } from 'kysely';
import { isUniqueViolation, type Database, type Notifier } from '@z4j/db';
import { AppError } from '@z4j/errors';
import { deriveProjectSecret, encodeHmacSecret, hashAgentToken, mintAgentToken } from '@z4j/protocol';

/**
 * Enrolling and revoking agents: the one implementation behind
 * `z4j agents mint|revoke|list` and the REST endpoints under `/projects/{slug}/agents`.
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

interface MintAgentCommon {
  readonly name: string;
  /** Z4J_SECRET: keys the token hash and derives the project secret. */
  readonly masterSecret: string;
  readonly now: Date;
}

/**
 * Where to mint: a project by slug (the CLI; `default` is created on first
 * use) or by id (the REST API, which has already resolved the caller's
 * project). Either way an archived or missing project is `PROJECT_NOT_FOUND`.
 */
export type MintAgentOptions = MintAgentCommon &
  ({ readonly projectSlug: string; readonly projectId?: never } | { readonly projectId: string; readonly projectSlug?: never });

/**
 * Registers an agent and returns its token and the project's signing secret
 * (both shown once). Given a transaction (`db.isTransaction`) it mints inside
 * it, so the caller can commit an audit row with it; otherwise it opens its own.
 */
export async function mintAgent(db: Kysely<Database>, options: MintAgentOptions): Promise<MintedAgent> {
  if (db.isTransaction) return mintInTransaction(db, options);
  return db.transaction().execute((trx) => mintInTransaction(trx, options));
}

async function mintInTransaction(trx: Kysely<Database>, options: MintAgentOptions): Promise<MintedAgent> {
  const token = mintAgentToken();
  if (options.projectSlug === DEFAULT_PROJECT.slug) {
    await trx
      .insertInto('projects')
      .values({ slug: DEFAULT_PROJECT.slug, name: DEFAULT_PROJECT.name })
      .onConflict((oc) => oc.column('slug').doNothing())
      .execute();
  }
  let query = trx.selectFrom('projects').select(['id', 'slug', 'is_active']);
  query = options.projectId !== undefined ? query.where('id', '=', options.projectId) : query.where('slug', '=', options.projectSlug);
  const project = await query.executeTakeFirst();
  if (!project || !project.is_active) {
    const named = options.projectId !== undefined ? `with id ${options.projectId}` : `"${options.projectSlug}"`;
    throw new AppError('PROJECT_NOT_FOUND', `no active project ${named}`, { status: 404 });
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
}

export interface MarkAgentRevokedOptions {
  /** Only an agent of this project counts; any other id is `AGENT_NOT_FOUND` (the REST API's project scope). */
  readonly projectId?: string;
}

export interface MarkAgentRevokedResult {
  readonly alreadyRevoked: boolean;
  readonly agent: { readonly id: string; readonly name: string; readonly project_id: string };
}

/**
 * The database half of {@link revokeAgent}: sets `revoked_at` (once; a
 * second call reports `alreadyRevoked`) without signalling anyone. Callers
 * that audit in the same transaction use this, then publish on
 * {@link AGENT_REVOKED_CHANNEL} after the commit, so a gateway that is told
 * to close the sockets already sees the token as revoked if the agent
 * reconnects at once.
 */
export async function markAgentRevoked(
  db: Kysely<Database>,
  agentId: string,
  now: Date,
  options: MarkAgentRevokedOptions = {},
): Promise<MarkAgentRevokedResult> {
  const revoked = await db
    .updateTable('agents')
    .set({ revoked_at: now, state: 'offline', updated_at: now })
    .where('id', '=', agentId)
    .where('revoked_at', 'is', null)
    .$if(options.projectId !== undefined, (query) => query.where('project_id', '=', options.projectId!))
    .returning(['id', 'name', 'project_id'])
    .executeTakeFirst();
  if (revoked) return { alreadyRevoked: false, agent: revoked };
  const existing = await db
    .selectFrom('agents')
    .select(['id', 'name', 'project_id'])
    .where('id', '=', agentId)
    .$if(options.projectId !== undefined, (query) => query.where('project_id', '=', options.projectId!))
    .executeTakeFirst();
  if (!existing) throw new AppError('AGENT_NOT_FOUND', `no agent with id ${agentId}`, { status: 404 });
  return { alreadyRevoked: true, agent: existing };
}

/**
 * Makes the agent's token unusable at once and asks every gateway replica to
 * close its sockets. Revoking twice is fine; an unknown id is an error.
 */
export async function revokeAgent(
  db: Kysely<Database>,
  notifier: Pick<Notifier, 'publish'>,
  agentId: string,
  now: Date,
  options: MarkAgentRevokedOptions = {},
): Promise<{ readonly alreadyRevoked: boolean }> {
  const { alreadyRevoked } = await markAgentRevoked(db, agentId, now, options);
  await notifier.publish(AGENT_REVOKED_CHANNEL, agentId);
  return { alreadyRevoked };
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
