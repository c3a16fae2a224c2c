import { describe, expect, it } from 'vitest';
import { jobData, startAfterOf } from './job-data.js';

describe('job data', () => {
  it('maps args: [data] or kwargs alone onto the one data value', () => {
    expect(jobData([{ to: 'a' }], {})).toEqual({ to: 'a' });
    expect(jobData([], { to: 'a' })).toEqual({ to: 'a' });
    expect(jobData(undefined, undefined)).toEqual({});
    expect(() => jobData([1, 2], {})).toThrow(/one data value/);
    expect(() => jobData([1], { a: 1 })).toThrow(/one data value/);
  });

  it('turns an eta into pg-boss startAfter', () => {
    expect(startAfterOf(undefined)).toBeUndefined();
    expect(startAfterOf(0)).toBeUndefined();
    expect(startAfterOf(2.5)).toBe(3);
    expect(startAfterOf('2030-01-01T00:00:00Z')).toEqual(new Date('2030-01-01T00:00:00Z'));
    expect(() => startAfterOf('soon')).toThrow(/eta must be/);
  });
});
