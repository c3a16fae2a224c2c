import { runBrainMain, describeStartupError, type MainProcess } from '@z4j/runtime';
import { CliUsageError, parseCliArgs, USAGE, type CliCommand } from './cli-args.js';
import { agentsCommand, auditCommand, metricsTokenCommand, migrateCommand } from './commands.js';
import { SERVICE_FACTORIES } from './service-registry.js';
import { readVersion } from './version.js';

export interface CliProcess extends MainProcess {
  readonly argv: readonly string[];
  readonly stdout: { write(chunk: string): unknown };
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
      case 'serve':
        await runBrainMain(proc, {
          services: command.only.map((name) => [name, SERVICE_FACTORIES[name]] as const),
          envOverrides: {
            ...(command.host === undefined ? {} : { Z4J_BIND_HOST: command.host }),
            ...(command.port === undefined ? {} : { Z4J_BIND_PORT: String(command.port) }),
          },
        });
        return;
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
    }
  } catch (error) {
    proc.stderr.write(`z4j: ${describeStartupError(error)}\n`);
    proc.exit((error as { name?: string }).name === 'ConfigError' ? 2 : 1);
  }
}
