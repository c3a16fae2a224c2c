export { openEmbeddedPostgres } from './embedded-postgres.js';
export type { EmbeddedPostgres, EmbeddedPostgresOptions, EmbeddedQueryResult } from './embedded-postgres.js';
export { EmbeddedPostgresError } from './embedded-postgres-error.js';
export { PGliteDialect } from './pglite-dialect.js';
export type { PGliteDialectOptions } from './pglite-dialect.js';
