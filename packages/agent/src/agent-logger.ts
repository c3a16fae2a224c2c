/**
 * The logger the agent writes to: pino's call shape (`logger.warn({ err }, 'agent:event')`), so a host app can pass
 * its pino/bunyan logger (or a child of it) as is. Event names are string literals (`agent:session:active`).
 *
 * @example
 * createAgent({ ...options, logger: pino().child({ component: 'z4j-agent' }) });
 */
export interface AgentLogger {
  debug(fields: Record<string, unknown>, event: string): void;
  info(fields: Record<string, unknown>, event: string): void;
  warn(fields: Record<string, unknown>, event: string): void;
  error(fields: Record<string, unknown>, event: string): void;
}

/**
 * The default logger: warnings and errors go to `console.warn` / `console.error` as one line each (the agent lives in
 * someone else's process, so it stays quiet unless something needs attention); debug and info are dropped.
 *
 * @example
 * const logger = consoleLogger(); // what createAgent uses without a `logger` option
 */
export function consoleLogger(): AgentLogger {
  const line = (event: string, fields: Record<string, unknown>): string => {
    const err = fields.err;
    const rest = { ...fields, ...(err instanceof Error ? { err: err.message } : {}) };
    try {
      return `[z4j-agent] ${event} ${JSON.stringify(rest, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))}`;
    } catch {
      // A field that cannot be serialised (a cycle) must not turn a log line into an exception in the host.
      return `[z4j-agent] ${event}`;
    }
  };
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (fields, event) => console.warn(line(event, fields)),
    error: (fields, event) => console.error(line(event, fields)),
  };
}
