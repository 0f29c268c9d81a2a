// The config module's public surface, for the daemon and the provisioning side.
export * from './schema.ts';
export * from './errors.ts';
export * from './defaults.ts';
export { validateConfig, type ValidationResult } from './validate.ts';
export { redactConfig, SECRET_PLACEHOLDER } from './redact.ts';
export {
  loadConfig, saveConfig, readConfigFile, parseConfigText, writeFileAtomic, cleanupTempFiles, lkgPathFor, describeConfigError,
  MAX_CONFIG_BYTES, CONFIG_FILE_MODE, type LoadedConfig, type SaveResult, type ValidatedFile,
} from './store.ts';
export { parseJsonText, type JsonParseResult } from './json.ts';
export { parseIdentity, type Identity, type IdentityType } from './identity.ts';
export * from './net.ts';
