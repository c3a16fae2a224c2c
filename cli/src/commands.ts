import { join } from 'node:path';
import { createFirstAdmin, lazyPasswordHasher } from '@z4j/api';
import { appendAuditRow, verifyAuditChain } from '@z4j/audit';
import { readSecretFile, resolveHome, rotateMetricsToken, type Settings } from '@z4j/config';
import { canonicalizeEmail } from '@z4j/identity';
import { createMigrator, createNotifier, loadMigrations, openBrainDatabase, type BrainDatabase } from '@z4j/db';
import { listAgents, mintAgent, revokeAgent } from '@z4j/enrolment';
import { AppError, isAppError } from '@z4j/errors';
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

/**
 * `z4j reset-mfa <email>`: the shell-only way back in for a user who lost both the authenticator and the
 * recovery codes. In one transaction: clears the TOTP secret, enrolment and last time step, deletes the
 * recovery codes and remembered devices, revokes every session (whoever holds one must sign in again), and
 * appends `user.mfa_reset` to the audit chain (no acting user: the operator is whoever has the shell).
 */
export async function resetMfaCommand(io: CommandIo, command: { email: string }): Promise<number> {
  return withBrainDatabase(io, async (database, masterSecret) => {
    await createMigrator({ db: database.db, migrations: await loadMigrations() }).assertCurrent();
    const canonical = canonicalizeEmail(command.email);
    if (!canonical.ok) throw new AppError('USER_NOT_FOUND', `reset-mfa: ${command.email} is not an email address: ${canonical.message}`);
    const email = canonical.email;
    const now = new Date();
    const reset = await database.db.transaction().execute(async (trx) => {
      const user = await trx
        .selectFrom('users')
        .select(['id', 'email', 'mfa_enrolled_at', 'mfa_secret_encrypted'])
        .where('email', '=', email)
        .forUpdate()
        .executeTakeFirst();
      if (!user) return undefined;
      await trx
        .updateTable('users')
        .set({ mfa_secret_encrypted: null, mfa_enrolled_at: null, mfa_last_time_step: null, updated_at: now })
        .where('id', '=', user.id)
        .execute();
      const codes = await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', user.id).executeTakeFirst();
      const devices = await trx.deleteFrom('trusted_devices').where('user_id', '=', user.id).executeTakeFirst();
      const sessions = await trx
        .updateTable('sessions')
        .set({ revoked_at: now, revocation_reason: 'mfa_reset' })
        .where('user_id', '=', user.id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      const summary = {
        via: 'cli',
        email: user.email,
        was_enrolled: user.mfa_enrolled_at !== null,
        had_pending_enrolment: user.mfa_enrolled_at === null && user.mfa_secret_encrypted !== null,
        recovery_codes_deleted: Number(codes.numDeletedRows),
        trusted_devices_deleted: Number(devices.numDeletedRows),
        sessions_revoked: Number(sessions.numUpdatedRows),
      };
      const row = await appendAuditRow(
        trx,
        { action: 'user.mfa_reset', target_type: 'user', target_id: user.id, result: 'success', user_id: null, metadata: summary },
        { secret: masterSecret, now },
      );
      return { user, summary, auditId: row.id };
    });
    if (!reset) throw new AppError('USER_NOT_FOUND', `reset-mfa: no user with email ${email}`);
    const { user, summary } = reset;
    io.out(`reset MFA for ${user.email} (user ${user.id})`);
    io.out(
      summary.was_enrolled
        ? `  MFA was enrolled since ${user.mfa_enrolled_at?.toISOString()}; secret and enrolment cleared`
        : `  MFA was not enrolled${summary.had_pending_enrolment ? '; an unfinished enrolment was cleared' : ''}`,
    );
    io.out(`  recovery codes deleted: ${summary.recovery_codes_deleted}`);
    io.out(`  remembered devices deleted: ${summary.trusted_devices_deleted}`);
    io.out(`  sessions revoked: ${summary.sessions_revoked}`);
    io.out(`  audit row: user.mfa_reset ${reset.auditId}`);
    io.out('the user now signs in with the password alone and can enrol again');
    return 0;
  });
}

const ALREADY_SET_UP =
  'bootstrap-admin: refusing: a user already exists, and bootstrap-admin only ever creates the first admin (add more users from the dashboard)';

/**
 * `z4j bootstrap-admin --email E --password-stdin`: the first global admin and the `default` project without
 * the setup link, through the same `createFirstAdmin` as the setup form and Z4J_BOOTSTRAP_ADMIN_* (password
 * policy, one transaction, `setup.completed` audited with via=cli). Refuses with exit 1 once any user exists.
 */
export async function bootstrapAdminCommand(
  io: CommandIo,
  command: { email: string; displayName?: string },
  password: string,
): Promise<number> {
  return withBrainDatabase(io, async (database, masterSecret, settings) => {
    await createMigrator({ db: database.db, migrations: await loadMigrations() }).assertCurrent();
    // Checked first so a second run answers at once, before an argon2 hash; createFirstAdmin re-checks under its lock.
    if (await database.db.selectFrom('users').select('id').limit(1).executeTakeFirst())
      throw new AppError('SETUP_COMPLETE', ALREADY_SET_UP);
    try {
      const created = await createFirstAdmin(
        database.db,
        { email: command.email, password, displayName: command.displayName ?? null },
        {
          passwords: lazyPasswordHasher({
            argon2MemoryCost: settings.argon2MemoryCost,
            argon2TimeCost: settings.argon2TimeCost,
            argon2Parallelism: settings.argon2Parallelism,
          }),
          passwordMinLength: settings.passwordMinLength,
          secret: masterSecret,
          now: () => new Date(),
          via: 'cli',
        },
      );
      io.out(`created global admin ${created.email} (user ${created.userId}) with the "default" project; sign in at ${settings.publicUrl}`);
      return 0;
    } catch (error) {
      if (isAppError(error) && error.status === 409) throw new AppError('SETUP_COMPLETE', ALREADY_SET_UP);
      // A weak password or a malformed email: the message names which.
      if (isAppError(error) && error.status === 422) throw new AppError('INVALID_ADMIN', `bootstrap-admin: ${error.message}`);
      throw error;
    }
  });
}
