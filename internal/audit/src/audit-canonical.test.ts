// The audit_chain vectors of shared/spec/vectors.json reproduced byte for byte, plus the truncation, outcome and
// timestamp rules of §6.2. The file sits beside the repository checkout; if it is missing this suite fails.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalJson, parseJson, type JsonObject } from '@z4j/protocol';
import {
  buildAuditCanonicalFields,
  computeRowHmac,
  defaultAuditOutcome,
  truncateCodePoints,
  type AuditCanonicalFields,
  type AuditCanonicalInput,
} from './audit-canonical.js';
import { auditMicrosFromDate, formatAuditTimestamp, parseAuditTimestamp } from './audit-timestamp.js';

interface AuditVectors {
  master_secret: string;
  audit_chain: { rows: { fields: AuditCanonicalFields & JsonObject; row_hmac: string }[] };
}

// internal/audit/src/ -> ../../../ is the repo root; shared/ sits beside it.
const VECTORS_URL = new URL('../../../../shared/spec/vectors.json', import.meta.url);
const vectors = parseJson(readFileSync(VECTORS_URL, 'utf8')) as unknown as AuditVectors;

describe('audit_chain vectors', () => {
  it('has both rows, the second chained to the first', () => {
    expect(vectors.audit_chain.rows).toHaveLength(2);
    expect(vectors.audit_chain.rows[1]!.fields.prev_row_hmac).toBe(vectors.audit_chain.rows[0]!.row_hmac);
  });

  it.each([0, 1])('row %i: rebuilding the fields and hashing them gives the recorded row_hmac', (index) => {
    const { fields, row_hmac: expected } = vectors.audit_chain.rows[index]!;
    // Built from the row's inputs, with the outcome left to its default and the time given as a Date.
    const input: AuditCanonicalInput = { ...fields, outcome: undefined, occurred_at: new Date('2026-01-01T12:00:00Z') };
    const built = buildAuditCanonicalFields(input);
    expect(canonicalJson(built)).toBe(canonicalJson(fields));
    expect(computeRowHmac(vectors.master_secret, built)).toBe(expected);
  });

  it('row 1: the exact canonical bytes', () => {
    const built = buildAuditCanonicalFields(vectors.audit_chain.rows[0]!.fields);
    expect(canonicalJson(built)).toBe(
      '{"action":"agent.token.minted","api_key_id":null,"event_id":null,"id":"0f0e0d0c-0b0a-4908-8706-050403020100",' +
        '"metadata":{"name":"worker-1"},"occurred_at":"2026-01-01T12:00:00.000000+00:00","outcome":"allow","prev_row_hmac":null,' +
        '"project_id":"11111111-2222-4333-8444-555555555555","result":"success","source_ip":"127.0.0.1",' +
        '"target_id":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee","target_type":"agent","user_agent":null,' +
        '"user_id":"22222222-3333-4444-8555-666666666666","version":1}',
    );
  });
});

describe('buildAuditCanonicalFields', () => {
  const base: AuditCanonicalInput = {
    id: '0f0e0d0c-0b0a-4908-8706-050403020100',
    action: 'a',
    target_type: 't',
    target_id: null,
    result: 'success',
    event_id: null,
    user_id: null,
    api_key_id: null,
    project_id: null,
    source_ip: null,
    user_agent: null,
    occurred_at: '2026-01-01T12:00:00.123456+00:00',
    prev_row_hmac: null,
  };

  it('truncates by code points like Python slicing, and is idempotent', () => {
    const astral = '😀'.repeat(100);
    const fields = buildAuditCanonicalFields({
      ...base,
      action: astral,
      target_type: 'x'.repeat(41),
      target_id: 'é'.repeat(201),
      result: 'r'.repeat(21),
      user_agent: 'u'.repeat(1000) + '😀'.repeat(30),
    });
    expect([...fields.action]).toHaveLength(80);
    expect(fields.action).toBe('😀'.repeat(80));
    expect(fields.target_type).toHaveLength(40);
    expect(fields.target_id).toBe('é'.repeat(200));
    expect(fields.result).toHaveLength(20);
    expect(fields.user_agent).toBe('u'.repeat(1000) + '😀'.repeat(24));
    expect(buildAuditCanonicalFields(fields)).toEqual(fields);
    expect(truncateCodePoints('ab😀c', 3)).toBe('ab😀');
    expect(truncateCodePoints('abc', 3)).toBe('abc');
  });

  it('defaults the outcome from the result, keeps an explicit one, and metadata to {}', () => {
    expect(defaultAuditOutcome('success')).toBe('allow');
    expect(defaultAuditOutcome('failed')).toBe('failure');
    expect(defaultAuditOutcome('anything')).toBe('error');
    expect(buildAuditCanonicalFields({ ...base, result: 'failed' }).outcome).toBe('failure');
    expect(buildAuditCanonicalFields({ ...base, result: 'failed', outcome: 'deny' }).outcome).toBe('deny');
    expect(buildAuditCanonicalFields(base).metadata).toEqual({});
  });

  it('keeps microseconds given as text, pads a Date to six digits, and refuses other timestamp forms', () => {
    expect(buildAuditCanonicalFields(base).occurred_at).toBe('2026-01-01T12:00:00.123456+00:00');
    expect(buildAuditCanonicalFields({ ...base, occurred_at: new Date('2026-03-04T05:06:07.089+02:00') }).occurred_at).toBe(
      '2026-03-04T03:06:07.089000+00:00',
    );
    expect(() => buildAuditCanonicalFields({ ...base, occurred_at: '2026-01-01T12:00:00.123Z' })).toThrow(/canonical audit timestamp/);
    expect(() => buildAuditCanonicalFields({ ...base, occurred_at: '2026-02-30T12:00:00.000000+00:00' })).toThrow(/not a valid date/);
  });

  it('changes the hmac when any signed field or the key changes', () => {
    const fields = buildAuditCanonicalFields(base);
    const hmac = computeRowHmac('k'.repeat(32), fields);
    expect(hmac).toMatch(/^[0-9a-f]{64}$/);
    expect(computeRowHmac('k'.repeat(33), fields)).not.toBe(hmac);
    expect(computeRowHmac('k'.repeat(32), { ...fields, occurred_at: '2026-01-01T12:00:00.123457+00:00' })).not.toBe(hmac);
    expect(computeRowHmac('k'.repeat(32), { ...fields, prev_row_hmac: hmac })).not.toBe(hmac);
  });
});

describe('audit timestamps', () => {
  it('round-trip through microseconds', () => {
    const micros = parseAuditTimestamp('2026-01-01T12:00:00.000001+00:00');
    expect(micros).toBe(1_767_268_800_000_001n);
    expect(formatAuditTimestamp(micros)).toBe('2026-01-01T12:00:00.000001+00:00');
    expect(formatAuditTimestamp(micros + 999_999n)).toBe('2026-01-01T12:00:01.000000+00:00');
    expect(auditMicrosFromDate(new Date('2026-01-01T12:00:00.001Z'))).toBe(1_767_268_800_001_000n);
    expect(formatAuditTimestamp(-1n)).toBe('1969-12-31T23:59:59.999999+00:00');
  });
});
