export {
  createEmptyTestDatabase,
  createMigratedTestDatabase,
  openTestDatabase,
  probePostgres,
  testPostgresOptions,
  TEST_DATABASE_URL,
} from './test-postgres.js';
export type { PostgresProbe, TestDatabase, TestDatabaseKind } from './test-postgres.js';
