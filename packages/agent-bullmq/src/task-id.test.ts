import { describe, expect, it } from 'vitest';
import { CommandError } from '@z4j/agent';
import { delayFromEta, jobData } from './job-data.js';
import { exceptionName, streamTime } from './job-event-mapper.js';
import { parseQueueRef, parseTaskId, taskIdOf } from './task-id.js';

describe('task ids', () => {
  it('round-trips <queue>:<job id>, splitting at the first colon (queue names cannot contain one)', () => {
    expect(parseTaskId(taskIdOf('mail', 'repeat:nightly:1700000000000'))).toEqual({ queue: 'mail', jobId: 'repeat:nightly:1700000000000' });
    expect(parseQueueRef('mail:nightly', 'schedule name')).toEqual({ queue: 'mail', id: 'nightly' });
    for (const bad of ['42', ':42', 'mail:']) {
      expect(() => parseTaskId(bad)).toThrow(CommandError);
    }
    expect(() => parseQueueRef('x', 'schedule name')).toThrow(/^expected a schedule name "<queue>:<id>"/);
  });
});

describe('job data from command parameters', () => {
  it('takes args[0] or kwargs as the one data value, and refuses anything else', () => {
    expect(jobData([{ to: 'a' }], {})).toEqual({ to: 'a' });
    expect(jobData([], { to: 'a' })).toEqual({ to: 'a' });
    expect(jobData(null, null)).toEqual({});
    expect(jobData([7], undefined)).toBe(7);
    expect(() => jobData([1, 2], {})).toThrow(/one data value/);
    expect(() => jobData([1], { a: 1 })).toThrow(/one data value/);
  });

  it('reads eta as seconds from now or an ISO time', () => {
    expect(delayFromEta(30, 1_000)).toBe(30_000);
    expect(delayFromEta(new Date(61_000).toISOString(), 1_000)).toBe(60_000);
    expect(delayFromEta(new Date(0).toISOString(), 1_000)).toBe(0);
    expect(delayFromEta(null, 1_000)).toBe(0);
    expect(() => delayFromEta('tomorrow-ish', 1_000)).toThrow(/eta must be/);
  });
});

describe('event details', () => {
  it('names the exception from the stack’s first line and dates events by the stream entry id', () => {
    expect(exceptionName('RangeError: too big\n    at f (x.js:1:1)')).toBe('RangeError');
    expect(exceptionName('UnrecoverableError\n    at f')).toBe('UnrecoverableError');
    expect(exceptionName('   weird text')).toBe('Error');
    expect(exceptionName(undefined)).toBe('Error');
    expect(streamTime('1700000000123-4').getTime()).toBe(1_700_000_000_123);
  });
});
