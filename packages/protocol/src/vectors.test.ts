// Every known-answer vector of shared/spec/vectors.json (except the audit
// chain, which belongs to the audit module), reproduced byte for byte. The
// file sits beside the repository checkout; if it is missing this suite fails.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';
import { parseJson } from './json-parse.js';
import type { JsonObject } from './json-value.js';
import { decodeHmacSecret, deriveProjectSecret, encodeHmacSecret, hashAgentToken, uuidToBytesLE } from './secrets.js';
import { computeFrameHmac, FrameVerifier, signingInput } from './signing.js';

interface Vectors {
  master_secret: string;
  project_secret: {
    project_id: string;
    project_uuid_bytes_le_hex: string;
    secret_hex: string;
    secret_b64url_padded: string;
  }[];
  agent_token_hash: { token: string; hash_hex: string };
  signed_frame: {
    project_id: string;
    agent_id: string;
    session_id: string;
    wire_frame_without_hmac: JsonObject;
    canonical_bytes_utf8: string;
    hmac_hex: string;
  };
  python_float_repr: { cases: [string, string][] };
}

// packages/protocol/src/ -> ../../../ is the repo root; shared/ sits beside it.
const VECTORS_URL = new URL('../../../../shared/spec/vectors.json', import.meta.url);
const raw = readFileSync(VECTORS_URL, 'utf8'); // throws (fails the suite) if the file is missing
const vectors = parseJson(raw) as unknown as Vectors;

describe('vectors.json', () => {
  it('is present and has every section this package owns', () => {
    expect(vectors.project_secret.length).toBeGreaterThanOrEqual(2);
    expect(vectors.agent_token_hash.hash_hex).toMatch(/^[0-9a-f]{64}$/);
    expect(vectors.signed_frame.hmac_hex).toMatch(/^[0-9a-f]{64}$/);
    expect(vectors.python_float_repr.cases.length).toBeGreaterThan(0);
  });

  describe.each(vectors.project_secret)('project secret for $project_id', (v) => {
    it('has the bytes_le layout', () => {
      expect(uuidToBytesLE(v.project_id).toString('hex')).toBe(v.project_uuid_bytes_le_hex);
    });
    it('derives the secret (hex and padded URL-safe base64)', () => {
      const secret = deriveProjectSecret(vectors.master_secret, v.project_id);
      expect(secret.toString('hex')).toBe(v.secret_hex);
      expect(encodeHmacSecret(secret)).toBe(v.secret_b64url_padded);
    });
    it('decodes the agent-side hmac_secret, with or without padding', () => {
      expect(decodeHmacSecret(v.secret_b64url_padded).toString('hex')).toBe(v.secret_hex);
      expect(decodeHmacSecret(v.secret_b64url_padded.replace(/=+$/, '')).toString('hex')).toBe(v.secret_hex);
    });
  });

  it('hashes the agent token', () => {
    expect(hashAgentToken(vectors.master_secret, vectors.agent_token_hash.token)).toBe(vectors.agent_token_hash.hash_hex);
  });

  describe('signed frame', () => {
    const sf = vectors.signed_frame;
    const binding = { agentId: sf.agent_id, projectId: sf.project_id, sessionId: sf.session_id };
    const secret = deriveProjectSecret(vectors.master_secret, sf.project_id);

    it('canonicalises the envelope to the exact bytes', () => {
      expect(signingInput(sf.wire_frame_without_hmac, binding)).toBe(sf.canonical_bytes_utf8);
    });

    it('computes the HMAC', () => {
      expect(computeFrameHmac(secret, sf.wire_frame_without_hmac, binding)).toBe(sf.hmac_hex);
    });

    it('verifies the frame as received on the wire', () => {
      const wire = JSON.stringify({ ...sf.wire_frame_without_hmac, hmac: sf.hmac_hex });
      const verifier = new FrameVerifier({ secret, binding, now: () => new Date('2026-01-01T00:00:30Z') });
      expect(() => verifier.verify(parseJson(wire) as JsonObject)).not.toThrow();
    });
  });

  it.each(vectors.python_float_repr.cases)('float token %s canonicalises to %s', (input, expected) => {
    expect(canonicalJson(parseJson(input))).toBe(expected);
  });
});
