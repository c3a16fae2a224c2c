import type { Settings } from '@z4j/config';
import { describe, expect, it } from 'vitest';
import * as identity from './index.js';
import type { Argon2Costs, LoginBackoffSettings, LoginLockoutSettings, PasswordPolicyOptions } from './index.js';

// The option types reuse the resolved settings' key names and units, so the
// composition root can pass `config.settings` straight in. If a setting is
// renamed, these assignments stop compiling (`tsc -p tsconfig.json`).
type SettingsSlice = Argon2Costs & LoginBackoffSettings & LoginLockoutSettings & Pick<PasswordPolicyOptions, 'passwordMinLength'>;
const _settingsFit = (settings: Settings): SettingsSlice => settings;
const _secretsFit = (settings: Settings): identity.SecretBoxKeys & identity.ApiKeySecrets & identity.SessionSecrets => settings;
const _recoveryCount = (settings: Settings): number => settings.mfaRecoveryCodeCount;

describe('@z4j/identity', () => {
  it('exports the primitives', () => {
    for (const name of [
      'hashPassword',
      'verifyPassword',
      'verifyAgainstDummy',
      'needsRehash',
      'checkPasswordPolicy',
      'describePasswordPolicy',
      'canonicalizeEmail',
      'verifyTotp',
      'totpProvisioningUrl',
      'sealTotpSecret',
      'openTotpSecret',
      'generateRecoveryCodes',
      'verifyRecoveryCode',
      'mintApiKey',
      'hashApiKey',
      'parseBearerApiKey',
      'signSessionCookie',
      'verifySessionCookie',
      'sessionExpiry',
      'mintTrustedDevice',
      'loginFailureDelaySeconds',
      'loginLockoutDecision',
    ] as const) {
      expect(typeof identity[name]).toBe('function');
    }
  });
});
