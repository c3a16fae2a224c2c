// `npm run bench:dashboard` (real Postgres at Z4J_TEST_DATABASE_URL, Debian's /usr/bin/chromium).
// Prints:
//   1. the dashboard's initial JavaScript (what index.html loads before the first render), raw and gzip;
//   2. time to first rows of the tasks page with BENCH_DASHBOARD_TASKS (default 100,000) tasks in the project,
//      measured in the browser from navigation start to the first table row in the DOM: cold (a fresh browser
//      context: empty cache, new connection) and warm (a reload in the same context), median of BENCH_RUNS.
// Baseline in the same run: the tasks API call alone (the request the page makes first), timed from this process.
// Goals (issue 7): < 300 KiB gzip initial JS, < 1 s to first rows on loopback.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { DASHBOARD_DIST } from '@z4j/dashboard';
import { createMigratedTestDatabase, freeLoopbackPort } from '@z4j/testing';
import { startBrainProcess } from './brain-process.js';
import { seedTasks } from './seed-tasks.js';

const SECRET = 'bench-master-secret-0123456789-abcdefghijklmnop';
const TASKS = Number(process.env.BENCH_DASHBOARD_TASKS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const ADMIN = { email: 'bench@example.com', password: 'Speedy-Table-Rows-77!' };
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

/** Scripts index.html loads up front: the module entry and its modulepreload links. */
function initialScripts() {
  const html = readFileSync(join(DASHBOARD_DIST, 'index.html'), 'utf8');
  const paths = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((match) => match[1]);
  let raw = 0;
  let gzip = 0;
  for (const path of new Set(paths)) {
    const bytes = readFileSync(join(DASHBOARD_DIST, path));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { files: new Set(paths).size, raw, gzip };
}

/** Milliseconds from navigation start to the first task row, read in the page itself. */
async function timeToFirstRows(page, url) {
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(() => globalThis.document.querySelector('[data-testid=task-rows] tr') !== null, undefined, {
    polling: 'raf',
    timeout: 30_000,
  });
  return page.evaluate(() => performance.now());
}

const scripts = initialScripts();
console.log('dashboard (Debian chromium, loopback)');
console.log(
  `  initial JavaScript                           ${scripts.files} file(s), ${kib(scripts.raw)} raw, ${kib(scripts.gzip)} gzip   (goal < 300 KiB gzip)`,
);

const database = await createMigratedTestDatabase();
const client = new pg.Client({ connectionString: database.url });
await client.connect();
let brain;
let browser;
try {
  const port = await freeLoopbackPort();
  brain = await startBrainProcess({
    databaseUrl: database.url,
    secret: SECRET,
    services: 'gateway,ingest,api,workers',
    port,
    env: {
      Z4J_ENVIRONMENT: 'dev',
      Z4J_PUBLIC_URL: `http://127.0.0.1:${port}`,
      Z4J_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
      Z4J_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
    },
  });
  const project = await client.query(`select id from projects where slug = 'default'`);
  const seconds = await seedTasks(client, project.rows[0].id, TASKS, 1);
  console.log(`  tasks in the project                         ${TASKS.toLocaleString('en-US')} (seeded in ${seconds.toFixed(0)} s)`);

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const tasksUrl = `${brain.url}/projects/default/tasks`;
  const signedInContext = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const login = await context.request.post(`${brain.url}/api/v1/auth/login`, { data: ADMIN });
    if (!login.ok()) throw new Error(`login failed: ${login.status()} ${await login.text()}`);
    return context;
  };

  // Baseline: the page's first data request, alone.
  const apiContext = await signedInContext();
  const apiTimes = [];
  for (let run = 0; run < RUNS + 2; run += 1) {
    const started = performance.now();
    const response = await apiContext.request.get(`${brain.url}/api/v1/projects/default/tasks?limit=50`);
    await response.body();
    if (run >= 2) apiTimes.push(performance.now() - started);
  }
  await apiContext.close();
  console.log(`  baseline: GET /tasks?limit=50 alone          p50 ${median(apiTimes).toFixed(0)} ms`);

  const cold = [];
  const warm = [];
  for (let run = 0; run < RUNS; run += 1) {
    const context = await signedInContext();
    const page = await context.newPage();
    cold.push(await timeToFirstRows(page, tasksUrl));
    warm.push(await timeToFirstRows(page, tasksUrl));
    await context.close();
  }
  console.log(
    `  tasks page, first rows (cold: new context)   p50 ${median(cold).toFixed(0)} ms, max ${Math.max(...cold).toFixed(0)} ms   (goal < 1000 ms)`,
  );
  console.log(`  tasks page, first rows (warm: reload)        p50 ${median(warm).toFixed(0)} ms, max ${Math.max(...warm).toFixed(0)} ms`);
} finally {
  await browser?.close();
  await brain?.stop();
  await client.end();
  await database.drop();
}
