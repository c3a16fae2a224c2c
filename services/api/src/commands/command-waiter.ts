import type { ApiDeps } from '../http/api-types.js';
import { apiError } from '../http/api-errors.js';
import { COMMAND_UPDATES_CHANNEL } from './command-issuer.js';
import { commandPublic, FINAL_COMMAND_STATUSES, findCommand, type CommandPublic } from './command-view.js';

export interface CommandWaitResult {
  /** The command as last read. */
  readonly row: CommandPublic;
  /** Whether it reached a final status (completed, failed, timeout); false when the wait ran out first. */
  readonly final: boolean;
}

/** One `?wait=true` call's subscription to `z4j_command_updates`. */
export interface CommandWaiter {
  /**
   * Resolves once the command is final, or with its last state after
   * `timeoutMs` (or when `signal` aborts: the client went away).
   * `issued` is the row as the issuing transaction returned it: unless an
   * update arrived since the waiter opened, it is still current, so the wait
   * starts without a read (one round trip less on every `?wait=true` call).
   */
  waitForFinal(issued: CommandPublic, timeoutMs: number, signal?: AbortSignal): Promise<CommandWaitResult>;
  /** Unsubscribes; safe to call more than once. Always call it (finally). */
  close(): Promise<void>;
}

/**
 * Subscribes to `z4j_command_updates` (payload: a command id, published by
 * the gateway and the timeout worker after every status change). Open it
 * BEFORE the command is inserted: the agent may answer within milliseconds,
 * and a NOTIFY sent before the LISTEN is lost.
 *
 * States of a wait:
 * - watching nothing yet (the insert is running): every update might be
 *   ours, so each one marks the waiter "changed";
 * - starting: the issued row stands for the first read unless "changed";
 * - reading: the row is read; a final status ends the wait;
 * - sleeping: until an update for this id arrives (→ reading) or the
 *   deadline passes (→ one last read, so a NOTIFY that was lost cannot hang
 *   the call, → done). An update that lands during a read marks "changed",
 *   so the next sleep is skipped and nothing is missed.
 *
 * There is no polling: the row is read once per relevant update, plus once
 * at the deadline.
 */
export async function openCommandWaiter(deps: Pick<ApiDeps, 'db' | 'subscribe'>): Promise<CommandWaiter> {
  let watched: string | undefined;
  let changed = false;
  let wake: (() => void) | undefined;
  const unsubscribe = await deps.subscribe(COMMAND_UPDATES_CHANNEL, (payload) => {
    if (watched !== undefined && payload !== watched) return;
    changed = true;
    wake?.();
  });
  let closed = false;

  const sleep = (ms: number, signal: AbortSignal | undefined) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      wake = done;
    });

  return {
    async waitForFinal(issued, timeoutMs, signal) {
      watched = issued.id;
      const deadline = Date.now() + timeoutMs;
      let known: CommandPublic | undefined = issued;
      for (;;) {
        let row = changed ? undefined : known;
        known = undefined;
        if (row === undefined) {
          changed = false;
          const read = await findCommand(deps.db, issued.project_id, issued.id);
          if (!read) throw apiError.notFound('command');
          row = commandPublic(read);
        }
        if (FINAL_COMMAND_STATUSES.has(row.status)) return { row, final: true };
        const remaining = deadline - Date.now();
        if (remaining <= 0 || signal?.aborted) return { row, final: false };
        if (!changed) await sleep(remaining, signal);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      wake?.();
      await unsubscribe();
    },
  };
}
