/**
 * This replica's live agent connections: `agent_id → { worker_id → connection }`
 * (the worker-first protocol). One agent token may be used by many processes
 * at once, each with its own `worker_id`; a pre-1.2 agent without one uses the
 * legacy slot `''`.
 *
 * Invariants:
 * - A reconnect into an occupied slot displaces the old connection (closed 4002 by the caller).
 * - At most `cap` distinct slots per agent (0 = unlimited); a reconnect into an
 *   existing slot never counts against the cap.
 * - "Was this the agent's last connection?" is answered in the same synchronous
 *   step that removes the slot, so two closes cannot both (or neither) see "last".
 */
export interface RegisteredConnection {
  /** Closes the connection with a WebSocket close code. */
  close(code: number, reason: string): void;
}

export type RegisterResult<C> =
  { readonly ok: true; readonly displaced: C | undefined } | { readonly ok: false; readonly reason: 'worker_cap' };

export class AgentConnectionRegistry<C extends RegisteredConnection> {
  readonly #agents = new Map<string, Map<string, C>>();
  #count = 0;

  constructor(private readonly cap: number) {}

  register(agentId: string, workerId: string, connection: C): RegisterResult<C> {
    let slots = this.#agents.get(agentId);
    const displaced = slots?.get(workerId);
    if (!displaced && this.cap > 0 && (slots?.size ?? 0) >= this.cap) return { ok: false, reason: 'worker_cap' };
    if (!slots) {
      slots = new Map();
      this.#agents.set(agentId, slots);
    }
    slots.set(workerId, connection);
    if (!displaced) this.#count += 1;
    return { ok: true, displaced };
  }

  /** Removes the slot only if `connection` still owns it (a displaced connection closing late changes nothing). */
  unregister(agentId: string, workerId: string, connection: C): { readonly removed: boolean; readonly wasLast: boolean } {
    const slots = this.#agents.get(agentId);
    if (!slots || slots.get(workerId) !== connection) return { removed: false, wasLast: false };
    slots.delete(workerId);
    this.#count -= 1;
    if (slots.size > 0) return { removed: true, wasLast: false };
    this.#agents.delete(agentId);
    return { removed: true, wasLast: true };
  }

  /** The first available connection of an agent (commands go to any one worker). */
  pick(agentId: string): C | undefined {
    const slots = this.#agents.get(agentId);
    return slots ? slots.values().next().value : undefined;
  }

  connectionsOf(agentId: string): C[] {
    return [...(this.#agents.get(agentId)?.values() ?? [])];
  }

  agentIds(): string[] {
    return [...this.#agents.keys()];
  }

  all(): C[] {
    return [...this.#agents.values()].flatMap((slots) => [...slots.values()]);
  }

  get size(): number {
    return this.#count;
  }
}
