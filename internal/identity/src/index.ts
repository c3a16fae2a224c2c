/**
 * `@z4j/identity`: the security primitives behind users, sessions, MFA and
 * API keys. Pure functions over their inputs (secrets, costs, clock); no
 * HTTP and no database: the API layer wires them to requests and tables.
 */
export {
  createDummyHash,
  createPasswordHasher,
  hashPassword,
  needsRehash,
  normalizePassword,
  verifyAgainstDummy,
  verifyPassword,
  type Argon2Costs,
  type PasswordHasher,
} from './password-hashing.js';
export {
  PASSWORD_MAX_LENGTH,
  checkPasswordPolicy,
  commonPasswordCount,
  describePasswordPolicy,
  isCommonPassword,
  type PasswordPolicyDescription,
  type PasswordPolicyOptions,
  type PasswordPolicyResult,
  type PasswordPolicyViolation,
} from './password-policy.js';
export { canonicalizeEmail, type CanonicalEmailResult } from './email-canonical.js';
export {
  TOTP_DIGITS,
  TOTP_PERIOD_SECONDS,
  TOTP_SECRET_BYTES,
  TOTP_WINDOW_STEPS,
  encodeTotpSecret,
  generateTotp,
  generateTotpSecret,
  decodeTotpSecret,
  totpIssuer,
  totpProvisioningUrl,
  totpTimeStep,
  verifyTotp,
  type TotpProvisioningOptions,
  type TotpVerifyResult,
  type VerifyTotpOptions,
} from './totp.js';
export { deriveTotpKey, openTotpSecret, sealTotpSecret, type OpenSecretResult, type SecretBoxKeys } from './secret-box.js';
export {
  RECOVERY_CODE_ALPHABET,
  generateRecoveryCodes,
  hashRecoveryCode,
  hashRecoveryCodes,
  normalizeRecoveryCode,
  verifyRecoveryCode,
} from './recovery-codes.js';
export {
  API_KEY_DISPLAY_PREFIX_LENGTH,
  API_KEY_TOKEN_PREFIX,
  apiKeyDisplayPrefix,
  apiKeyHashCandidates,
  hashApiKey,
  isApiKeyToken,
  mintApiKey,
  parseBearerApiKey,
  type ApiKeySecrets,
  type BearerParseResult,
  type MintedApiKey,
} from './api-key-token.js';
export {
  REMEMBER_ME_LIFETIME_SECONDS,
  cookieNames,
  csrfTokensMatch,
  isSecureOrigin,
  mintCsrfToken,
  sessionExpiry,
  signSessionCookie,
  verifySessionCookie,
  type CookieNames,
  type SessionCookieResult,
  type SessionExpiryOptions,
  type SessionExpiryResult,
  type SessionSecrets,
} from './session-cookie.js';
export {
  MAX_TRUSTED_DEVICES_PER_USER,
  hashTrustedDeviceId,
  mintTrustedDevice,
  trustedDeviceExpiresAt,
  type MintedTrustedDevice,
} from './trusted-device.js';
export {
  isLockedOut,
  loginFailureDelaySeconds,
  loginLockoutDecision,
  loginPaddingMs,
  type LockoutDecision,
  type LoginBackoffSettings,
  type LoginLockoutSettings,
} from './login-throttle.js';
