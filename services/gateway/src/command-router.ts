import * as v from 'valibot';
import { COMMANDS_CHANNEL, type Notifier } from '@z4j/db';
import type { Logger } from '@z4j/logger';
import { CloseCode } from '@z4j/protocol';
import type { AgentConnectionRegistry, RegisteredConnection } from './agent-registry.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { GatewayStore, PendingCommand } from './gateway-store.js';

/** At most this many pending commands per reconcile pass, oldest first (§10.2). */
export const RECONCILE_LIMIT = 500;

const CommandNotification = v.looseObject({
  c: v.pipe(v.string(), v.uuid()),
  a: v.pipe(v.string(), v.uuid()),
});

export interface CommandNotificationPayload {
  readonly commandId: string;
  readonly agentId: string;
}

/** Parses a `z4j_commands` payload; undefined for anything that is not `{"c": uuid, "a": uuid}`. */
export function parseCommandNotification(payload: string): CommandNotificationPayload | undefined {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const parsed = v.safeParse(CommandNotification, json);
  return parsed.success ? { commandId: parsed.output.c.toLowerCase(), agentId: parsed.output.a.toLowerCase() } : undefined;
}

/** What the router needs of a session: whether it can take a command now, and the push itself. */
export interface CommandTarget extends RegisteredConnection {
  readonly canReceiveCommands: boolean;
  /** Signs and writes a `command` frame; false when the socket is no longer open. */
  pushCommand(command: PendingCommand): boolean;
}

export interface CommandRouterDeps<C extends CommandTarget> {
  readonly store: Pick<GatewayStore, 'claimCommands' | 'releaseClaims' | 'pendingCommandsOf' | 'unauthorisedAgents'>;
  readonly registry: AgentConnectionRegistry<C>;
  readonly notifier: Pick<Notifier, 'subscribe' | 'onListenerRestored'>;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly now: () => Date;
  /** `Z4J_REGISTRY_RECONCILE_INTERVAL_SECONDS` in ms. */
  readonly reconcileIntervalMs: number;
  /** Announces commands this replica moved to dispatched (NOTIFY `z4j_command_updates`); never throws. */
  readonly commandsChanged: (commandIds: readonly string[]) => void;
}

export interface CommandRouter {
  start(): Promise<void>;
  /** Stops listening and the loop, and waits for deliveries in flight. */
  stop(): Promise<void>;
  /** One reconcile pass now (coalesced with a running one); resolves when it is done. */
  reconcileNow(): Promise<void>;
}

/**
 * Delivers commands to the agents this replica holds. Three ways in, one way out:
 *
 * - NOTIFY `z4j_commands` from the API (any replica): if the agent has a live
 *   session here, deliver that command;
 * - the reconcile loop every `Z4J_REGISTRY_RECONCILE_INTERVAL_SECONDS`, and
 *   once right after the LISTEN connection was rebuilt: pending commands of
 *   local agents (≤500, oldest first) — the ones whose NOTIFY was lost. The
 *   same pass re-checks that every local agent is still allowed a socket and
 *   closes revoked ones with 4401 (their `z4j_agent_revoked` NOTIFY may have
 *   been lost as well);
 * - (the drain on connect lives in the session itself.)
 *
 * Delivery is claim-then-push: pending → dispatched in one guarded UPDATE
 * (so of all replicas and paths exactly one wins), then the frame goes to the
 * first worker socket of the agent that can take it (worker-first); a claimed
 * command that could not be written goes back to pending. Pushed commands are
 * announced on `z4j_command_updates`.
 */
