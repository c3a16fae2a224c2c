#!/usr/bin/env bash
# Regenerates internal/db/src/database.ts (Kysely table types) from sql/migrations.
#
# Creates a scratch database, applies every migration in order with psql (each file in one transaction, the way
# the migrator runs them), introspects it with kysely-codegen and drops the database again. The scratch database
# must not exist beforehand: this script only ever drops a database it created itself.
#
#   Z4J_CODEGEN_DATABASE_URL  scratch database to create (default postgres://postgres@127.0.0.1:5432/z4j_codegen);
#                             the server's `postgres` database on the same URL is used to create and drop it.
#   npm run db:codegen                 regenerate
#   npm run db:codegen -- --verify     fail if database.ts is out of date instead of writing it
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

url="${Z4J_CODEGEN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/z4j_codegen}"
out_file="internal/db/src/database.ts"

# Split scheme://authority/dbname?query so the admin URL keeps credentials and query options.
query=""
if [[ "$url" == *\?* ]]; then
  query="?${url#*\?}"
fi
base="${url%%\?*}"
db_name="${base##*/}"
admin_url="${base%/*}/postgres${query}"

if [[ ! "$db_name" =~ ^[a-z_][a-z0-9_]*$ ]]; then
  echo "db-codegen: database name '$db_name' in Z4J_CODEGEN_DATABASE_URL must match ^[a-z_][a-z0-9_]*\$" >&2
  exit 2
fi

psql_admin() {
  psql "$admin_url" -v ON_ERROR_STOP=1 -X -q -A -t "$@"
}

if [[ -n "$(psql_admin -c "select 1 from pg_database where datname = '$db_name'")" ]]; then
  echo "db-codegen: database '$db_name' already exists; drop it or point Z4J_CODEGEN_DATABASE_URL at a new name" >&2
  exit 2
fi

psql_admin -c "create database $db_name"
cleanup() {
  psql_admin -c "drop database if exists $db_name with (force)" || echo "db-codegen: could not drop '$db_name'" >&2
}
trap cleanup EXIT

shopt -s nullglob
migrations=(sql/migrations/*.sql)
if ((${#migrations[@]} == 0)); then
  echo "db-codegen: no migrations in sql/migrations" >&2
  exit 1
fi
for file in "${migrations[@]}"; do
  PGOPTIONS="--client-min-messages=warning" psql "$url" -X -q -v ON_ERROR_STOP=1 -1 -f "$file" >/dev/null
done

# Daily partitions (events_YYYY_MM_DD) and events_default are rows of `events` as far as queries go; the
# migrator's ledger is read untyped by the migrator itself.
npx --no-install kysely-codegen \
  --dialect postgres \
  --url "$url" \
  --exclude-pattern '{events_default,events_[0-9]*,z4j_schema_migrations}' \
  --out-file "$out_file" \
  --log-level warn \
  "$@"
