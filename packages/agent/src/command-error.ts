/**
 * A command failure an adapter reports on purpose. The brain shows it as `"<code>: <message>"`
 * (`task_not_found: no job 42 in queue mail`); any other error thrown by an adapter is shown as
 * `"internal error: <message>"`.
 *
 * @example
 * throw new CommandError('task_not_found', `no job ${id} in queue ${queue}`);
 */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    /** Short machine-readable code, snake_case. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
