/**
 * Where a bad or missing setting came from: the options object passed in code, the environment
 * ({@link agentOptionsFromEnv}), or the settings object (file settings).
 *
 * @example
 * const source: AgentConfigSource = 'env';
 */
export type AgentConfigSource = 'options' | 'env' | 'settings';

/**
 * A setting is missing or invalid. `field` is the name as the user wrote it (`bufferSize`, `Z4J_BUFFER_SIZE` or
 * `buffer_size`), so the message says exactly what to fix. Thrown by {@link createAgent} and
 * {@link agentOptionsFromEnv}; never thrown after the agent started.
 *
 * @example
 * try { createAgent(options) } catch (err) {
 *   if (err instanceof AgentConfigError) console.error(`fix ${err.field}: ${err.message}`);
 * }
 */
export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
  constructor(
    /** The offending field as written in its source. */
    readonly field: string,
    /** Which layer the value came from. */
    readonly source: AgentConfigSource,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
