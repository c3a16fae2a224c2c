import { parseArgs } from 'node:util';
import * as v from 'valibot';
import { MAX_AUDIT_VERIFY_LIMIT } from '@z4j/audit';
import { SERVICE_NAMES, type ServiceName } from '@z4j/runtime';

/** A parsed, validated `z4j` invocation. */
export type CliCommand =
  | {
      readonly name: 'serve';
      readonly only: ServiceName[];
      readonly host?: string;
      readonly port?: number;
      /** With --admin-password-stdin: the first admin to create at boot (Z4J_BOOTSTRAP_ADMIN_EMAIL). */
      readonly adminEmail?: string;
    }
  | { readonly name: 'migrate'; readonly action: 'status' | 'up' }
  | { readonly name: 'version' }
  | { readonly name: 'metrics-token'; readonly action: 'show' | 'rotate' }
  | { readonly name: 'agents'; readonly action: 'mint'; readonly project: string; readonly agentName: string }
  | { readonly name: 'agents'; readonly action: 'revoke'; readonly agentId: string }
  | { readonly name: 'agents'; readonly action: 'list'; readonly project?: string }
  | { readonly name: 'audit'; readonly action: 'verify'; readonly limit: number }
  | { readonly name: 'reset-mfa'; readonly email: string }
  | { readonly name: 'bootstrap-admin'; readonly email: string; readonly displayName?: string }
  | { readonly name: 'help' };

export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

export const USAGE = `usage: z4j <command> [options]

commands:
  serve [--only SERVICE[,SERVICE…]] [--host HOST] [--port PORT] [--admin-email EMAIL --admin-password-stdin]
        run the brain; all five services in one process unless --only
        (services: ${SERVICE_NAMES.join(', ')}); with --admin-email, the first admin is created at
        boot if no user exists yet, its password read from standard input
  migrate status          list applied and pending schema migrations
  migrate up              apply pending migrations
  metrics-token [show|rotate]
                          print or rotate the /metrics bearer token ($Z4J_HOME/secret.env)
  agents mint --project SLUG --name NAME
                          enrol an agent; prints {agent_id, project_id, token, hmac_secret} once
                          (the "default" project is created if missing)
  agents revoke AGENT_ID  revoke an agent's token and close its sockets on every replica
  agents list [--project SLUG]
                          list agents
  audit verify [--limit N]
                          check the audit log's HMAC chain over its oldest N rows (1-${MAX_AUDIT_VERIFY_LIMIT},
                          default ${MAX_AUDIT_VERIFY_LIMIT}) with Z4J_SECRET and Z4J_PREVIOUS_SECRETS; exits 1 on a problem
  reset-mfa EMAIL [--confirm]
                          turn off a locked-out user's MFA (secret, recovery codes, remembered devices) and
                          revoke their sessions; audited as user.mfa_reset. The command never prompts: --confirm
                          is accepted for scripts written for the original z4j CLI
  bootstrap-admin --email EMAIL [--display-name NAME] --password-stdin
                          create the first global admin and the "default" project without the setup link;
                          the password is read from standard input, never from the command line; refuses
                          (exit 1) once any user exists
  version                 print the z4j version
`;

const PortSchema = v.pipe(
  v.string(),
  v.regex(/^\d{1,5}$/, 'expected a port number'),
  v.transform(Number),
  v.number(),
  v.minValue(0, 'expected a port from 0 to 65535'),
  v.maxValue(65535, 'expected a port from 0 to 65535'),
);
const HostSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9.:[\]-]{1,253}$/, 'expected a hostname or IP address'));
const ServiceListSchema = v.pipe(
  v.string(),
  v.transform((raw) =>
    raw
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  ),
  v.array(v.picklist(SERVICE_NAMES, `expected one or more of ${SERVICE_NAMES.join(', ')}`)),
  v.minLength(1, `expected one or more of ${SERVICE_NAMES.join(', ')}`),
);

const SlugSchema = v.pipe(
  v.string(),
  v.regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'expected a project slug (lowercase letters, digits and dashes, 2-63 characters)'),
);
const AgentNameSchema = v.pipe(
  v.string(),
  v.minLength(1, 'expected a name of 1-200 characters'),
  v.maxLength(200, 'expected a name of 1-200 characters'),
  v.regex(/^[^\p{Cc}]+$/u, 'expected a name without control characters'),
);
const UuidSchema = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'expected an agent id (UUID)'),
);

