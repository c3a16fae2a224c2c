import { runBrainMain, describeStartupError, type MainProcess } from '@z4j/runtime';
import { CliUsageError, parseCliArgs, USAGE, type CliCommand } from './cli-args.js';
import { agentsCommand, auditCommand, bootstrapAdminCommand, metricsTokenCommand, migrateCommand, resetMfaCommand } from './commands.js';
import { SERVICE_FACTORIES } from './service-registry.js';
import { readSecretFromStdin, type SecretInput } from './stdin-secret.js';
import { readVersion } from './version.js';

export interface CliProcess extends MainProcess {
  readonly argv: readonly string[];
  readonly stdout: { write(chunk: string): unknown };
  /** Where `--password-stdin` / `--admin-password-stdin` read the password (process.stdin). */
  readonly stdin?: SecretInput;
}

/** Entry point of the `z4j` command (bin/z4j.js). */
export async function runCli(proc: CliProcess): Promise<void> {
  let command: CliCommand;
  try {
    command = parseCliArgs(proc.argv.slice(2));
  } catch (error) {
    const message = error instanceof CliUsageError || error instanceof TypeError ? error.message : String(error);
    proc.stderr.write(`z4j: ${message}\n\n${USAGE}`);
    proc.exit(2);
  }
  const out = (line: string) => proc.stdout.write(`${line}\n`);
  const io = { env: proc.env, cwd: proc.cwd(), out };
  try {
    switch (command.name) {
      case 'help':
        proc.stdout.write(USAGE);
        return;
      case 'version':
        out(`z4j ${readVersion()}`);
        return;
      case 'serve': {
        // The api service's start() creates this admin when no user exists (setup/bootstrap-admin.ts); the
        // password goes to the served process's settings only, never into process.env.
        let bootstrapAdmin: Record<string, string> = {};
        if (command.adminEmail !== undefined) {
          const password = await readSecretFromStdin(proc.stdin, '--admin-password-stdin');
          if (!password.ok) usageFailure(proc, `serve: ${password.message}`);
          bootstrapAdmin = { Z4J_BOOTSTRAP_ADMIN_EMAIL: command.adminEmail, Z4J_BOOTSTRAP_ADMIN_PASSWORD: password.secret };
        }
        await runBrainMain(proc, {
          services: command.only.map((name) => [name, SERVICE_FACTORIES[name]] as const),
          envOverrides: {
            ...(command.host === undefined ? {} : { Z4J_BIND_HOST: command.host }),
            ...(command.port === undefined ? {} : { Z4J_BIND_PORT: String(command.port) }),
            ...bootstrapAdmin,
          },
        });
        return;
      }
      case 'bootstrap-admin': {
        const password = await readSecretFromStdin(proc.stdin, '--password-stdin');
        if (!password.ok) usageFailure(proc, `bootstrap-admin: ${password.message}`);
        proc.exit(await bootstrapAdminCommand(io, command, password.secret));
        return;
      }
      case 'migrate':
        proc.exit(await migrateCommand(io, command.action));
        return;
      case 'metrics-token':
        proc.exit(metricsTokenCommand(io, command.action));
        return;
      case 'agents':
        proc.exit(await agentsCommand(io, command));
        return;
      case 'audit':
        proc.exit(await auditCommand(io, command));
        return;
      case 'reset-mfa':
        proc.exit(await resetMfaCommand(io, command));
        return;
    }
  } catch (error) {
    proc.stderr.write(`z4j: ${describeStartupError(error)}\n`);
    proc.exit((error as { name?: string }).name === 'ConfigError' ? 2 : 1);
  }
}

/** A usage problem found after parsing (e.g. nothing on stdin): the message and exit 2, like a bad flag. */
function usageFailure(proc: CliProcess, message: string): never {
  proc.stderr.write(`z4j: ${message}\n`);
  return proc.exit(2);
}
