import { describe, expect, it } from 'vitest';
import { createRedactor } from '@z4j/redaction';
import type { JsonObject } from '@z4j/protocol';
import { createEventRedaction } from './event-redaction.js';

const redact = createEventRedaction(createRedactor());

describe('createEventRedaction', () => {
  it('keeps Celery node names that look like e-mail addresses, and hands back the very event when nothing else changed', () => {
    const event: JsonObject = { kind: 'task.started', data: { worker: 'celery@ip-10-0-1-23.ec2.internal', task_name: 'app.add' } };
    expect(redact(event)).toBe(event);
  });

  it('still redacts the rest of an event that carries a node name', () => {
    const event: JsonObject = {
      kind: 'task.received',
      data: { hostname: 'celery@worker.example.com', kwargs: { password: 'hunter2', to: 'someone@example.com' } },
    };
    const redacted = redact(event) as JsonObject;
    expect(redacted).not.toBe(event);
    expect(redacted.data).toEqual({ hostname: 'celery@worker.example.com', kwargs: { password: '[REDACTED]', to: '[REDACTED]' } });
  });
});
