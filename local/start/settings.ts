/**
 * The app settings `npm start` gives the local host, composed in one pure function so the rules are
 * testable: defaults from core/config, then the user's local.settings.json Values, then the process
 * environment, then what the simulator dictates (its environment, its subscription, environment auth,
 * the secretEvents webhook on the local host).
 */
import { existsSync, readFileSync } from 'node:fs';
import { CONFIG_SETTINGS, loadConfig, type AppConfig } from '../../core/config';
import { ValidationError } from '../../core/errors';

export type Env = Record<string, string | undefined>;

/** Values of local.settings.json ({} when the file does not exist); a malformed file is an error naming it. */
export function readLocalSettingsValues(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ValidationError(`${file} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, {
      field: 'local.settings.json',
    });
  }
  const values = (parsed as { Values?: unknown } | null)?.Values;
  if (values === undefined) return {};
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new ValidationError(`${file}: "Values" must be an object of string settings`, { field: 'local.settings.json' });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== null && v !== undefined) out[k] = String(v);
  return out;
}

/** Settings the user may override: every ADE_* setting core/config knows, plus any other ADE_* (forward compatible). */
function isAppSetting(name: string): boolean {
  return name.startsWith('ADE_');
}

function defaults(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of CONFIG_SETTINGS) if (isAppSetting(s.name) && s.default !== undefined && s.default !== '') out[s.name] = s.default;
  return out;
}

function userOverrides(localValues: Record<string, string>, env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(localValues)) if (isAppSetting(k) && v.trim() !== '') out[k] = v;
  for (const [k, v] of Object.entries(env)) if (isAppSetting(k) && v !== undefined && v.trim() !== '') out[k] = v;
  return out;
}

/**
 * Defaults only `npm start` applies (the user's values win): the simulator's sped-up operations finish in
 * seconds, so the app polls every 5 s instead of Azure's 30 s minimum. A setting, not a clock: all run on real time.
 */
export const LOCAL_APP_DEFAULTS: Readonly<Record<string, string>> = { ADE_LOCAL_POLL_SECONDS: '5' };

export interface SimulatorSettingsInput {
  localValues: Record<string, string>;
  env: Env;
  /** The simulator's client environment (proxy, CA, AZURE_* of the automation principal). */
  simEnv: Record<string, string>;
  subscriptionId: string;
  /** Base URL of the local host, e.g. http://127.0.0.1:7071. */
  hostUrl: string;
  /** The host's eventgrid_extension system key (goes only into the webhook URL setting, never printed by this module). */
  eventGridKey: string;
}

/**
 * App settings for the host on the simulator. The simulator has exactly one subscription and one
 * automation principal, so ADE_SUBSCRIPTIONS, ADE_AUTH_MODE and the AZURE_* credentials are not
 * overridable here; everything else (mode, KEK, vault strategy, timeouts, …) is the user's choice.
 */
export function simulatorAppSettings(input: SimulatorSettingsInput): Record<string, string> {
  return {
    ...defaults(),
    ...LOCAL_APP_DEFAULTS,
    ...userOverrides(input.localValues, input.env),
    ...input.simEnv,
    ADE_SUBSCRIPTIONS: input.subscriptionId,
    ADE_AUTH_MODE: 'environment',
    ADE_SECRET_EVENTS_WEBHOOK_URL:
      `${input.hostUrl}/runtime/webhooks/eventgrid?functionName=secretEvents` + `&code=${encodeURIComponent(input.eventGridKey)}`,
  };
}

/** Variables of the simulator that must not leak into a run against real Azure. */
const SIMULATOR_ONLY = ['AZURE_SIM_URL', 'AZURE_SIM_MANAGED_IDENTITY_CLIENT_ID'];

/**
 * App settings for `--azure`: local.settings.json Values under the process environment (as the host
 * itself merges them), environment auth unless the user chose otherwise.
 */
export function azureAppSettings(localValues: Record<string, string>, env: Env): Record<string, string> {
  const out: Record<string, string> = { ...defaults(), ADE_AUTH_MODE: 'environment' };
  for (const [k, v] of Object.entries(localValues)) if (v.trim() !== '') out[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') out[k] = v;
  for (const k of SIMULATOR_ONLY) delete out[k];
  return out;
}

/**
 * Validates settings for `--azure` with the app's own loadConfig (so the launcher and the app agree),
 * plus what only matters outside Azure: managed identity needs an identity endpoint, which a
 * developer machine does not have. Throws a ValidationError listing every problem; secret values are
 * never part of the message.
 */
export function checkAzureSettings(settings: Env): AppConfig {
  let config: AppConfig | undefined;
  const problems: string[] = [];
  try {
    config = loadConfig(settings);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  const mode = settings.ADE_AUTH_MODE?.trim().toLowerCase();
  if (mode === 'managed-identity' && !settings.IDENTITY_ENDPOINT && !settings.MSI_ENDPOINT) {
    problems.push(
      'ADE_AUTH_MODE=managed-identity needs a managed identity endpoint (IDENTITY_ENDPOINT), which exists ' +
        'only on Azure compute; use ADE_AUTH_MODE=environment with AZURE_TENANT_ID, AZURE_CLIENT_ID and ' +
        'AZURE_CLIENT_SECRET locally',
    );
  }
  if (problems.length > 0 || !config) {
    throw new ValidationError(
      `npm start -- --azure cannot start: settings are missing or invalid (set them in the environment or ` +
        `in local.settings.json "Values"):\n${problems.join('\n')}`,
      { field: 'settings' },
    );
  }
  return config;
}
