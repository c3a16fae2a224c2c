export { openBrainDatabase, normalisePostgresUrl } from './brain-database.js';
export type { BrainDatabase, BrainDatabaseOptions, Database, EmbeddedDatabaseOptions, PostgresDatabaseOptions } from './brain-database.js';
export { assertDatabaseUrlAllowed, describeDatabaseUrl, isLoopbackHost } from './database-url.js';
export { classifySqlError, isRetryableSqlError, isUniqueViolation, sqlStateOf } from './sqlstate.js';
export type { SqlErrorClass } from './sqlstate.js';
export { loadMigrations, MIGRATIONS_DIR } from './migration-files.js';
export type { Migration } from './migration-files.js';
export { createMigrator, MIGRATION_LOCK_KEY } from './migrator.js';
export type { AppliedMigration, MigrationStatus, Migrator, MigratorEvent, MigratorOptions } from './migrator.js';
export { countDefaultPartitionRows, dropExpiredEventPartitions, ensureEventPartitions, utcDay } from './event-partitions.js';
export { COMMAND_UPDATES_CHANNEL, COMMANDS_CHANNEL, createNotifier, HEARTBEAT_CHANNEL } from './notifier.js';
export type {
  ListenerRebuildReason,
  ListenerWatchdogOptions,
  Notifier,
  NotifierEvent,
  NotifierMetrics,
  NotifierOptions,
  RegistryBackend,
} from './notifier.js';
export { isStorableJsonText, jsonText, storableText } from './json-text.js';
