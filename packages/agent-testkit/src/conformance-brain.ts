import type { Kysely } from 'kysely';
import type { Database } from '@z4j/db';

/** An agent enrolled in the brain: what the suite's agent connects with. */
export interface ConformanceAgentCredentials {
  readonly agent_id: string;
  readonly project_id: string;
  readonly token: string;
  readonly hmac_secret: string;
}

/**
 * A real brain (gateway, ingest, api, workers) on a real Postgres database, in this process, on a loopback address
 * that stays the same across {@link takeDown} and `restart`, so the agent reconnects to the restarted brain by itself.
 * The suite reads the brain's tables through `db` and drives it through its REST API at `url`.
 *
 * @example
 * const brain = await startBrain();
 * const { restart } = await brain.takeDown(); // the agent buffers meanwhile
 * const back = await restart();
 */
export interface ConformanceBrain {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Slug of the project the agents and API tokens belong to. */
  readonly projectSlug: string;
  /** The brain's own database handle (valid until the brain stops). */
  readonly db: Kysely<Database>;
  /** Enrols an agent in the project. */
  mintAgent(name: string): Promise<ConformanceAgentCredentials>;
  /** A bearer token of an admin allowed every command (`admin:*`). */
  mintApiToken(name: string): Promise<string>;
  /** Drains the brain, keeping its database; `restart` brings it back on the same address and database. */
  takeDown(): Promise<{ restart(): Promise<ConformanceBrain> }>;
  /** Drains the brain and drops its database. */
  stop(): Promise<void>;
}
