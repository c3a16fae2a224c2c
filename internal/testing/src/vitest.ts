// Helpers that need the vitest runtime: a separate entry point (`@z4j/testing/vitest`) so benchmarks
// and other plain-node users of @z4j/testing never load vitest.
export { describeEachDatabase } from './each-database.js';
export type { EachDatabaseContext } from './each-database.js';
