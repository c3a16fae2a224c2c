import type { JsonObject, JsonValue } from '@z4j/protocol';
import type { Redactor } from '@z4j/redaction';

/**
 * Fields that name infrastructure, not user data, and that the brain joins
 * on: Celery node names look like e-mail addresses (`celery@ip-10-0-1-23.ec2.internal`)
 * and would otherwise be redacted, breaking the workers view.
 */
const IDENTITY_FIELDS = ['worker', 'worker_name', 'hostname'] as const;
const NODE_NAME = /^[\w.-]{1,200}@[\w.-]{1,253}$/;

/** Redacts a whole raw event, keeping `data.worker`-style node names readable. */
export function createEventRedaction(redactor: Redactor): (event: JsonValue) => JsonValue {
  return (event) => {
    const data = isObject(event) && isObject(event.data) ? event.data : undefined;
    const kept = data ? IDENTITY_FIELDS.filter((field) => typeof data[field] === 'string' && NODE_NAME.test(data[field])) : [];
    const redacted = redactor.redact(event).value;
    if (kept.length === 0 || !data || !isObject(redacted) || !isObject(redacted.data)) return redacted;
    const restored: JsonObject = { ...redacted.data };
    for (const field of kept) restored[field] = data[field] as string;
    return { ...redacted, data: restored };
  };
}

/** A JSON object (not an array, not a JsonFloat). */
function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
