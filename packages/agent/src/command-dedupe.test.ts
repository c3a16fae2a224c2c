import { describe, expect, it } from 'vitest';
import { CommandDedupe } from './command-dedupe.js';

describe('CommandDedupe', () => {
  it('reports a repeat within 300 s and forgets after', () => {
    let now = 0;
    const dedupe = new CommandDedupe({ now: () => now });
    expect(dedupe.firstSighting('a')).toBe(true);
    now = 299_999;
    expect(dedupe.firstSighting('a')).toBe(false);
    expect(dedupe.firstSighting('b')).toBe(true);
    now = 300_000;
    expect(dedupe.firstSighting('a')).toBe(true);
    expect(dedupe.firstSighting('b')).toBe(false);
  });

  it('keeps at most max ids, forgetting the oldest', () => {
    const dedupe = new CommandDedupe({ max: 3, now: () => 0 });
    for (const id of ['a', 'b', 'c', 'd']) expect(dedupe.firstSighting(id)).toBe(true);
    expect(dedupe.size).toBe(3);
    expect(dedupe.firstSighting('d')).toBe(false);
    expect(dedupe.firstSighting('a')).toBe(true);
  });
});
