import { taskIdOf } from './task-id.js';

/** Most cancellations remembered; a job cancelled this long ago has long finished its handler. */
const MAX_CANCELLED = 10_000;

/** One handler call of a wrapped worker: the jobs pg-boss fetched together and the signal the handler got. */
interface Batch {
  readonly queue: string;
  readonly controller: AbortController;
  readonly exited: Promise<void>;
}

/**
 * The jobs the wrapped workers of this process are running right now, for the heartbeat's worker details and for
 * `cancel_task`, which can only stop a handler in the process that runs it.
 *
 * Per job: running (from the moment the wrapper got the batch until its handler settled) → gone. A job can also be
 * marked cancelled (`markCancelled`) while it runs: the wrapper then reports nothing for it when its handler settles,
 * because the cancel command reports `task.revoked` itself and pg-boss keeps the job `cancelled` (its complete/fail
 * only touch active jobs).
 *
 * @example
 * const running = new RunningJobs();
 * const done = running.begin('mail', [{ id, name: 'mail' }], controller);
 * running.abort('mail', id, new Error('cancelled')); // true: the handler's signal fired
 * done();
 */
export class RunningJobs {
  readonly #batches = new Map<string, Batch>();
  readonly #cancelled = new Set<string>();

  /** Registers a batch; call the returned function once its handler settled. */
  begin(queue: string, jobIds: readonly string[], controller: AbortController): () => void {
    let exit = () => {};
    const batch: Batch = { queue, controller, exited: new Promise<void>((resolve) => (exit = resolve)) };
    const keys = jobIds.map((id) => taskIdOf(queue, id));
    for (const key of keys) this.#batches.set(key, batch);
    return () => {
      for (const key of keys) if (this.#batches.get(key) === batch) this.#batches.delete(key);
      exit();
    };
  }

  /** Whether a wrapped worker of this process runs the job now. */
  has(queue: string, jobId: string): boolean {
    return this.#batches.has(taskIdOf(queue, jobId));
  }

  /**
   * Aborts the signal of the handler running the job (with batches, the whole batch's signal) and resolves once that
   * handler settled, or after `waitMs`: true if it settled in time. False at once when no local handler runs it.
   */
  async abort(queue: string, jobId: string, reason: Error, waitMs: number, signal: AbortSignal): Promise<boolean> {
    const batch = this.#batches.get(taskIdOf(queue, jobId));
    if (!batch) return false;
    batch.controller.abort(reason);
    if (signal.aborted) return false;
    let timer: NodeJS.Timeout | undefined;
    let onAbort = () => {};
    const settled = await Promise.race([
      batch.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), waitMs);
        onAbort = () => resolve(false);
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    return settled;
  }

  /** Marks a job whose cancellation this process reported (bounded; the oldest marks are forgotten first). */
  markCancelled(queue: string, jobId: string): void {
    const key = taskIdOf(queue, jobId);
    this.#cancelled.delete(key);
    this.#cancelled.add(key);
    if (this.#cancelled.size <= MAX_CANCELLED) return;
    const oldest = this.#cancelled.values().next();
    if (!oldest.done) this.#cancelled.delete(oldest.value);
  }

  /** Whether the job was marked cancelled, forgetting the mark. */
  takeCancelled(queue: string, jobId: string): boolean {
    return this.#cancelled.delete(taskIdOf(queue, jobId));
  }

  /** `{ id, name }` of every running job (task ids), for worker details. */
  active(): { id: string; name: string }[] {
    return [...this.#batches.entries()].map(([id, batch]) => ({ id, name: batch.queue }));
  }
}
