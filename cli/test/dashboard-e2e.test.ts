import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTotpSecret, generateTotp } from '@z4j/identity';
import { FakeAgent, freeLoopbackPort, probePostgres, taskEvent } from '@z4j/testing';
import { settledQueueDepth, startTestBrain, type TestBrain } from './test-brain.js';

/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core) against a real brain on real
 * Postgres, with a test agent that speaks signed protocol-2 frames: first-boot setup → sign in → mint an agent →
 * its events appear in the task list without a reload → retry a failed task and see the agent's result →
 * purge needs the typed confirmation → restart a worker → the schedules, audit, API key, security and runtime
 * settings pages → add a viewer on the members page → a viewer gets no write buttons and a direct write is refused.
 * Screenshots of the main pages go to e2e-screenshots/ (gitignored) for reviewers.
 */

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'e2e-screenshots');
const ADMIN = { email: 'admin@example.com', password: 'Correct-Horse-Battery-9!' };
const VIEWER = { email: 'viewer@example.com', password: 'Staple-Lantern-Orbit-42?' };

const postgres = await probePostgres();
const browserAvailable = existsSync(CHROMIUM);
// In CI a missing browser or database is a failure, not a skip (the CI script installs chromium).
const skip = process.env.CI !== 'true' && (!postgres.available || !browserAvailable);

