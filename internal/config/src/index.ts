/**
 * `@z4j/config`: every `Z4J_*` setting of the brain, read from four layers
 * (process env > ./.env > $Z4J_HOME/config.env > $Z4J_HOME/secret.env),
 * validated by one valibot schema built from one table.
 *
 * Typical composition root:
 *   const home = resolveHome(process.env);
 *   let layers = readConfigLayers({ env: process.env, cwd: process.cwd(), home });
 *   if (embedded) { ensureEmbeddedSecrets({ home, layers, mintMetricsToken: true }); layers = readConfigLayers(...); }
 *   const config = resolveConfig(layers); // throws ConfigError with one line naming the variable
 */
export { ConfigError, isConfigError, describeGot, type ConfigIssue } from './config-error.js';
export {
  SETTING_VARIABLES,
  VARIABLE_NAMES,
  createSettingsSchema,
  settingKey,
  settingsSchema,
  variableSpec,
  type ParsedSettings,
  type SettingKey,
  type Settings,
  type SettingsInput,
  type SettingsSection,
  type VariableName,
  type VariableSpec,
} from './settings-schema.js';
export type { LogLevel } from './field-kinds.js';
export {
  LAYER_ORDER,
  resolveConfig,
  type ConfigLayer,
  type ConfigLayers,
  type ConfigSource,
  type EmbeddedConfig,
  type PostgresConfig,
  type ResolveConfigOptions,
  type ResolvedConfig,
} from './resolve-config.js';
export { isProduction, type ConfigMode } from './cross-field-rules.js';
export { readConfigLayers, resolveHome, type ReadConfigLayersOptions } from './config-sources.js';
export {
  ensureEmbeddedSecrets,
  mintSecret,
  readSecretFile,
  rotateMetricsToken,
  secretFilePath,
  type EnsureEmbeddedSecretsOptions,
  type EnsureEmbeddedSecretsResult,
} from './secret-file.js';
export { describeEffectiveSettings, type EffectiveSetting } from './effective-settings.js';
