import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashTrustedDeviceId, mintTrustedDevice, trustedDeviceExpiresAt } from './trusted-device.js';

describe('trusted devices', () => {
  it('mints a 32-byte base64url id and stores its SHA-256 hex', () => {
    const { deviceId, deviceHash } = mintTrustedDevice();
    expect(deviceId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(deviceId, 'base64url')).toHaveLength(32);
    expect(deviceHash).toBe(createHash('sha256').update(deviceId).digest('hex'));
    expect(hashTrustedDeviceId(deviceId)).toBe(deviceHash);
    expect(mintTrustedDevice().deviceId).not.toBe(deviceId);
  });

  it('hashes a known id to its known SHA-256', () => {
    expect(hashTrustedDeviceId('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('expires after the remember-device days', () => {
    expect(trustedDeviceExpiresAt(new Date('2026-01-01T00:00:00Z'), 30)).toEqual(new Date('2026-01-31T00:00:00Z'));
  });
});
