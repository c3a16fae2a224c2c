/**
 * `@z4j/audit`: the append-only, HMAC-chained audit log (reference §6.2):
 * the canonical signed form, the serialised writer, chain verification
 * (`z4j audit verify`) and the retention sweep.
 */
export {
  AUDIT_FIELD_LIMITS,
  buildAuditCanonicalFields,
  computeRowHmac,
  defaultAuditOutcome,
  truncateCodePoints,
} from './audit-canonical.js';
export type { AuditCanonicalFields, AuditCanonicalInput, AuditOutcome } from './audit-canonical.js';
export { auditMicrosFromDate, formatAuditTimestamp, parseAuditTimestamp } from './audit-timestamp.js';
export { appendAuditRow, AUDIT_CHAIN_LOCK_KEY } from './audit-writer.js';
export type { AppendAuditRowOptions, AuditEntry, AuditRow } from './audit-writer.js';
export { MAX_AUDIT_VERIFY_LIMIT, verifyAuditChain } from './audit-verifier.js';
export type { AuditProblem, AuditProblemKind, VerifyAuditChainOptions, VerifyAuditChainResult } from './audit-verifier.js';
export { AUDIT_SWEEP_LOCK_NAME, sweepAuditRetention } from './audit-retention.js';
export type { SweepAuditRetentionOptions } from './audit-retention.js';
