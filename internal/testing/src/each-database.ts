import { afterAll, beforeAll, describe } from 'vitest';
import type { PostgresProbe } from './test-postgres.js';
import { openTestDatabase, type TestDatabase, type TestDatabaseKind } from './test-postgres.js';

export interface EachDatabaseContext {
  readonly kind: TestDatabaseKind;
  /** True for the Postgres run when no server answers (never under CI=true: the probe throws there). */
  readonly skip: boolean;
  /** The migrated database of this run (only inside tests/hooks). */
  readonly test: () => TestDatabase;
}

/**
 * Runs one suite on both databases: PGlite in memory and a private, migrated
 * real-Postgres database (see {@link openTestDatabase}).
 *
 * @example
 * const postgres = await probePostgres();
 * describeEachDatabase('partitions', postgres, ({ skip, test }) => {
 *   it.skipIf(skip)('creates partitions', async () => { await use(test().database.db); });
 * });
 */
export function describeEachDatabase(title: string, postgres: PostgresProbe, body: (context: EachDatabaseContext) => void): void {
  describe.each(['embedded', 'postgres'] as const)(`${title} on %s`, (kind) => {
    const skip = kind === 'postgres' && !postgres.available;
    let opened: TestDatabase | undefined;
    beforeAll(async () => {
      if (!skip) opened = await openTestDatabase(kind);
    });
    afterAll(async () => {
      await opened?.dispose();
    });
    body({
      kind,
      skip,
      test: () => {
        if (!opened) throw new Error('the test database is only available inside tests');
        return opened;
      },
    });
  });
}
