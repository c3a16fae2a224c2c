import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { purgeConfirmToken } from './purge-confirm.js';

describe('purgeConfirmToken', () => {
  it('is HMAC-SHA256("z4j-purge-confirm-v1", "<queue>\\n<depth>") truncated to 32 hex digits', async () => {
    const expected = createHmac('sha256', 'z4j-purge-confirm-v1').update('emails\n17').digest('hex').slice(0, 32);
    expect(await purgeConfirmToken('emails', 17)).toBe(expected);
  });

  it('changes with the depth and with the queue', async () => {
    const base = await purgeConfirmToken('emails', 17);
    expect(await purgeConfirmToken('emails', 18)).not.toBe(base);
    expect(await purgeConfirmToken('emails2', 17)).not.toBe(base);
  });

  it('refuses a depth that is not a non-negative integer', async () => {
    await expect(purgeConfirmToken('q', -1)).rejects.toThrow(RangeError);
    await expect(purgeConfirmToken('q', 1.5)).rejects.toThrow(RangeError);
  });
});
