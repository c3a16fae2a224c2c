import { afterAll, beforeAll, expect, it } from 'vitest';
import { createNotifier, type Notifier } from '@z4j/db';
import { probePostgres } from '@z4j/testing';
import { describeEachDatabase } from '@z4j/testing/vitest';
import { COMMAND_UPDATES_CHANNEL } from './command-issuer.js';
import { openCommandWaiter } from './command-waiter.js';
import { commandPublic, findCommand, type CommandPublic } from './command-view.js';

const postgres = await probePostgres();

/**
 * The waiter over the brain's real notifier: on Postgres, the NOTIFY goes out
 * through the pool and arrives on the notifier's own LISTEN connection, as a
 * gateway replica's would.
 */
describeEachDatabase('command waiter', postgres, ({ skip, test }) => {
  let notifier: Notifier;
  let active = 0;
  let projectId: string;

  beforeAll(async () => {
    if (skip) return;
    notifier = createNotifier(test().database);
    const project = await test()
      .database.db.insertInto('projects')
      .values({ slug: 'waiter', name: 'waiter' })
      .returning('id')
      .executeTakeFirstOrThrow();
    projectId = project.id;
  });
  afterAll(async () => {
    if (!skip) await notifier.close();
  });

  /** The notifier's subscribe, counting live subscriptions. */
  const deps = () => ({
    db: test().database.db,
    subscribe: async (channel: string, handler: (payload: string) => void) => {
      const unsubscribe = await notifier.subscribe(channel, handler);
      active += 1;
      return async () => {
        active -= 1;
        await unsubscribe();
      };
    },
  });

  /** A pending command, as the issuing transaction hands it to the waiter. */
  async function insertCommand(): Promise<CommandPublic> {
    const now = new Date();
    const row = await test()
      .database.db.insertInto('commands')
      .values({
        project_id: projectId,
        action: 'restart_worker',
        target_type: 'worker',
        issued_at: now,
        timeout_at: new Date(now.getTime() + 60_000),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return commandPublic((await findCommand(test().database.db, projectId, row.id))!);
  }

  async function finish({ id: commandId }: CommandPublic, status: 'completed' | 'failed' | 'timeout' | 'dispatched', announce = true) {
    await test().database.db.updateTable('commands').set({ status }).where('id', '=', commandId).execute();
    if (announce) await notifier.publish(COMMAND_UPDATES_CHANNEL, commandId);
  }

  it.skipIf(skip)('wakes on the NOTIFY for its command, ignores other commands, and unsubscribes on close', async () => {
    const waiter = await openCommandWaiter(deps());
    expect(active).toBe(1);
    const command = await insertCommand();
    const other = await insertCommand();
    const started = Date.now();
    setTimeout(() => {
      void (async () => {
        await finish(other, 'completed');
        await finish(command, 'dispatched');
        await finish(command, 'completed');
      })();
    }, 50);
    const result = await waiter.waitForFinal(command, 20_000);
    expect(result.final).toBe(true);
    expect(result.row).toMatchObject({ id: command.id, status: 'completed' });
    expect(Date.now() - started).toBeLessThan(10_000);
    await waiter.close();
    await waiter.close();
    expect(active).toBe(0);
  });

  it.skipIf(skip)('a result that arrived before the wait began (while the command was being inserted) is not missed', async () => {
    const waiter = await openCommandWaiter(deps());
    try {
      // The issued row still says pending; the update that arrived meanwhile makes the waiter read instead.
      const command = await insertCommand();
      await finish(command, 'failed');
      const result = await waiter.waitForFinal(command, 20_000);
      expect([result.final, result.row.status]).toEqual([true, 'failed']);
    } finally {
      await waiter.close();
    }
    expect(active).toBe(0);
  });

  it.skipIf(skip)(
    'ends at the deadline with one last read: a lost NOTIFY cannot hang it, and an unanswered command is not final',
    async () => {
      const waiter = await openCommandWaiter(deps());
      try {
        const unanswered = await insertCommand();
        const started = Date.now();
        const pending = await waiter.waitForFinal(unanswered, 300);
        expect(Date.now() - started).toBeGreaterThanOrEqual(250);
        expect([pending.final, pending.row.status]).toEqual([false, 'pending']);

        const silent = await insertCommand();
        setTimeout(() => void finish(silent, 'completed', false), 50);
        const found = await waiter.waitForFinal(silent, 400);
        expect([found.final, found.row.status]).toEqual([true, 'completed']);
      } finally {
        await waiter.close();
      }
    },
  );

  it.skipIf(skip)('stops waiting when the caller goes away', async () => {
    const waiter = await openCommandWaiter(deps());
    try {
      const command = await insertCommand();
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 50);
      const started = Date.now();
      const result = await waiter.waitForFinal(command, 20_000, abort.signal);
      expect(result.final).toBe(false);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await waiter.close();
    }
  });
});
