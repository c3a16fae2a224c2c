// `npm run bench`: every benchmark in turn.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const benches = ['startup.js', 'ingest.js', 'api.js', 'dashboard.js', 'agent.js'];
let failed = false;
for (const bench of benches) {
  console.log(`\n### ${bench}`);
  const result = spawnSync(process.execPath, [fileURLToPath(new URL(bench, import.meta.url))], { stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
