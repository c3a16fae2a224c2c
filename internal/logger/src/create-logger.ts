import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export interface LoggerOptions {
  /** pino level: trace | debug | info | warn | error | fatal | silent. */
  readonly level: string;
  /** JSON lines (true, production) or human-readable console output (false). */
  readonly json: boolean;
  /** Bound on every line, e.g. `{ service: 'gateway' }`. */
  readonly base?: Record<string, unknown>;
  /** Where lines go; defaults to stdout. Tests pass a stream they can read. */
  readonly destination?: DestinationStream;
}

/**
 * Key names whose values never reach a log line, at the top level and one or
 * two levels down (pino's redaction takes explicit paths, so wildcards cover
 * the usual nesting: `req.headers.authorization`, `config.secret`, ...).
 * Redaction lives in the logger so a call site cannot forget it.
 */
const SENSITIVE_KEYS = [
  'password',
  'newPassword',
  'new_password',
  'old_password',
  'passwd',
  'secret',
  'secrets',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'apiKey',
  'api_key',
  'hmac_secret',
  'hmacSecret',
  'sessionSecret',
  'session_secret',
  'authorization',
  'Authorization',
  'cookie',
  'Cookie',
  'set-cookie',
  'Set-Cookie',
  'x-csrf-token',
  'csrfToken',
  'csrf_token',
  'metricsAuthToken',
  'databaseUrl',
  'connectionString',
  'payload',
];

export const REDACTED_PATHS: readonly string[] = SENSITIVE_KEYS.flatMap((key) => {
  const quoted = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
  const join = (prefix: string) => (quoted.startsWith('[') ? `${prefix}${quoted}` : `${prefix}.${quoted}`);
  return [quoted, join('*'), join('*.*')];
});

export function createLogger(options: LoggerOptions): Logger {
  const pinoOptions = {
    level: options.level,
    base: options.base ?? {},
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACTED_PATHS], censor: '[REDACTED]' },
    formatters: {
      level: (label: string) => ({ level: label }),
    },
  };
  if (options.destination) return pino(pinoOptions, options.destination);
  if (!options.json) {
    return pino({
      ...pinoOptions,
      transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino(pinoOptions);
}
