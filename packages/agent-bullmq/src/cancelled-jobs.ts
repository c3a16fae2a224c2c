/** Most cancellations remembered; a job cancelled this long ago has long reported its outcome. */
const MAX_REMEMBERED = 10_000;

/**
 * Task ids whose active job this process cancelled (`cancel_task`), so the job's `failed` event is reported as
 * `task.revoked` (terminated) rather than as a failure. Bounded: the oldest entries are forgotten first.
 *
 * @example
 * cancelled.add('mail:7');
 * cancelled.take('mail:7'); // true, once
 */
export class CancelledJobs {
  readonly #ids = new Set<string>();

  add(taskId: string): void {
    this.#ids.delete(taskId);
    this.#ids.add(taskId);
    if (this.#ids.size <= MAX_REMEMBERED) return;
    const oldest = this.#ids.values().next();
    if (!oldest.done) this.#ids.delete(oldest.value);
  }

  /** Whether the task was marked, forgetting the mark. */
  take(taskId: string): boolean {
    return this.#ids.delete(taskId);
  }
}
