import { AppError } from '@z4j/errors';
import type { CommandPublic } from './command-view.js';

/**
 * The command routes' own errors (§5.1: agent offline 503, command timeout
 * 504). Both carry the command in `details`, so a caller that got one still
 * knows the id it can poll. They are 5xx statuses but expected outcomes, so
 * they are marked `expose` (the envelope keeps the message and details).
 */
export const commandErrors = {
  /** The command was stored and announced, but its agent is not connected: it stays pending until it times out or the agent drains it. */
  agentOffline: (command: CommandPublic) =>
    new AppError('AGENT_OFFLINE', 'the agent is not connected; the command stays pending until it reconnects or the command times out', {
      status: 503,
      expose: true,
      details: { agent_id: command.agent_id, command },
    }),
  /** `?wait=true` ended without a result: the command timed out, or the wait ran out first. */
  commandTimeout: (command: CommandPublic) =>
    new AppError(
      'COMMAND_TIMEOUT',
      command.status === 'timeout'
        ? 'the agent did not answer before the command timed out'
        : `no result within the wait; the command is still ${command.status}`,
      { status: 504, expose: true, details: { command } },
    ),
  agentRevoked: () => new AppError('CONFLICT', "this agent's token was revoked; it can no longer receive commands", { status: 409 }),
  projectArchived: () => new AppError('CONFLICT', 'this project is archived; it cannot issue commands', { status: 409 }),
};
