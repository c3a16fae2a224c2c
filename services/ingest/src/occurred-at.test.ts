import { describe, expect, it } from 'vitest';
import {
  clampOccurredMicros,
  formatMicros,
  OCCURRED_AT_FUTURE_LIMIT_MICROS,
  OCCURRED_AT_PAST_LIMIT_MICROS,
  parseTimestampMicros,
} from './occurred-at.js';

describe('parseTimestampMicros', () => {
  it('reads Python isoformat (+00:00) and the Z form to the microsecond', () => {
    expect(parseTimestampMicros('2026-11-22T22:57:51.313403+00:00')).toBe(1795388271313403);
    expect(parseTimestampMicros('2026-11-22T22:57:51.313403Z')).toBe(1795388271313403);
    expect(parseTimestampMicros('2026-11-22T22:57:51Z')).toBe(1795388271000000);
    expect(parseTimestampMicros('2026-11-22T22:57:51.3Z')).toBe(1795388271300000);
    // Beyond microseconds is truncated.
    expect(parseTimestampMicros('2026-11-22T22:57:51.313403999Z')).toBe(1795388271313403);
  });

  it('applies offsets and reads a naive timestamp as UTC, like the original', () => {
    expect(parseTimestampMicros('2026-11-23T00:57:51.313403+02:00')).toBe(1795388271313403);
    expect(parseTimestampMicros('2026-11-22T20:27:51.313403-0230')).toBe(1795388271313403);
    expect(parseTimestampMicros('2026-11-22T22:57:51.313403')).toBe(1795388271313403);
    expect(parseTimestampMicros('2026-11-22 22:57:51.313403+00:00')).toBe(1795388271313403);
  });

  it('refuses what is not a timestamp', () => {
    for (const text of [
      '',
      'yesterday',
      '2026-13-01T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '2026-11-31T00:00:00Z',
      '2026-11-22T24:00:00Z',
      '2026-11-22T22:57:51+25:00',
      '1795388271',
    ]) {
      expect(parseTimestampMicros(text), text).toBeUndefined();
    }
    expect(parseTimestampMicros('2028-02-29T00:00:00Z')).toBe(Date.UTC(2028, 1, 29) * 1000);
  });
});

describe('clampOccurredMicros', () => {
  const received = Date.UTC(2026, 10, 22) * 1000;
  it('keeps [received - 400 d, received + 60 s] and clamps anything outside to received', () => {
    expect(clampOccurredMicros(received - OCCURRED_AT_PAST_LIMIT_MICROS, received)).toEqual({
      micros: received - OCCURRED_AT_PAST_LIMIT_MICROS,
      clamped: false,
    });
    expect(clampOccurredMicros(received - OCCURRED_AT_PAST_LIMIT_MICROS - 1, received)).toEqual({ micros: received, clamped: true });
    expect(clampOccurredMicros(received + OCCURRED_AT_FUTURE_LIMIT_MICROS, received)).toEqual({
      micros: received + OCCURRED_AT_FUTURE_LIMIT_MICROS,
      clamped: false,
    });
    expect(clampOccurredMicros(received + OCCURRED_AT_FUTURE_LIMIT_MICROS + 1, received)).toEqual({ micros: received, clamped: true });
  });
});

describe('formatMicros', () => {
  it('round-trips through parseTimestampMicros with all six fraction digits', () => {
    expect(formatMicros(1795388271313403)).toBe('2026-11-22T22:57:51.313403Z');
    expect(formatMicros(1795388271000001)).toBe('2026-11-22T22:57:51.000001Z');
    for (const micros of [0, 1, 999_999, 1_795_388_271_313_403, -1]) expect(parseTimestampMicros(formatMicros(micros))).toBe(micros);
  });
});

describe('parseTimestampMicros fast path', () => {
  it('reads every UTC spelling the same as the full parser, fraction lengths 0 to 6', () => {
    const second = Date.UTC(2026, 10, 22, 22, 57, 51) * 1000;
    expect(parseTimestampMicros('2026-11-22T22:57:51Z')).toBe(second);
    expect(parseTimestampMicros('2026-11-22T22:57:51+00:00')).toBe(second);
    expect(parseTimestampMicros('2026-11-22T22:57:51.3Z')).toBe(second + 300_000);
    expect(parseTimestampMicros('2026-11-22T22:57:51.313+00:00')).toBe(second + 313_000);
    expect(parseTimestampMicros('2026-11-22T22:57:51.313403+00:00')).toBe(second + 313_403);
    expect(parseTimestampMicros('2026-11-22T22:57:52.000001Z')).toBe(second + 1_000_001);
    // The cached second must not leak into another second, day or malformed input.
    expect(parseTimestampMicros('2026-11-23T22:57:51.000000Z')).toBe(second + 86_400_000_000);
    expect(parseTimestampMicros('2026-11-22T22:57:51.31a403Z')).toBeUndefined();
    expect(parseTimestampMicros('2026-02-30T22:57:51.000000Z')).toBeUndefined();
    expect(parseTimestampMicros('2026-11-22T22:57:51.Z')).toBeUndefined();
    expect(parseTimestampMicros('2026-11-22T22:57:51.1234567Z')).toBe(second + 123_456);
  });
});
