/** Long enough for a heartbeat (every 10 s) plus a loaded CI machine; a poll that is satisfied stops at once. */
export const DEFAULT_POLL_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 25;

/**
 * Reads until `isDone(value)` holds or `timeoutMs` has passed, and returns the last value read, so the caller
 * asserts on what the brain or the engine actually holds (and a failure shows it) instead of on a boolean. For state
 * the brain and the engines write asynchronously; the bound is a backstop, never an expectation about timing.
 *
 * @example
 * const task = await pollUntil(() => readTask(taskId), (row) => row?.state === 'success');
 * expect(task?.state).toBe('success');
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  isDone: (value: T) => boolean,
  timeoutMs: number = DEFAULT_POLL_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!isDone(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    value = await read();
  }
  return value;
}
