import { describe, expect, it } from 'vitest';
import { AgentConnectionRegistry, type RegisteredConnection } from './agent-registry.js';
import { BoundedLru } from './bounded-lru.js';

class Connection implements RegisteredConnection {
  closedWith: number | undefined;
  close(code: number): void {
    this.closedWith = code;
  }
}

describe('AgentConnectionRegistry', () => {
  it('holds many worker slots per agent and displaces only the same slot', () => {
    const registry = new AgentConnectionRegistry<Connection>(64);
    const a = new Connection();
    const b = new Connection();
    expect(registry.register('agent', 'w1', a)).toEqual({ ok: true, displaced: undefined });
    expect(registry.register('agent', 'w2', b)).toEqual({ ok: true, displaced: undefined });
    const a2 = new Connection();
    expect(registry.register('agent', 'w1', a2)).toEqual({ ok: true, displaced: a });
    expect(registry.size).toBe(2);
    expect(registry.connectionsOf('agent')).toEqual([a2, b]);
  });

  it('refuses a new slot beyond the cap but never a reconnect into a held slot; 0 means unlimited', () => {
    const registry = new AgentConnectionRegistry<Connection>(2);
    registry.register('agent', 'w1', new Connection());
    registry.register('agent', 'w2', new Connection());
    expect(registry.register('agent', 'w3', new Connection())).toEqual({ ok: false, reason: 'worker_cap' });
    expect(registry.register('agent', 'w2', new Connection()).ok).toBe(true);
    const unlimited = new AgentConnectionRegistry<Connection>(0);
    for (let index = 0; index < 200; index += 1) expect(unlimited.register('agent', `w${index}`, new Connection()).ok).toBe(true);
  });

  it('says "last" exactly once, and ignores a displaced connection closing late', () => {
    const registry = new AgentConnectionRegistry<Connection>(64);
    const a = new Connection();
    const b = new Connection();
    registry.register('agent', 'w1', a);
    registry.register('agent', 'w2', b);
    const a2 = new Connection();
    registry.register('agent', 'w1', a2);
    expect(registry.unregister('agent', 'w1', a)).toEqual({ removed: false, wasLast: false });
    expect(registry.unregister('agent', 'w1', a2)).toEqual({ removed: true, wasLast: false });
    expect(registry.unregister('agent', 'w2', b)).toEqual({ removed: true, wasLast: true });
    expect(registry.pick('agent')).toBeUndefined();
    expect(registry.size).toBe(0);
  });
});

describe('BoundedLru', () => {
  it('evicts the least recently used entry beyond its capacity', () => {
    const lru = new BoundedLru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // a is now the most recent
    lru.set('c', 3);
    expect(lru.has('b')).toBe(false);
    expect(lru.has('a')).toBe(true);
    expect(lru.size).toBe(2);
  });
});