const AuditLimitSchema = v.pipe(
  v.string(),
  v.regex(/^\d{1,9}$/, `expected an integer from 1 to ${MAX_AUDIT_VERIFY_LIMIT}`),
  v.transform(Number),
  v.number(),
  v.minValue(1, `expected an integer from 1 to ${MAX_AUDIT_VERIFY_LIMIT}`),
  v.maxValue(MAX_AUDIT_VERIFY_LIMIT, `expected an integer from 1 to ${MAX_AUDIT_VERIFY_LIMIT}`),
);

function parseAuditArgs(rest: string[]): CliCommand {
  const [action, ...args] = rest;
  if (action !== 'verify') throw new CliUsageError(`audit: expected "verify", got ${action === undefined ? 'nothing' : `"${action}"`}`);
  const { values, positionals } = parseArgs({ args, options: { limit: { type: 'string' } }, allowPositionals: true, strict: true });
  expectNoMore(positionals, 'audit verify');
  return {
    name: 'audit',
    action,
    limit: values.limit === undefined ? MAX_AUDIT_VERIFY_LIMIT : parseOption(AuditLimitSchema, '--limit', values.limit),
  };
}

const EmailSchema = v.pipe(
  v.string(),
  v.trim(),
  v.maxLength(320, 'expected an email address (name@example.com)'),
  v.regex(/^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u, 'expected an email address (name@example.com)'),
);

function parseResetMfaArgs(rest: string[]): CliCommand {
  const { positionals } = parseArgs({ args: rest, options: { confirm: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const [email, ...extra] = positionals;
  if (email === undefined) throw new CliUsageError('reset-mfa: expected the email address of the user');
  expectNoMore(extra, 'reset-mfa');
  return { name: 'reset-mfa', email: parseOption(EmailSchema, 'email', email) };
}

/** The shape Z4J_BOOTSTRAP_ADMIN_EMAIL is checked against, so `serve --admin-email` fails here, naming the flag. */
const AdminEmailSchema = v.pipe(
  v.string(),
  v.trim(),
  v.maxLength(254, 'expected an email address (name@example.com)'),
  v.regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'expected an email address (name@example.com)'),
);
const DisplayNameSchema = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, 'expected a name of 1-200 characters'),
  v.maxLength(200, 'expected a name of 1-200 characters'),
  v.regex(/^[^\p{Cc}]+$/u, 'expected a name without control characters'),
);

/** Passwords on the command line end up in shell history and `ps`: the flag is refused by name, not ignored. */
function refusePasswordFlag(args: readonly string[], flag: string, command: string, instead: string): void {
  if (args.some((arg) => arg === flag || arg.startsWith(`${flag}=`))) {
    throw new CliUsageError(
      `${command}: ${flag} is not accepted (command lines end up in shell history and process lists); use ${instead}`,
    );
  }
}

