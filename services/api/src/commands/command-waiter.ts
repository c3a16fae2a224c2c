import type { ApiDeps } from '../http/api-types.js';
import { apiError } from '../http/api-errors.js';
import { COMMAND_UPDATES_CHANNEL } from './command-issuer.js';
import { FINAL_COMMAND_STATUSES, findCommand, type CommandRow } from './command-view.js';

export interface CommandWaitResult {
  /** The command as last read. */
  readonly row: CommandRow;
  /** Whether it reached a final status (completed, failed, timeout); false when the wait ran out first. */
  readonly final: boolean;
}

/** One `?wait=true` call's subscription to `z4j_command_updates`. */
export interface CommandWaiter {
  /**
   * Resolves once the command is final, or with its last state after
   * `timeoutMs` (or when `signal` aborts: the client went away).
   */
  waitForFinal(projectId: string, commandId: string, timeoutMs: number, signal?: AbortSignal): Promise<CommandWaitResult>;
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
 * - reading: the row is read; a final status ends the wait;
 * - sleeping: until an update for this id arrives (→ reading) or the
 *   deadline passes (→ one last read, so a NOTIFY that was lost cannot hang
 *   the call, → done). An update that lands during a read marks "changed",
 *   so the next sleep is skipped and nothing is missed.
 *
 * There is no polling: the row is read once per relevant update, plus once
 * at the start and once at the deadline.
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
    async waitForFinal(projectId, commandId, timeoutMs, signal) {
      watched = commandId;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        changed = false;
        const row = await findCommand(deps.db, projectId, commandId);
        if (!row) throw apiError.notFound('command');
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
