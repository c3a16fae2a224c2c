export { runCli } from './main.js';
export type { CliProcess } from './main.js';
export { parseCliArgs, CliUsageError, USAGE } from './cli-args.js';
export type { CliCommand } from './cli-args.js';
export { SERVICE_FACTORIES } from './service-registry.js';