function parseBootstrapAdminArgs(rest: string[]): CliCommand {
  refusePasswordFlag(rest, '--password', 'bootstrap-admin', '--password-stdin and pipe the password in');
  const { values, positionals } = parseArgs({
    args: rest,
    options: { email: { type: 'string' }, 'display-name': { type: 'string' }, 'password-stdin': { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  expectNoMore(positionals, 'bootstrap-admin');
  if (values.email === undefined) throw new CliUsageError('bootstrap-admin: --email is required');
  if (values['password-stdin'] !== true) {
    throw new CliUsageError(
      'bootstrap-admin: --password-stdin is required: the password is read from standard input, never from the command line',
    );
  }
  const displayName = values['display-name'];
  return {
    name: 'bootstrap-admin',
    email: parseOption(AdminEmailSchema, '--email', values.email),
    ...(displayName === undefined ? {} : { displayName: parseOption(DisplayNameSchema, '--display-name', displayName) }),
  };
}

function parseAgentsArgs(rest: string[]): CliCommand {
  const [action, ...args] = rest;
  const { values, positionals } = parseArgs({
    args,
    options: { project: { type: 'string' }, name: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  switch (action) {
    case 'mint': {
      expectNoMore(positionals, 'agents mint');
      if (values.project === undefined) throw new CliUsageError('agents mint: --project is required');
      if (values.name === undefined) throw new CliUsageError('agents mint: --name is required');
      return {
        name: 'agents',
        action: 'mint',
        project: parseOption(SlugSchema, '--project', values.project),
        agentName: parseOption(AgentNameSchema, '--name', values.name),
      };
    }
    case 'revoke': {
      const [agentId, ...extra] = positionals;
      if (agentId === undefined) throw new CliUsageError('agents revoke: expected an agent id');
      expectNoMore(extra, 'agents revoke');
      return { name: 'agents', action: 'revoke', agentId: parseOption(UuidSchema, 'agent id', agentId).toLowerCase() };
    }
    case 'list':
      expectNoMore(positionals, 'agents list');
      return {
        name: 'agents',
        action: 'list',
        ...(values.project === undefined ? {} : { project: parseOption(SlugSchema, '--project', values.project) }),
      };
    default:
      throw new CliUsageError(`agents: expected "mint", "revoke" or "list", got ${action === undefined ? 'nothing' : `"${action}"`}`);
  }
}

function parseOption<T extends v.GenericSchema<string, unknown>>(schema: T, flag: string, raw: string): v.InferOutput<T> {
  const result = v.safeParse(schema, raw);
  if (!result.success) throw new CliUsageError(`${flag}: ${result.issues[0]?.message ?? 'invalid value'}, got "${raw}"`);
  return result.output;
}

function expectNoMore(rest: string[], command: string): void {
  if (rest.length > 0) throw new CliUsageError(`${command}: unexpected argument "${rest[0]}"`);
}

export function parseCliArgs(argv: readonly string[]): CliCommand {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { name: 'help' };
    case 'version':
    case '--version':
      expectNoMore(rest, 'version');
      return { name: 'version' };
    case 'serve': {
      refusePasswordFlag(rest, '--admin-password', 'serve', '--admin-password-stdin and pipe the password in');
      const { values, positionals } = parseArgs({
        args: rest,
        options: {
          only: { type: 'string' },
          host: { type: 'string' },
          port: { type: 'string' },
          'admin-email': { type: 'string' },
          'admin-password-stdin': { type: 'boolean' },
        },
        allowPositionals: true,
        strict: true,
      });
      expectNoMore(positionals, 'serve');
      const adminEmail = values['admin-email'];
      if (adminEmail === undefined && values['admin-password-stdin'] === true) {
        throw new CliUsageError('serve: --admin-password-stdin needs --admin-email');
      }
      if (adminEmail !== undefined && values['admin-password-stdin'] !== true) {
        throw new CliUsageError('serve: --admin-email needs --admin-password-stdin (the password is read from standard input)');
      }
      const only = values.only === undefined ? [...SERVICE_NAMES] : [...new Set(parseOption(ServiceListSchema, '--only', values.only))];
      // The api service creates the admin at start-up; without it the flag would be silently ignored.
      if (adminEmail !== undefined && !only.includes('api'))
        throw new CliUsageError('serve: --admin-email needs the api service in --only');
      return {
        name: 'serve',
        only,
        ...(values.host === undefined ? {} : { host: parseOption(HostSchema, '--host', values.host) }),
        ...(values.port === undefined ? {} : { port: parseOption(PortSchema, '--port', values.port) }),
        ...(adminEmail === undefined ? {} : { adminEmail: parseOption(AdminEmailSchema, '--admin-email', adminEmail) }),
      };
    }
    case 'migrate': {
      const [action, ...extra] = rest;
      if (action !== 'status' && action !== 'up')
        throw new CliUsageError(`migrate: expected "status" or "up", got ${action === undefined ? 'nothing' : `"${action}"`}`);
      expectNoMore(extra, `migrate ${action}`);
      return { name: 'migrate', action };
    }
    case 'metrics-token': {
      const [action = 'show', ...extra] = rest;
      if (action !== 'show' && action !== 'rotate') throw new CliUsageError(`metrics-token: expected "show" or "rotate", got "${action}"`);
      expectNoMore(extra, `metrics-token ${action}`);
      return { name: 'metrics-token', action };
    }
    case 'agents':
      return parseAgentsArgs(rest);
    case 'audit':
      return parseAuditArgs(rest);
    case 'reset-mfa':
      return parseResetMfaArgs(rest);
    case 'bootstrap-admin':
      return parseBootstrapAdminArgs(rest);
    default:
      throw new CliUsageError(`unknown command "${command}"; run "z4j help"`);
  }
}
