import { describeGot } from './config-error.js';
import type { ConfigSource, ResolvedConfig } from './resolve-config.js';
import { settingKey, VARIABLE_NAMES, variableSpec, type SettingsSection, type VariableName } from './settings-schema.js';

/** One row of `z4j config show` / the admin "effective settings" page. */
export interface EffectiveSetting {
  readonly name: VariableName;
  readonly section: SettingsSection;
  /** The value as text (lists and objects as JSON); secrets as `<redacted, N bytes>` unless revealed; '' when unset. */
  readonly value: string;
  readonly source: ConfigSource;
  /** The literal default, or how it is derived, or undefined when the setting is simply optional. */
  readonly default: string | undefined;
  readonly secret: boolean;
  readonly description: string;
}

function display(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Every variable with its effective value and where it came from, in table
 * order. Secrets are masked unless `revealSecrets` (`config show
 * --reveal-secrets`); the admin page must never pass it.
 */
export function describeEffectiveSettings(config: ResolvedConfig, options: { readonly revealSecrets?: boolean } = {}): EffectiveSetting[] {
  const values = config.settings as unknown as Readonly<Record<string, unknown>>;
  return VARIABLE_NAMES.map((name) => {
    const spec = variableSpec(name);
    const secret = spec.secret === true;
    const text = display(values[settingKey(name)]);
    return {
      name,
      section: spec.section,
      value: secret && !options.revealSecrets && text !== '' ? describeGot(text, true) : text,
      source: config.sources[name],
      default: spec.default ?? spec.defaultNote,
      secret,
      description: spec.description,
    };
  });
}
