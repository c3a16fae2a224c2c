import { describe, expect, it } from 'vitest';
import { describeError, failureEvent, handlerBudgetMs } from './job-events.js';

describe('job events', () => {
  it('reports a failure as retried while pg-boss will retry it, as failed after the last attempt', () => {
    const [retried, retriedData] = failureEvent({ name: 'mail', retryCount: 0, retryLimit: 2 }, new RangeError('boom'), 'w', 5);
    expect(retried).toBe('task.retried');
    expect(retriedData).toMatchObject({
      task_name: 'mail',
      queue: 'mail',
      worker: 'w',
      retry_count: 1,
      reason: 'boom',
      exception: 'RangeError',
    });
    const [failed, failedData] = failureEvent({ name: 'mail', retryCount: 2, retryLimit: 2 }, new RangeError('boom'), 'w', 5);
    expect(failed).toBe('task.failed');
    expect(failedData).toMatchObject({ retry_count: 2, runtime_ms: 5, exception: 'RangeError', exception_message: 'boom' });
    expect(failedData).toHaveProperty('traceback', expect.stringContaining('RangeError: boom'));
  });

  it('names subclass errors by their constructor and non-errors by their type', () => {
    class QuotaExceeded extends Error {}
    expect(describeError(new QuotaExceeded('q')).exception).toBe('QuotaExceeded');
    expect(describeError(Object.assign(new Error('t'), { name: 'TimeoutError' })).exception).toBe('TimeoutError');
    expect(describeError('nope')).toEqual({ exception: 'string', exception_message: 'nope' });
  });

  it('gives the handler a little less than pg-boss does before it fails the batch', () => {
    expect(handlerBudgetMs([{ expireInSeconds: 900 }])).toBe(899_750);
    expect(handlerBudgetMs([{ expireInSeconds: 1 }, { expireInSeconds: 0 }])).toBe(900);
    expect(handlerBudgetMs([{ expireInSeconds: '2' as unknown as number }])).toBe(1_800);
  });
});
