import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '@z4j/errors';

/** One forward-only migration: `sql/migrations/NNNN_verb_object.sql`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** sha256 of the file, recorded in the ledger so an edited migration is caught. */
  readonly checksum: string;
}

/** `sql/migrations` at the repository root; the same depth from `src/` and `dist/`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../sql/migrations/', import.meta.url));

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const fileName of names) {
    const match = FILE_NAME.exec(fileName);
    if (!match) {
      throw new AppError('MIGRATION_INVALID', `migration file "${fileName}" must be named NNNN_verb_object.sql`);
    }
    const sql = await readFile(join(dir, fileName), 'utf8');
    migrations.push({
      version: Number(match[1]),
      name: match[2] ?? fileName,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new AppError(
        'MIGRATION_INVALID',
        `migration versions must run 1, 2, 3… without gaps; found ${String(migration.version).padStart(4, '0')}_${migration.name} at position ${index + 1}`,
      );
    }
  });
  return migrations;
}
