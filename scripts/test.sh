#!/usr/bin/env bash
# `npm test`: build, typecheck, lint and format check, then every test (unit, real Postgres, PGlite, CLI end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1

echo "== build"
npm run --silent build
echo "== typecheck"
npx tsc -p tsconfig.json --noEmit
npx tsc -p apps/dashboard --noEmit
echo "== lint"
npx eslint . --max-warnings=0
npx prettier --check . --log-level=warn
echo "== tests"
mkdir -p .test-results
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json "$@" || status=$?
node scripts/test-summary.js .test-results/vitest.json || true
exit "$status"