export function createCommandRouter<C extends CommandTarget>(deps: CommandRouterDeps<C>): CommandRouter {
  const { registry, store, logger, metrics } = deps;
  const inFlight = new Set<Promise<unknown>>();
  let unsubscribe: (() => Promise<void>) | undefined;
  let unregisterRestored: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let pass: Promise<void> | undefined;
  let passAgain = false;

  const track = <T>(work: Promise<T>): Promise<T> => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work)).catch(() => undefined);
    return work;
  };

  const liveSessions = (agentId: string): C[] => registry.connectionsOf(agentId).filter((session) => session.canReceiveCommands);

  /** Claim-then-push; returns how many commands went out. */
  const deliver = async (agentId: string, commandIds: readonly string[]): Promise<number> => {
    // Claim only what a live session can take right now: otherwise the connect drain (or another replica) owns it.
    if (liveSessions(agentId).length === 0) return 0;
    const claimed = await store.claimCommands(agentId, commandIds, deps.now());
    if (claimed.length === 0) return 0;
    const sent: string[] = [];
    const unsent: string[] = [];
    for (const command of claimed) (push(agentId, command) ? sent : unsent).push(command.id);
    if (sent.length > 0) deps.commandsChanged(sent);
    if (unsent.length > 0) {
      logger.warn({ agent: agentId, commands: unsent }, 'gateway:commands:push_failed');
      await store.releaseClaims(agentId, unsent);
    }
    return sent.length;
  };

  const push = (agentId: string, command: PendingCommand): boolean => {
    for (const session of liveSessions(agentId)) {
      try {
        if (session.pushCommand(command)) return true;
      } catch (error) {
        logger.error({ err: error, agent: agentId, command: command.id }, 'gateway:commands:sign_failed');
      }
    }
    return false;
  };

  const onNotification = (payload: string): void => {
    const notification = parseCommandNotification(payload);
    if (!notification) {
      metrics.malformedCommandNotifications.inc();
      logger.warn({ payload: payload.slice(0, 200) }, 'gateway:commands:malformed_notification');
      return;
    }
    // Every replica hears every NOTIFY; only the one holding the agent acts.
    if (liveSessions(notification.agentId).length === 0) return;
    void track(
      deliver(notification.agentId, [notification.commandId]).catch((error: unknown) => {
        // Still pending: the reconcile loop delivers it.
        logger.warn({ err: error, command: notification.commandId }, 'gateway:commands:deliver_failed');
      }),
    );
  };

  const closeUnauthorised = async (): Promise<void> => {
    const agentIds = registry.agentIds();
    for (const agentId of await store.unauthorisedAgents(agentIds)) {
      const sessions = registry.connectionsOf(agentId);
      if (sessions.length === 0) continue;
      logger.warn({ agent: agentId, sessions: sessions.length }, 'gateway:registry:revoked_agent_closed');
      for (const session of sessions) session.close(CloseCode.BadToken, 'agent revoked');
    }
  };

  const reconcileOnce = async (): Promise<void> => {
    await closeUnauthorised();
    const agentIds = registry.agentIds().filter((agentId) => liveSessions(agentId).length > 0);
    const pending = await store.pendingCommandsOf(agentIds, RECONCILE_LIMIT, deps.now());
    const byAgent = new Map<string, string[]>();
    for (const { id, agentId } of pending) {
      let ids = byAgent.get(agentId);
      if (!ids) byAgent.set(agentId, (ids = []));
      ids.push(id);
    }
    let recovered = 0;
    for (const [agentId, ids] of byAgent) recovered += await deliver(agentId, ids);
    if (recovered > 0) {
      metrics.commandsRecovered.inc(recovered);
      logger.info({ commands: recovered }, 'gateway:commands:reconciled');
    }
  };

  const schedule = () => {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => void reconcileNow(), deps.reconcileIntervalMs);
    timer.unref();
  };

  /** Passes never overlap; a request during a pass runs one more pass right after it. */
  const reconcileNow = (): Promise<void> => {
    if (pass) {
      passAgain = true;
      return pass;
    }
    pass = track(
      (async () => {
        do {
          passAgain = false;
          try {
            await reconcileOnce();
          } catch (error) {
            logger.warn({ err: error }, 'gateway:commands:reconcile_failed');
          }
        } while (passAgain && !stopped);
      })().finally(() => {
        pass = undefined;
        schedule();
      }),
    );
    return pass;
  };

  return {
    async start() {
      stopped = false;
      unsubscribe = await deps.notifier.subscribe(COMMANDS_CHANNEL, onNotification);
      // NOTIFYs sent while the LISTEN connection was down are gone: look for what they announced at once.
      unregisterRestored = deps.notifier.onListenerRestored(() => {
        logger.info('gateway:commands:reconcile_after_listener_rebuild');
        void reconcileNow();
      });
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      unregisterRestored?.();
      await unsubscribe?.().catch(() => undefined);
      await Promise.allSettled([...inFlight]);
    },
    reconcileNow,
  };
}
