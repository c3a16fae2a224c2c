import { describe, expect, it } from 'vitest';
import { parseCommandNotification } from './command-router.js';

describe('parseCommandNotification', () => {
  const c = '0b6e1c4e-8f43-4a8e-9d1a-3c2b1a0f9e8d';
  const a = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';

  it('reads the compact {"c","a"} payload, ids lowercased, extra keys ignored', () => {
    expect(parseCommandNotification(JSON.stringify({ c, a, v: 2 }))).toEqual({ commandId: c, agentId: a.toLowerCase() });
  });

  it.each([
    ['not JSON', 'not json'],
    ['a JSON string', JSON.stringify(c)],
    ['a missing agent', JSON.stringify({ c })],
    ['a non-UUID command id', JSON.stringify({ c: 'x', a })],
    ['a number for an id', JSON.stringify({ c: 1, a })],
    ['an empty payload', ''],
  ])('ignores %s', (_label, payload) => {
    expect(parseCommandNotification(payload)).toBeUndefined();
  });
});
