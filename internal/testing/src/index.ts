export {
  createEmptyTestDatabase,
  createMigratedTestDatabase,
  openTestDatabase,
  probePostgres,
  testPostgresOptions,
  TEST_DATABASE_URL,
} from './test-postgres.js';
export type { PostgresProbe, TestDatabase, TestDatabaseKind } from './test-postgres.js';
export { FakeAgent, taskEvent } from './fake-agent.js';
export type { Closed, CommandOutcome, FakeAgentCommand, FakeAgentOptions } from './fake-agent.js';
export { freeLoopbackPort } from './free-port.js';
