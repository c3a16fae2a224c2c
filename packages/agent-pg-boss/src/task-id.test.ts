import { describe, expect, it } from 'vitest';
import { CommandError } from '@z4j/agent';
import { parseTaskId, taskIdOf } from './task-id.js';

const ID = '0b6e7c56-8f0f-4c4d-9d7a-6a3f0f3f6c1e';

describe('task ids', () => {
  it('round-trips, splitting at the last colon so queue names may contain one', () => {
    expect(parseTaskId(taskIdOf('mail', ID))).toEqual({ queue: 'mail', jobId: ID });
    expect(parseTaskId(taskIdOf('billing:v2', ID))).toEqual({ queue: 'billing:v2', jobId: ID });
  });

  it.each(['', ID, `:${ID}`, 'mail:42', 'mail:'])('refuses %j', (taskId) => {
    expect(() => parseTaskId(taskId)).toThrow(CommandError);
    expect(() => parseTaskId(taskId)).toThrow(/invalid|expected/);
  });
});
