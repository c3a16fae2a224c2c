/**
 * Remembers command ids for a window (default 300 s, at most 10 000 ids), as the Python dispatcher does: the brain
 * may deliver a command again (a reconnect drain, a long-poll re-send, a reclaimed row), and a command must not run
 * twice. Ids are kept in arrival order, so expiry and the size cap both drop from the front.
 *
 * @example
 * const dedupe = new CommandDedupe({ now: () => Date.now() });
 * dedupe.firstSighting(id) // true, then false for 300 s
 */
export class CommandDedupe {
  readonly #seen = new Map<string, number>();
  readonly #windowMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { readonly windowMs?: number; readonly max?: number; readonly now?: () => number } = {}) {
    this.#windowMs = options.windowMs ?? 300_000;
    this.#max = options.max ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * True the first time `id` is seen within the window (and remembers it); false for a repeat.
   *
   * @example
   * if (!dedupe.firstSighting(frame.id)) return resendAck(frame.id);
   */
  firstSighting(id: string): boolean {
    const nowMs = this.#now();
    for (const [seenId, seenAt] of this.#seen) {
      if (nowMs - seenAt < this.#windowMs) break;
      this.#seen.delete(seenId);
    }
    if (this.#seen.has(id)) return false;
    this.#seen.set(id, nowMs);
    if (this.#seen.size > this.#max) this.#seen.delete(this.#seen.keys().next().value!);
    return true;
  }

  /** How many ids are remembered. */
  get size(): number {
    return this.#seen.size;
  }
}
