import { join } from 'node:path';
import { verifyAuditChain } from '@z4j/audit';
import { readSecretFile, resolveHome, rotateMetricsToken, type Settings } from '@z4j/config';
import { createMigrator, createNotifier, loadMigrations, openBrainDatabase, type BrainDatabase } from '@z4j/db';
import { listAgents, mintAgent, revokeAgent } from '@z4j/enrolment';
import { acquireDataDirLock, loadBrainConfig } from '@z4j/runtime';

export interface CommandIo {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly out: (line: string) => void;
}

/** Opens the database the brain would use with this configuration (the embedded one under its lock). */
async function withBrainDatabase<T>(
  io: CommandIo,
  work: (database: BrainDatabase, masterSecret: string, settings: Settings) => Promise<T>,
): Promise<T> {
  const config = loadBrainConfig(io.env, io.cwd);
  const { settings } = config;
  const lock = config.mode === 'embedded' ? acquireDataDirLock(join(settings.home, 'data.lock')) : undefined;
  try {
    const database = await openBrainDatabase(
      config.mode === 'embedded'
        ? { kind: 'embedded', dataDir: join(settings.home, 'data') }
        : {
            kind: 'postgres',
            url: settings.databaseUrl as string,
            requireSsl: settings.requireDbSsl,
            poolSize: 2,
            statementTimeoutMs: settings.dbStatementTimeoutMs,
            lockTimeoutMs: settings.dbLockTimeoutMs,
            idleInTransactionTimeoutMs: settings.dbIdleInTxTimeoutMs,
            connectTimeoutMs: Math.round(settings.asyncpgConnectTimeout * 1000),
            closeTimeoutMs: Math.round(settings.asyncpgCloseTimeout * 1000),
            idleConnectionLifetimeMs: 10_000,
            applicationName: 'z4j-cli',
          },
    );
    try {
      return await work(database, settings.secret, settings);
    } finally {
      await database.close();
    }
  } finally {
    lock?.release();
  }
}

export async function migrateCommand(io: CommandIo, action: 'status' | 'up'): Promise<number> {
  return withBrainDatabase(io, async (database) => {
    const migrator = createMigrator({
      db: database.db,
      migrations: await loadMigrations(),
      onEvent: (event) => {
        if (event.type === 'applied') io.out(`applied  ${String(event.version).padStart(4, '0')}_${event.name}  (${event.durationMs} ms)`);
        else io.out('waiting for another instance to finish migrating…');
      },
    });
    if (action === 'up') {
      const applied = await migrator.up();
      io.out(applied.length === 0 ? 'schema is up to date' : `applied ${applied.length} migration(s)`);
      return 0;
    }
    const status = await migrator.status();
    for (const row of status.applied) {
      io.out(`applied  ${String(row.version).padStart(4, '0')}_${row.name}  ${row.appliedAt.toISOString()}`);
    }
    for (const migration of status.pending) io.out(`pending  ${String(migration.version).padStart(4, '0')}_${migration.name}`);
    io.out(`database at version ${status.databaseVersion}, code at ${status.codeVersion}`);
    return 0;
  });
}

export function metricsTokenCommand(io: CommandIo, action: 'show' | 'rotate'): number {
  const home = resolveHome(io.env);
  if (action === 'rotate') {
    const token = rotateMetricsToken(home);
    io.out(token);
    if (io.env.Z4J_METRICS_AUTH_TOKEN || io.env.Z4J_METRICS_TOKEN) {
      io.out(`warning: Z4J_METRICS_AUTH_TOKEN is set in the environment and overrides the rotated value in ${join(home, 'secret.env')}`);
    }
    io.out('restart z4j for the new token to take effect');
    return 0;
  }
  const fromEnv = io.env.Z4J_METRICS_AUTH_TOKEN || io.env.Z4J_METRICS_TOKEN;
  const token = fromEnv || readSecretFile(home).Z4J_METRICS_AUTH_TOKEN;
  if (!token) {
    io.out(`no metrics token yet: "z4j serve" mints one into ${join(home, 'secret.env')}, or run "z4j metrics-token rotate"`);
    return 1;
  }
  io.out(token);
  return 0;
}

/** `z4j agents mint|revoke|list`: works on the migrated database directly (before any dashboard exists). */
export async function agentsCommand(
  io: CommandIo,
  command:
    { action: 'mint'; project: string; agentName: string } | { action: 'revoke'; agentId: string } | { action: 'list'; project?: string },
): Promise<number> {
  return withBrainDatabase(io, async (database, masterSecret) => {
    await createMigrator({ db: database.db, migrations: await loadMigrations() }).assertCurrent();
    const now = new Date();
    switch (command.action) {
      case 'mint':
        io.out(
          JSON.stringify(
            await mintAgent(database.db, { projectSlug: command.project, name: command.agentName, masterSecret, now }),
            null,
            2,
          ),
        );
        return 0;
      case 'revoke': {
        const notifier = createNotifier(database);
        try {
          const { alreadyRevoked } = await revokeAgent(database.db, notifier, command.agentId, now);
          io.out(
            alreadyRevoked
              ? `agent ${command.agentId} was already revoked; live sockets were asked to close again`
              : `revoked agent ${command.agentId}`,
          );
        } finally {
          await notifier.close();
        }
        return 0;
      }
      case 'list':
        io.out(JSON.stringify(await listAgents(database.db, command.project), null, 2));
        return 0;
    }
  });
}

/**
 * `z4j audit verify`: recomputes the oldest rows' HMACs with Z4J_SECRET, then each Z4J_PREVIOUS_SECRETS entry, and
 * checks every prev pointer. Prints `verified: N`, then one line per problem; exit 0 when intact, 1 otherwise.
 */
export async function auditCommand(io: CommandIo, command: { action: 'verify'; limit: number }): Promise<number> {
  return withBrainDatabase(io, async (database, masterSecret, settings) => {
    await createMigrator({ db: database.db, migrations: await loadMigrations() }).assertCurrent();
    const result = await verifyAuditChain(database.db, { secrets: [masterSecret, ...settings.previousSecrets], limit: command.limit });
    io.out(`verified: ${result.verified}`);
    for (const problem of result.problems) io.out(problem.message);
    if (result.reachedLimit) io.out(`(only the oldest ${command.limit} rows were checked; newer rows exist)`);
    return result.problems.length === 0 ? 0 : 1;
  });
}
