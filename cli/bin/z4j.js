#!/usr/bin/env node
// The `z4j` command. The TypeScript sources compile to ../dist (npm install runs the build).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('z4j: the CLI is not built yet; run "npm run build" in the z4j checkout first\n');
  process.exit(1);
}
const { runCli } = await import(entry.href);
await runCli(process);