/** A JSON call with the page's session cookie and CSRF header, as the dashboard itself makes it. */
async function apiCall(page: Page, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return page.evaluate(
    async ({ method, path, body }) => {
      // Runs in the page; this file is type-checked without the DOM library.
      const { cookie } = (globalThis as unknown as { document: { cookie: string } }).document;
      const csrf = cookie
        .split(';')
        .map((part: string) => part.trim().split('='))
        .find(([name]) => name === 'z4j_csrf')?.[1];
      const response = await fetch(`/api/v1${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': decodeURIComponent(csrf) } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, json: text ? (JSON.parse(text) as unknown) : null };
    },
    { method, path, body },
  );
}

async function signIn(page: Page, origin: string, account: { email: string; password: string }): Promise<void> {
  await page.goto(`${origin}/login`);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
}

describe.skipIf(skip)('dashboard in a real browser', () => {
  let brain: TestBrain;
  let browser: Browser;
  let setupUrl = '';
  const agents: FakeAgent[] = [];

  beforeAll(async () => {
    expect(browserAvailable, `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
    mkdirSync(SCREENSHOTS, { recursive: true });
    const port = await freeLoopbackPort();
    brain = await startTestBrain({
      env: { Z4J_BIND_PORT: String(port), Z4J_PUBLIC_URL: `http://127.0.0.1:${port}` },
      onPrintLine: (line) => {
        const match = /https?:\/\/\S+\/setup\?token=\S+/.exec(line);
        if (match) setupUrl = match[0];
      },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    for (const agent of agents) await agent.close();
    await browser?.close();
    await brain?.stop();
  });

  it('first boot → sign in → mint → live tasks → retry → purge confirmation → viewer is read-only', async () => {
    const origin = brain.brain.url;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    // A step that cannot happen fails within seconds, naming the locator, instead of at the test's timeout.
    context.setDefaultTimeout(15_000);
    const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

    // First boot: the one-time link the brain printed, on the port it really listens on.
    expect(setupUrl).toMatch(/\/setup\?token=/);
    expect(setupUrl.startsWith(`${origin}/setup`)).toBe(true);
    await page.goto(setupUrl);
    await page.locator('input[name=email]').fill(ADMIN.email);
    await page.locator('input[name=password]').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create admin account' }).click();
    await page.getByText('The admin account and the default project are ready').waitFor();

    // An unauthenticated visit to a deep link lands on the sign-in page.
    await page.goto(`${origin}/projects/default/tasks`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await shot('login');
    await signIn(page, origin, ADMIN);
    await shot('home');

    // Mint an agent: token and secret are shown once.
    await page.goto(`${origin}/projects/default/agents`);
    await page.getByText('No agents yet').waitFor();
    await page.getByRole('button', { name: 'Mint agent' }).click();
    await page.getByLabel('Name').fill('e2e-agent');
    await page.getByRole('button', { name: 'Mint', exact: true }).click();
    const token = (await page.getByTestId('minted-token').textContent()) ?? '';
    const hmacSecret = (await page.getByTestId('minted-secret').textContent()) ?? '';
    expect(token).toMatch(/\S{20,}/);
    await shot('agent-minted');
    await page.keyboard.press('Escape');

    const commands: string[] = [];
    const agent = await FakeAgent.handshake({
      url: brain.agentUrl,
      token,
      hmacSecret,
      workerId: 'e2e-worker',
      engines: ['celery'],
      onCommand: (command) => {
        commands.push(command.action);
        return { status: 'success', result: { action: command.action, rerun: true } };
      },
    });
    agents.push(agent);

    // The task list is open BEFORE the events exist: they must arrive through /ws/dashboard, not a reload.
    await page.goto(`${origin}/projects/default/tasks`);
    await page.locator('[data-live=live]').waitFor();
    await page.getByText('No tasks yet').waitFor();
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations.push(frame.url());
    });
    const now = Date.now();
    const events = [];
    for (let index = 0; index < 5; index += 1) {
      const taskId = `ok-${index}`;
      // Children of broken-1's canvas: its detail page shows them in the tree.
      events.push(
        taskEvent('task.received', taskId, new Date(now - 5000 + index), {
          task_name: 'app.tasks.resize',
          parent_task_id: 'broken-1',
          root_task_id: 'broken-1',
        }),
      );
      events.push(taskEvent('task.succeeded', taskId, new Date(now - 4000 + index), { task_name: 'app.tasks.resize', runtime_ms: 12 }));
    }
    events.push(
      taskEvent('task.received', 'broken-1', new Date(now - 3000), {
        task_name: 'app.tasks.charge',
        kwargs: { card: 'x', password: 'hunter2' },
      }),
    );
    events.push(
      taskEvent('task.failed', 'broken-1', new Date(now - 2000), {
        task_name: 'app.tasks.charge',
        exception: 'ValueError: card declined',
        traceback: 'Traceback (most recent call last):\n  ValueError: card declined',
      }),
    );
    await agent.waitForAck(agent.eventBatch(events));
    const rows = page.getByTestId('task-rows').locator('tr');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(6);
    expect(navigations).toEqual([]);
    await shot('tasks');

    // Keyboard only: Tab reaches the search box, Enter searches, and the filter lands in the URL (a shareable view).
    const focusedLabel = () =>
      page.evaluate(
        () =>
          (
            globalThis as unknown as { document: { activeElement: { getAttribute(name: string): string | null } | null } }
          ).document.activeElement?.getAttribute('aria-label') ?? null,
      );
    for (let press = 0; press < 40 && (await focusedLabel()) !== 'Search tasks'; press += 1) await page.keyboard.press('Tab');
    expect(await focusedLabel()).toBe('Search tasks');
    await page.keyboard.type('charge');
    await page.keyboard.press('Enter');
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe('charge');
    await expect.poll(() => rows.count()).toBe(1);

    // The failed task: exception, redacted kwargs, timeline; retry reaches the agent and its result shows.
    await page.getByRole('link', { name: 'app.tasks.charge' }).click();
    await page.getByText('ValueError: card declined').first().waitFor();
    await page.getByText('masked by redaction').waitFor();
    await expect.poll(() => page.getByTestId('task-tree').getByRole('link', { name: 'app.tasks.resize' }).count()).toBe(5);
    await expect.poll(() => page.getByTestId('timeline').locator('li').count()).toBe(2);
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('button', { name: 'Retry task' }).click();
    await page.getByTestId('command-outcome').getByText('completed').waitFor({ timeout: 15_000 });
    expect(commands).toContain('retry_task');
    await shot('task-detail');

    // Purge: the queue's depth is shown first and the button stays disabled until the queue name is typed.
    agent.heartbeat({ 'celery.queue_depths': JSON.stringify({ default: 17 }) });
    const project = await brain.brain.database.db
      .selectFrom('projects')
      .select('id')
      .where('slug', '=', 'default')
      .executeTakeFirstOrThrow();
    await expect.poll(() => settledQueueDepth(brain.brain.database.db, project.id, 'default')).toBe(17);
    await page.goto(`${origin}/projects/default/queues`);
    await page.getByRole('img', { name: /Depth over the last hour, now 17/ }).waitFor();
    await page.getByRole('button', { name: 'Pause default' }).click();
    await page.getByTestId('command-outcome').getByText('completed').waitFor({ timeout: 15_000 });
    expect(commands).toContain('pause_queue');
    await page.getByRole('button', { name: 'Purge default' }).click();
    await page.getByText('17 tasks').waitFor();
    const purge = page.getByRole('button', { name: 'Purge queue' });
    expect(await purge.isDisabled()).toBe(true);
    await page.getByLabel('Type the queue name to confirm').fill('defaul');
    expect(await purge.isDisabled()).toBe(true);
    await page.getByLabel('Type the queue name to confirm').fill('default');
    await purge.click();
    await page.getByRole('dialog').getByTestId('command-outcome').getByText('completed').waitFor({ timeout: 15_000 });
    expect(commands).toContain('purge_queue');
    await shot('queues');

    // Workers: the worker the events named, and an operator action through its confirmation dialog.
    await page.goto(`${origin}/projects/default/workers`);
    await page.getByRole('heading', { name: 'Workers', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'celery@worker-1' }).click();
    await page.getByRole('heading', { name: 'celery@worker-1', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Restart', exact: true }).click();
    await page.getByRole('button', { name: 'Restart worker' }).click();
    await page.getByTestId('command-outcome').getByText('completed').waitFor({ timeout: 15_000 });
    expect(commands).toContain('restart_worker');
    await shot('worker-detail');
    await page.goto(`${origin}/projects/default/workers`);
    await page.getByRole('link', { name: 'celery@worker-1' }).waitFor();
    await shot('workers');

    await page.goto(`${origin}/projects/default/commands`);
    await page.getByText('retry_task').waitFor();
    await shot('commands');
    await page.goto(`${origin}/projects/default`);
    await page.getByText('Throughput').waitFor();
    await shot('overview');
    await page.goto(`${origin}/projects/default/schedules`);
    await page.getByRole('heading', { name: 'Schedules', level: 1 }).waitFor();
    await page.getByText('No schedules yet').waitFor();
    await shot('schedules');
    await page.goto(`${origin}/projects/default/audit`);
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    await page.getByRole('table', { name: 'Audit log' }).getByText('agent.token.minted').first().waitFor();
    await shot('audit');

    // Account pages: an API key's token is shown once; secrets on the runtime page arrive masked.
    await page.goto(`${origin}/settings/api-keys`);
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Create API key' }).click();
    await page.getByLabel('Name').fill('e2e-ci');
    await page.getByRole('checkbox').first().check();
    await page.getByRole('button', { name: 'Create key' }).click();
    expect((await page.getByTestId('api-key-token').textContent()) ?? '').toMatch(/^z4k_/);
    await shot('api-key-created');
    await page.keyboard.press('Escape');
    await page.goto(`${origin}/settings/security`);
    await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Set up MFA' }).waitFor();
    await page.getByText('this session').waitFor();
    await shot('security');
    await page.goto(`${origin}/settings/runtime`);
    await page.getByRole('heading', { name: 'Runtime settings', level: 1 }).waitFor();
    const secretRow = page.getByRole('row').filter({ has: page.getByText('Z4J_SECRET', { exact: true }) });
    await secretRow.getByText(/^<redacted, \d+ bytes>$/).waitFor();
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.reload();
    await page.getByRole('heading', { name: 'Runtime settings', level: 1 }).waitFor();
    await page.getByLabel('Only values not at their default').check();
    await shot('runtime-settings-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // A viewer: no write buttons anywhere, and a direct write call is refused by the API. Added on the members page.
    expect((await apiCall(page, 'POST', '/users', { email: VIEWER.email, password: VIEWER.password, display_name: 'Viewer' })).status).toBe(
      201,
    );
    await page.goto(`${origin}/projects/default/members`);
    await page.getByRole('heading', { name: 'Members', level: 1 }).waitFor();
    await page.getByLabel('Email of an existing user').fill(VIEWER.email);
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByRole('combobox', { name: `Role of ${VIEWER.email}` }).waitFor();
    await shot('members');
    const viewerContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const viewerPage = await viewerContext.newPage();
    await signIn(viewerPage, origin, VIEWER);
    await viewerPage.goto(`${origin}/projects/default/tasks/celery/broken-1`);
    await viewerPage.getByText('ValueError: card declined').first().waitFor();
    expect(await viewerPage.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    expect(await viewerPage.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    await viewerPage.screenshot({ path: join(SCREENSHOTS, 'task-detail-viewer-phone.png'), fullPage: true });
    await viewerPage.goto(`${origin}/projects/default/agents`);
    await viewerPage.getByText('e2e-agent').waitFor();
    expect(await viewerPage.getByRole('button', { name: 'Mint agent' }).count()).toBe(0);
    expect(await viewerPage.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
    const agentId = ((await apiCall(viewerPage, 'GET', '/projects/default/agents')).json as { items: { id: string }[] }).items[0]!.id;
    const refused = await apiCall(viewerPage, 'POST', '/projects/default/commands/retry-task', {
      agent_id: agentId,
      engine: 'celery',
      task_id: 'broken-1',
    });
    expect(refused.status).toBe(403);
    await viewerPage.goto(`${origin}/projects/default/workers`);
    await viewerPage.getByRole('link', { name: 'celery@worker-1' }).waitFor();
    expect(
      await viewerPage
        .getByRole('button')
        .filter({ hasText: /Resize pool|Restart|consumer|Rate limit/ })
        .count(),
    ).toBe(0);
    expect(await viewerPage.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    await viewerPage.screenshot({ path: join(SCREENSHOTS, 'workers-viewer-phone.png'), fullPage: true });
    await viewerPage.goto(`${origin}/settings/security`);
    await viewerPage.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
    expect(await viewerPage.getByRole('link', { name: 'Runtime' }).count()).toBe(0);
    // MFA enrolment as a user does it: the secret as text, a code from it, then the recovery codes once.
    await viewerPage.getByRole('button', { name: 'Set up MFA' }).click();
    const secret = (await viewerPage.getByTestId('mfa-secret').textContent()) ?? '';
    await viewerPage.getByLabel('Enter the 6-digit code').fill(generateTotp(decodeTotpSecret(secret), new Date()));
    await viewerPage.getByRole('button', { name: 'Verify and turn on' }).click();
    expect(((await viewerPage.getByTestId('recovery-codes').textContent()) ?? '').split('\n').length).toBeGreaterThanOrEqual(5);
    await viewerPage.screenshot({ path: join(SCREENSHOTS, 'security-viewer-phone.png'), fullPage: true });
    await viewerPage.getByRole('button', { name: 'I saved them' }).click();
    await viewerPage.getByText('unused recovery codes left').waitFor();
    await viewerContext.close();
    await context.close();
  }, 120_000);
});
