/**
 * Every setting the app reads, validated once at start-up.
 *
 * `loadConfig` checks all settings and reports every problem in one ConfigError (fixing one setting
 * per deploy is miserable). Orchestrations never see AppConfig: trigger functions pass the
 * serialisable EncryptionPolicy from `toEncryptionPolicy` (and the remediation triggers pass heal
 * settings built from `AppConfig.remediation`).
 */
import { z } from 'zod';
import { ValidationError } from './errors';
import { isValidGlob } from './glob';
import { parseMaintenanceWindow } from './remediation/maintenance-window';
import {
  DEFAULT_POLICY_DEFINITION_IDS,
  HEAL_ACTIONS,
  ncrontabProblem,
  type HealAction,
  type RemediationSettings,
} from './remediation/settings';
import {
  isValidTagName,
  POLICY_LIMITS,
  POLICY_VERSION,
  policyConflicts,
  TAG_VALUE_MAX,
  VAULT_NAME_PREFIX,
  isManagementGroupName,
  VAULT_NAME_SALT,
  ENCRYPTION_MODES,
  type EncryptionMode,
  type EncryptionPolicy,
  type ExclusionTag,
  type KekAlgorithm,
  type KekSize,
  type OsFilter,
  type PolicyRuleField,
  type PolicyRuleFields,
  type PolicyScope,
  type VaultStrategy,
  type VolumeType,
} from './policy';
import { GUID_PATTERN, isGuid, isResourceGroupName } from './resource-ids';

export type AuthMode = 'managed-identity' | 'environment';
export type { HealAction, RemediationSettings } from './remediation/settings';

/** The Function App the code runs in, from ADE_FUNCTION_APP_RESOURCE_ID (set by infra/main.json). */
export interface FunctionAppSite {
  subscriptionId: string;
  resourceGroup: string;
  siteName: string;
}

/** Where Event Grid puts events it could not deliver, from ADE_DEAD_LETTER_CONTAINER_ID (set by infra/main.json). */
export interface DeadLetterContainer {
  /** Resource id of the storage account. */
  storageAccountId: string;
  containerName: string;
}

/** The settings that scope the app (subscriptions, resource groups, exclusion tag, OS): the policy's own scope. */
export interface AppConfig extends PolicyScope {
  /** ADE_SCOPE management groups (names); empty when none. */
  managementGroups: string[];
  encryptionMode: EncryptionMode;
  vaultStrategy: VaultStrategy;
  vaultResourceGroup: string;
  vaultNamePrefix: string;
  /** ADE_VAULT_NAME_SALT; absent = unsalted vault names. */
  vaultNameSalt?: string;
  softDeleteRetentionDays: number;
  purgeProtection: true;
  kekEnabled: boolean;
  kekSize: KekSize;
  kekAlgorithm: KekAlgorithm;
  volumeType: VolumeType;
  dryRun: boolean;
  secretEventTimeoutMinutes: number;
  orchestrationTimeoutMinutes: number;
  fallbackPollSeconds: number;
  tagOutcome: boolean;
  auth: {
    mode: AuthMode;
    /** User-assigned identity (managed-identity mode) or service principal (environment mode); absent = system-assigned. */
    clientId?: string;
  };
  /** Self-healing, drift remediation, sweeps and outcome events. */
  remediation: RemediationSettings;
  /**
   * Explicit webhook for the vaults' Key Vault event subscriptions (local host / simulator). It can carry
   * the Event Grid system key, so it is never logged nor put into durable history.
   */
  secretEventsWebhookUrl?: string;
  /** The app's own Function App (required in Azure); the secretEvents function's resource id is derived from it. */
  functionApp?: FunctionAppSite;
  /** Durable history upkeep (the historyPurge timer). */
  history: { retentionDays: number; purgeSchedule: string };
  /** Network rules of created vaults (trusted Azure services always bypass them). */
  vaultNetwork: { defaultAction: 'Allow' | 'Deny'; ipRules: string[] };
  /** Object id of the Backup Management Service principal that created vaults give Azure Backup's access policy. */
  vaultBackupPrincipalId?: string;
  /**
   * Log Analytics workspace (resource id) that every created vault's audit logs go to through a diagnostic setting
   * (ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID); absent: no diagnostic setting (Azure's default).
   */
  vaultDiagnosticsWorkspaceId?: string;
  /** Dead-letter container of the Event Grid subscriptions the app creates (each vault's Key Vault events). */
  deadLetter?: DeadLetterContainer;
  /**
   * ADE_EVENT_WIRING=auto: the app wires Resource Manager events itself in subscriptions discovered under ADE_SCOPE's
   * management groups (orchestrations/event-wiring.ts); absent when `off`.
   */
  eventWiring?: EventWiringSettings;
}

/** What the runtime event wiring needs, all from validated settings (never from orchestration input). */
export interface EventWiringSettings {
  /** ADE_EVENTS_IDENTITY_RESOURCE_ID: user-assigned identity put on created topics, which writes dead letters. */
  identityResourceId: string;
  /** ADE_EVENTS_LOCATION: region of the resource group the app creates for the topic when it does not exist. */
  location: string;
}

export interface ConfigSetting {
  name: string;
  description: string;
  default?: string;
  required: boolean;
  values: string;
  /**
   * `app`: an app setting in Azure (infra/main.json sets it from a parameter).
   * `local`: only for the local host / simulator; never set in Azure (the app derives what it needs there).
   */
  scope: 'app' | 'local';
}

/** Metadata for every setting; the README table and the infra template are checked against it. */
export const CONFIG_SETTINGS: ReadonlyArray<ConfigSetting> = [
  {
    name: 'ADE_ENCRYPTION_MODE',
    description:
      'ADE mode: dual-pass with an Entra app (aad) or the current single-pass mode; or encryption-at-host for new VMs ' +
      '(needs the subscription feature Microsoft.Compute/EncryptionAtHost; enabling deallocates the VM as ADE_HEAL_ACTION ' +
      'says; VMs on ADE are refused)',
    default: 'aad',
    required: false,
    values: '`aad` | `single-pass` | `encryption-at-host`',
    scope: 'app',
  },
  {
    name: 'ADE_VAULT_STRATEGY',
    description: 'One dedicated Key Vault per subscription+region, or one per VM',
    default: 'per-region',
    required: false,
    values: '`per-region` | `per-vm`',
    scope: 'app',
  },
  {
    name: 'ADE_VAULT_RESOURCE_GROUP',
    description: 'Resource group that holds the dedicated vaults',
    default: 'rg-ade-autopilot-vaults',
    required: false,
    values: 'resource group name (1–90 chars: letters, digits, _ ( ) - .; not ending in .)',
    scope: 'app',
  },
  {
    name: 'ADE_VAULT_NAME_PREFIX',
    description: 'Prefix of generated vault names',
    default: 'adeap',
    required: false,
    values: '2–8 chars, lower-case letter first, then lower-case letters/digits',
    scope: 'app',
  },
  {
    name: 'ADE_VAULT_NAME_SALT',
    description:
      'Per-deployment salt hashed into vault names, so nobody who knows a subscription id can take its vault names first ' +
      '(infra/main.json generates one); empty = unsalted, predictable names',
    default: '',
    required: false,
    values: '8–64 chars: letters, digits, hyphens, or empty',
    scope: 'app',
  },
  {
    name: 'ADE_SOFT_DELETE_RETENTION_DAYS',
    description: 'Soft-delete retention of created vaults, in days',
    default: '90',
    required: false,
    values: 'integer 7–90',
    scope: 'app',
  },
  {
    name: 'ADE_PURGE_PROTECTION',
    description: 'Purge protection on created vaults (cannot be turned off once on, so only true is accepted)',
    default: 'true',
    required: false,
    values: '`true`',
    scope: 'app',
  },
  {
    name: 'ADE_KEK_ENABLED',
    description: 'Wrap disk encryption secrets with a key encryption key (KEK)',
    default: 'true',
    required: false,
    values: '`true` | `false`',
    scope: 'app',
  },
  {
    name: 'ADE_KEK_SIZE',
    description: 'RSA size of the KEK; 2048 only when ADE_OS_FILTER=linux (Windows Server 2022 / Windows 11 need ≥ 3072)',
    default: '3072',
    required: false,
    values: '`2048` | `3072` | `4096`',
    scope: 'app',
  },
  {
    name: 'ADE_KEK_ALGORITHM',
    description: 'Key encryption algorithm passed to ADE',
    default: 'RSA-OAEP',
    required: false,
    values: '`RSA-OAEP`',
    scope: 'app',
  },
  {
    name: 'ADE_VOLUME_TYPE',
    description:
      'Volumes to encrypt (case-insensitive input); Data requires ADE_OS_FILTER=linux because Windows cannot encrypt data volumes alone',
    default: 'All',
    required: false,
    values: '`All` | `OS` | `Data`',
    scope: 'app',
  },
  {
    name: 'ADE_SUBSCRIPTIONS',
    description: 'Subscriptions in scope',
    required: true,
    values: 'comma-separated subscription GUIDs (at least one)',
    scope: 'app',
  },
  {
    name: 'ADE_SCOPE',
    description:
      'More scope: subscriptions, and management groups whose subscriptions (also under child groups) are discovered through ' +
      'Azure Resource Graph at start and every 15 minutes; adds to ADE_SUBSCRIPTIONS',
    default: '',
    required: false,
    values: 'comma-separated `/subscriptions/<guid>` and `/providers/Microsoft.Management/managementGroups/<id>`, or empty',
    scope: 'app',
  },
  {
    name: 'ADE_INCLUDE_RESOURCE_GROUPS',
    description: 'Resource groups in scope',
    default: '*',
    required: false,
    values: 'comma-separated glob patterns (`*`, `?`), case-insensitive',
    scope: 'app',
  },
  {
    name: 'ADE_EXCLUDE_RESOURCE_GROUPS',
    description: 'Resource groups excluded from scope (wins over include)',
    default: '',
    required: false,
    values: 'comma-separated glob patterns (`*`, `?`), case-insensitive',
    scope: 'app',
  },
  {
    name: 'ADE_EXCLUSION_TAG',
    description: 'VM tag that opts a VM out',
    default: 'ade-autopilot=skip',
    required: false,
    values: '`name=value` or `name` (any value)',
    scope: 'app',
  },
  {
    name: 'ADE_OS_FILTER',
    description: 'Operating systems in scope',
    default: 'all',
    required: false,
    values: '`all` | `windows` | `linux`',
    scope: 'app',
  },
  {
    name: 'ADE_DRY_RUN',
    description: 'Plan only: decide and report, change nothing',
    default: 'false',
    required: false,
    values: '`true` | `false`',
    scope: 'app',
  },
  {
    name: 'ADE_SECRET_EVENT_TIMEOUT_MINUTES',
    description: 'How long to wait for the Key Vault secret event before falling back to polling',
    default: '90',
    required: false,
    values: 'integer 5–1440',
    scope: 'app',
  },
  {
    name: 'ADE_ORCHESTRATION_TIMEOUT_MINUTES',
    description: 'Total time one VM encryption may take; must exceed the secret-event timeout',
    default: '360',
    required: false,
    values: 'integer 15–10080',
    scope: 'app',
  },
  {
    name: 'ADE_FALLBACK_POLL_SECONDS',
    description: 'Polling interval of the fallback status check; must be shorter than the secret-event timeout',
    default: '300',
    required: false,
    values: 'integer 30–3600',
    scope: 'app',
  },
  {
    name: 'ADE_TAG_OUTCOME',
    description: 'Record the outcome as VM tags',
    default: 'false',
    required: false,
    values: '`true` | `false`',
    scope: 'app',
  },
  {
    name: 'ADE_AUTH_MODE',
    description:
      'How the app authenticates: managed identity, or a service principal from AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET ' +
      '(local use)',
    default: 'managed-identity',
    required: false,
    values: '`managed-identity` | `environment`',
    scope: 'app',
  },
  {
    name: 'AZURE_CLIENT_ID',
    description:
      'Client id of a user-assigned managed identity (managed-identity mode) or of the service principal (environment mode); empty = ' +
      'system-assigned identity',
    default: '',
    required: false,
    values: 'GUID or empty',
    scope: 'app',
  },
  {
    name: 'ADE_HEAL_ACTION',
    description:
      'How BEK restore re-provisions key material once the secret is back: deallocate+start now, in the maintenance window, or only ' +
      'notify (restart needs the VM restart role: infra parameter enableSelfHealingRestart); likewise when stale instances of a ' +
      'Manual scale set are brought to its model (notify-only: ActionRequired, no instance upgrade)',
    default: 'restart',
    required: false,
    values: '`restart` | `maintenance-window` | `notify-only`',
    scope: 'app',
  },
  {
    name: 'ADE_MAINTENANCE_WINDOW',
    description:
      'Weekly UTC window for ADE_HEAL_ACTION=maintenance-window (required then), e.g. `Sat,Sun 01:00-05:00`; an end before the start ' +
      'spans midnight',
    default: '',
    required: false,
    values: '`<days> HH:MM-HH:MM` with days `Mon`…`Sun`, `*` or a range `Mon-Fri`; or empty',
    scope: 'app',
  },
  {
    name: 'ADE_POLICY_DEFINITION_IDS',
    description:
      'Policy definitions whose NonCompliant state events start a remediation (default: the built-in ADE-or-EncryptionAtHost definitions)',
    default: DEFAULT_POLICY_DEFINITION_IDS.join(','),
    required: false,
    values: 'comma-separated policy definition resource ids (at least one)',
    scope: 'app',
  },
  {
    name: 'ADE_SWEEP_CONCURRENCY',
    description: 'Most VM encryptions a sweep keeps in flight',
    default: '20',
    required: false,
    values: 'integer 1–500',
    scope: 'app',
  },
  {
    name: 'ADE_SWEEP_READS_PER_SECOND',
    description: 'ARM reads per second a sweep may spend (the subscription read bucket refills at 25/s)',
    default: '10',
    required: false,
    values: 'integer 1–25',
    scope: 'app',
  },
  {
    name: 'ADE_SWEEP_SCHEDULE',
    description:
      'NCRONTAB schedule of the existing-fleet sweep (picks up VMs no event reached, e.g. deallocated ones); ' +
      '`off` = on demand only (POST /api/sweep)',
    default: '0 0 2 * * *',
    required: false,
    values: 'six-field NCRONTAB or off',
    scope: 'app',
  },
  {
    name: 'ADE_BEK_HEALTH_SCHEDULE',
    description: 'NCRONTAB schedule of the BEK health sweep',
    default: '0 0 */6 * * *',
    required: false,
    values: 'six-field NCRONTAB',
    scope: 'app',
  },
  {
    name: 'ADE_OUTCOME_TOPIC_ENDPOINT',
    description:
      'Custom Event Grid topic that receives AdeAutopilot.* outcome events (the app identity needs EventGrid Data Sender on it); empty ' +
      '= none',
    default: '',
    required: false,
    values: 'https URL without query string, or empty',
    scope: 'app',
  },
  {
    name: 'ADE_HISTORY_RETENTION_DAYS',
    description:
      'Finished runs (completed, failed, terminated) created more than this many days ago are purged from Durable history, and ' +
      'leave the status API and the dashboard',
    default: '30',
    required: false,
    values: 'integer 1–3650',
    scope: 'app',
  },
  {
    name: 'ADE_HISTORY_PURGE_SCHEDULE',
    description:
      'NCRONTAB schedule of the history purge, which also logs a RunStuck record for each encryption still running past its timeout',
    default: '0 15 * * * *',
    required: false,
    values: 'six-field NCRONTAB',
    scope: 'app',
  },
  {
    name: 'ADE_VAULT_NETWORK_DEFAULT_ACTION',
    description:
      "Network rules of the vaults the app creates: Allow (Azure's default) or Deny, with the trusted-services bypass (Azure Disk " +
      "Encryption, Azure Backup). With Deny the app's own key operations need its outbound addresses in ADE_VAULT_NETWORK_IP_RULES",
    default: 'Allow',
    required: false,
    values: '`Allow` | `Deny`',
    scope: 'app',
  },
  {
    name: 'ADE_VAULT_NETWORK_IP_RULES',
    description: 'Public IPv4 addresses or CIDR ranges the created vaults accept when ADE_VAULT_NETWORK_DEFAULT_ACTION is Deny',
    default: '',
    required: false,
    values: 'comma-separated IPv4 addresses or CIDRs (at most 1000), or empty',
    scope: 'app',
  },
  {
    name: 'ADE_VAULT_BACKUP_PRINCIPAL_ID',
    description:
      "Object id of the tenant's Backup Management Service principal (application id 262044b1-e2ce-469f-a196-69ab7ada62d3): " +
      'each created vault gives it keys and secrets get/list/backup, so Azure Backup can back up the encrypted VMs; empty = no ' +
      'such access policy (infra parameter backupManagementServiceObjectId)',
    default: '',
    required: false,
    values: 'GUID or empty',
    scope: 'app',
  },
  {
    name: 'ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID',
    description:
      "Log Analytics workspace that each created vault's audit logs (category group audit: AuditEvent) go to, through a " +
      'diagnostic setting named ade-autopilot-audit (resource-specific table AZKVAuditLogs); empty = no diagnostic setting, ' +
      "Azure's default (infra parameters vaultDiagnostics, vaultDiagnosticsWorkspaceId)",
    default: '',
    required: false,
    values: 'Log Analytics workspace resource id or empty',
    scope: 'app',
  },
  {
    name: 'ADE_FUNCTION_APP_RESOURCE_ID',
    description:
      "The app's own Function App resource id; the vaults' Key Vault event subscriptions deliver to its secretEvents function. Required " +
      "in Azure (infra/main.json sets it): the platform's WEBSITE_* variables do not name the resource group on every plan (Flex " +
      'Consumption)',
    default: '',
    required: false,
    values: '/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<name>',
    scope: 'app',
  },
  {
    name: 'ADE_DEAD_LETTER_CONTAINER_ID',
    description:
      "Blob container where Event Grid puts the vaults' Key Vault events it could not deliver to secretEvents (the event " +
      "subscriptions the app creates); infra/main.json sets the app storage account's dead-letter container. Empty = no dead-lettering",
    default: '',
    required: false,
    values: '<storage account resource id>/blobServices/default/containers/<container> or empty',
    scope: 'app',
  },
  {
    name: 'ADE_EVENT_WIRING',
    description:
      "auto: every 15 minutes the app gives each subscription discovered under ADE_SCOPE's management groups the Resource " +
      'Manager system topic with the vm-written / arm-drift event subscriptions and the Policy Insights system topic with the ' +
      'policy-states event subscription (NonCompliant states of ADE_POLICY_DEFINITION_IDS) that infra/main.json and ' +
      "infra/event-subscriptions.json deploy (reusing the subscription's existing topics; new topics go in " +
      'ADE_VAULT_RESOURCE_GROUP, created when missing). Needs a management ' +
      'group in ADE_SCOPE, ADE_FUNCTION_APP_RESOURCE_ID, ADE_DEAD_LETTER_CONTAINER_ID, ADE_EVENTS_IDENTITY_RESOURCE_ID, ' +
      'ADE_EVENTS_LOCATION and the event wiring role (infra parameter enableEventWiring). off: an operator re-runs the templates',
    default: 'off',
    required: false,
    values: '`off` | `auto`',
    scope: 'app',
  },
  {
    name: 'ADE_EVENTS_IDENTITY_RESOURCE_ID',
    description:
      "With ADE_EVENT_WIRING=auto: the app's user-assigned identity, which the app puts on the system topics it creates and " +
      'which writes their dead letters (as in infra/event-subscriptions.json)',
    default: '',
    required: false,
    values: '/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name> or empty',
    scope: 'app',
  },
  {
    name: 'ADE_EVENTS_LOCATION',
    description: 'With ADE_EVENT_WIRING=auto: region of the ADE_VAULT_RESOURCE_GROUP the app creates in a discovered subscription',
    default: '',
    required: false,
    values: 'Azure region name (e.g. `westeurope`) or empty',
    scope: 'app',
  },
  {
    name: 'ADE_SECRET_EVENTS_WEBHOOK_URL',
    description:
      "Local only: webhook the vaults' Key Vault event subscriptions deliver to (the local host's secretEvents URL); " +
      'takes the place of ADE_FUNCTION_APP_RESOURCE_ID. In Azure leave unset',
    default: '',
    required: false,
    values: 'absolute http(s) URL or empty',
    scope: 'local',
  },
  {
    name: 'ADE_LOCAL_POLL_SECONDS',
    description:
      "Local only: polling interval below Azure's 30 s minimum, replacing ADE_FALLBACK_POLL_SECONDS " +
      "(the simulator's sped-up operations finish in seconds). Refused in Azure (WEBSITE_SITE_NAME set)",
    default: '',
    required: false,
    values: 'integer 1–3600 or empty',
    scope: 'local',
  },
  {
    name: 'ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS',
    description:
      "Local only: wait for the secret event in seconds, below Azure's 5 min minimum, replacing " +
      'ADE_SECRET_EVENT_TIMEOUT_MINUTES. Refused in Azure (WEBSITE_SITE_NAME set)',
    default: '',
    required: false,
    values: 'integer 10–86400 or empty',
    scope: 'local',
  },
  {
    name: 'ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS',
    description:
      "Local only: total time one VM encryption may take, in seconds, below Azure's 15 min minimum, " +
      'replacing ADE_ORCHESTRATION_TIMEOUT_MINUTES. Refused in Azure (WEBSITE_SITE_NAME set)',
    default: '',
    required: false,
    values: 'integer 20–604800 or empty',
    scope: 'local',
  },
];

export interface ConfigIssue {
  setting: string;
  message: string;
}

/** Start-up failure listing every bad setting and what was expected. */
export class ConfigError extends ValidationError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((i) => `  - ${i.setting}: ${i.message}`);
    super(`Invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, {
      field: [...new Set(issues.map((i) => i.setting))].join(','),
    });
    this.issues = issues;
  }
}

// ---------------------------------------------------------------------------------------------
// Per-setting schemas. Each takes the raw env string (or undefined) and yields the typed value;
// empty or whitespace-only counts as unset, because app settings are often present but blank.

type Ctx = z.core.$RefinementCtx<string | undefined>;

function shown(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
}

function setting<T>(name: string, parse: (raw: string, fail: (message: string) => never) => T) {
  const meta = CONFIG_SETTINGS.find((s) => s.name === name);
  if (!meta) throw new Error(`setting ${name} has no CONFIG_SETTINGS entry`);
  return z
    .string()
    .optional()
    .transform((value: string | undefined, ctx: Ctx): T => {
      const trimmed = value?.trim() ?? '';
      const raw = trimmed === '' ? (meta.default ?? '') : trimmed;
      if (raw === '' && meta.required) {
        ctx.addIssue({ code: 'custom', message: `is required; expected ${meta.values}` });
        return z.NEVER;
      }
      try {
        return parse(raw, (message) => {
          throw new SettingProblem(message);
        });
      } catch (error) {
        if (!(error instanceof SettingProblem)) throw error;
        ctx.addIssue({ code: 'custom', message: error.message });
        return z.NEVER;
      }
    });
}

class SettingProblem extends Error {}

/** Optional text settings: '' (unset) yields undefined, anything else goes through `parse`. */
function optional<T>(name: string, parse: (raw: string, fail: (message: string) => never) => T) {
  return setting(name, (raw, fail): T | undefined => (raw === '' ? undefined : parse(raw, fail)));
}

function optionalInteger(name: string, min: number, max: number) {
  return optional(name, (raw, fail) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) return fail(`expected an integer ${min}–${max} or empty; got ${shown(raw)}`);
    return n;
  });
}

/**
 * Local-only timings (short waits for the local host and the simulator's sped-up operations, never for an app in
 * Azure), each with the policy field it replaces, its unit, and the Azure setting to use instead.
 */
const LOCAL_TIMINGS = [
  { name: 'ADE_LOCAL_POLL_SECONDS', field: 'fallbackPollSeconds', perUnit: 1, azure: 'ADE_FALLBACK_POLL_SECONDS (30–3600)' },
  {
    name: 'ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS',
    field: 'secretEventTimeoutMinutes',
    perUnit: 60,
    azure: 'ADE_SECRET_EVENT_TIMEOUT_MINUTES (5–1440)',
  },
  {
    name: 'ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS',
    field: 'orchestrationTimeoutMinutes',
    perUnit: 60,
    azure: 'ADE_ORCHESTRATION_TIMEOUT_MINUTES (15–10080)',
  },
] as const;

type LocalTiming = (typeof LOCAL_TIMINGS)[number]['name'];

/** The policy's timeouts: a local-only value (converted to the policy's unit) wins over the Azure setting. */
function effectiveTimeouts(
  s: Partial<Parsed>,
): Pick<PolicyRuleFields, 'secretEventTimeoutMinutes' | 'orchestrationTimeoutMinutes' | 'fallbackPollSeconds'> {
  const local = (name: LocalTiming, perUnit: number) => (s[name] === undefined ? undefined : s[name] / perUnit);
  return {
    secretEventTimeoutMinutes: local('ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS', 60) ?? s.ADE_SECRET_EVENT_TIMEOUT_MINUTES,
    orchestrationTimeoutMinutes: local('ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS', 60) ?? s.ADE_ORCHESTRATION_TIMEOUT_MINUTES,
    fallbackPollSeconds: local('ADE_LOCAL_POLL_SECONDS', 1) ?? s.ADE_FALLBACK_POLL_SECONDS,
  };
}

function ncrontab(name: string, off: 'allowed' | 'not allowed') {
  const expected = `a six-field NCRONTAB expression (sec min hour day month weekday)${off === 'allowed' ? ' or off' : ''}`;
  return setting(name, (raw, fail) => {
    if (raw.toLowerCase() === 'off' && off === 'allowed') return undefined;
    const problem = ncrontabProblem(raw);
    if (problem) fail(`expected ${expected}; got ${shown(raw)} (${problem})`);
    return raw.trim().split(/\s+/).join(' ');
  });
}

/** Parses a URL without ever echoing it: these URLs can carry keys or SAS tokens. */
function urlOf(raw: string): URL | undefined {
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

function oneOf<T extends string>(name: string, values: readonly T[]) {
  return setting(name, (raw, fail) => {
    const match = values.find((v) => v.toLowerCase() === raw.toLowerCase());
    if (match === undefined) fail(`expected ${values.map((v) => `"${v}"`).join(' or ')}; got ${shown(raw)}`);
    return match as T;
  });
}

function bool(name: string) {
  return setting(name, (raw, fail) => {
    const lower = raw.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    return fail(`expected "true" or "false"; got ${shown(raw)}`);
  });
}

function integer(name: string, { min, max }: { min: number; max: number }) {
  return setting(name, (raw, fail) => {
    if (!/^\d+$/.test(raw)) fail(`expected an integer ${min}–${max}; got ${shown(raw)}`);
    const value = Number(raw);
    if (value < min || value > max) fail(`expected an integer ${min}–${max}; got ${value}`);
    return value;
  });
}

/** One ADE_SCOPE entry: a subscription (lower-case GUID) or a management group name. */
export function parseScopeItem(item: string): { kind: 'subscription' | 'management-group'; id: string } | undefined {
  const sub = /^\/subscriptions\/([^/]+)\/?$/i.exec(item)?.[1];
  if (sub !== undefined) return isGuid(sub) ? { kind: 'subscription', id: sub.toLowerCase() } : undefined;
  const group = /^\/providers\/Microsoft\.Management\/managementGroups\/([^/]+)\/?$/i.exec(item)?.[1];
  if (group !== undefined && isManagementGroupName(group)) return { kind: 'management-group', id: group };
  return undefined;
}

function isIpv4Rule(rule: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(rule);
  return m !== null && m.slice(1, 5).every((o) => Number(o) <= 255) && (m[5] === undefined || Number(m[5]) <= 32);
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function globs(name: string) {
  return setting(name, (raw, fail) => {
    const patterns = list(raw);
    const bad = patterns.filter((p) => !isValidGlob(p));
    if (bad.length > 0)
      fail(
        `expected comma-separated resource-group patterns (letters, digits, _ ( ) . - and the wildcards * ?); invalid: ` +
          `${bad.map(shown).join(', ')}`,
      );
    return [...new Set(patterns)];
  });
}

const schema = z.object({
  ADE_ENCRYPTION_MODE: oneOf<EncryptionMode>('ADE_ENCRYPTION_MODE', ENCRYPTION_MODES),
  ADE_VAULT_STRATEGY: oneOf<VaultStrategy>('ADE_VAULT_STRATEGY', ['per-region', 'per-vm']),
  ADE_VAULT_RESOURCE_GROUP: setting('ADE_VAULT_RESOURCE_GROUP', (raw, fail) => {
    if (!isResourceGroupName(raw))
      fail(`expected a resource group name (1–90 chars: letters, digits, _ ( ) - .; not ending in .); got ${shown(raw)}`);
    return raw;
  }),
  ADE_VAULT_NAME_PREFIX: setting('ADE_VAULT_NAME_PREFIX', (raw, fail) => {
    if (!VAULT_NAME_PREFIX.test(raw))
      fail(`expected 2–8 chars, a lower-case letter first, then lower-case letters or digits (no hyphens); got ${shown(raw)}`);
    return raw;
  }),
  ADE_VAULT_NAME_SALT: optional('ADE_VAULT_NAME_SALT', (raw, fail) => {
    if (!VAULT_NAME_SALT.test(raw)) fail(`expected 8–64 letters, digits or hyphens; got ${shown(raw)}`);
    return raw;
  }),
  ADE_SOFT_DELETE_RETENTION_DAYS: integer('ADE_SOFT_DELETE_RETENTION_DAYS', POLICY_LIMITS.softDeleteRetentionDays),
  ADE_PURGE_PROTECTION: setting('ADE_PURGE_PROTECTION', (raw, fail): true => {
    if (raw.toLowerCase() === 'true') return true;
    if (raw.toLowerCase() === 'false') {
      return fail(
        'must be "true": purge protection cannot be turned off once a vault has it, and vaults holding disk encryption keys must not be ' +
          'purgeable (a purged key makes the disks unbootable)',
      );
    }
    return fail(`expected "true"; got ${shown(raw)}`);
  }),
  ADE_KEK_ENABLED: bool('ADE_KEK_ENABLED'),
  ADE_KEK_SIZE: setting('ADE_KEK_SIZE', (raw, fail): KekSize => {
    if (raw === '2048' || raw === '3072' || raw === '4096') return Number(raw) as KekSize;
    return fail(`expected 2048, 3072 or 4096; got ${shown(raw)}`);
  }),
  ADE_KEK_ALGORITHM: oneOf<KekAlgorithm>('ADE_KEK_ALGORITHM', ['RSA-OAEP']),
  ADE_VOLUME_TYPE: oneOf<VolumeType>('ADE_VOLUME_TYPE', ['All', 'OS', 'Data']),
  ADE_SUBSCRIPTIONS: setting('ADE_SUBSCRIPTIONS', (raw, fail) => {
    const ids = list(raw);
    if (ids.length === 0) fail('expected at least one subscription GUID');
    const bad = ids.filter((id) => !isGuid(id));
    if (bad.length > 0) fail(`expected comma-separated subscription GUIDs; not a GUID: ${bad.map(shown).join(', ')}`);
    return [...new Set(ids.map((id) => id.toLowerCase()))];
  }),
  ADE_SCOPE: setting('ADE_SCOPE', (raw, fail) => {
    const scope = { subscriptions: [] as string[], managementGroups: [] as string[] };
    for (const item of list(raw)) {
      const parsed = parseScopeItem(item);
      if (!parsed)
        return fail(
          `expected /subscriptions/<guid> or /providers/Microsoft.Management/managementGroups/<id> (1–90 letters, digits, ` +
            `_ ( ) - .); got ${shown(item)}`,
        );
      if (parsed.kind === 'subscription') scope.subscriptions.push(parsed.id);
      else scope.managementGroups.push(parsed.id);
    }
    return { subscriptions: [...new Set(scope.subscriptions)], managementGroups: [...new Set(scope.managementGroups)] };
  }),
  ADE_INCLUDE_RESOURCE_GROUPS: globs('ADE_INCLUDE_RESOURCE_GROUPS'),
  ADE_EXCLUDE_RESOURCE_GROUPS: globs('ADE_EXCLUDE_RESOURCE_GROUPS'),
  ADE_EXCLUSION_TAG: setting('ADE_EXCLUSION_TAG', (raw, fail): ExclusionTag => {
    const at = raw.indexOf('=');
    const name = (at < 0 ? raw : raw.slice(0, at)).trim();
    const value = at < 0 ? undefined : raw.slice(at + 1).trim();
    if (!isValidTagName(name)) {
      fail(`expected "name=value" or "name" with a tag name of 1–512 chars without < > % & \\ ? /; got ${shown(raw)}`);
    }
    if (value === '') fail(`has "=" but no value; write "${name}" alone to match any value, or "${name}=<value>"`);
    if (value !== undefined && value.length > TAG_VALUE_MAX) fail(`tag value is longer than ${TAG_VALUE_MAX} characters`);
    return value === undefined ? { name } : { name, value };
  }),
  ADE_OS_FILTER: oneOf<OsFilter>('ADE_OS_FILTER', ['all', 'windows', 'linux']),
  ADE_DRY_RUN: bool('ADE_DRY_RUN'),
  ADE_SECRET_EVENT_TIMEOUT_MINUTES: integer('ADE_SECRET_EVENT_TIMEOUT_MINUTES', POLICY_LIMITS.secretEventTimeoutMinutes),
  ADE_ORCHESTRATION_TIMEOUT_MINUTES: integer('ADE_ORCHESTRATION_TIMEOUT_MINUTES', POLICY_LIMITS.orchestrationTimeoutMinutes),
  ADE_FALLBACK_POLL_SECONDS: integer('ADE_FALLBACK_POLL_SECONDS', POLICY_LIMITS.fallbackPollSeconds),
  ADE_LOCAL_POLL_SECONDS: optionalInteger('ADE_LOCAL_POLL_SECONDS', 1, 3600),
  ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS: optionalInteger('ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS', 10, 86400),
  ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS: optionalInteger('ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS', 20, 604800),
  ADE_TAG_OUTCOME: bool('ADE_TAG_OUTCOME'),
  ADE_AUTH_MODE: oneOf<AuthMode>('ADE_AUTH_MODE', ['managed-identity', 'environment']),
  AZURE_CLIENT_ID: setting('AZURE_CLIENT_ID', (raw, fail) => {
    if (raw === '') return undefined;
    if (!isGuid(raw)) fail(`expected a client id GUID or empty (system-assigned identity); got ${shown(raw)}`);
    return raw.toLowerCase();
  }),
  ADE_HEAL_ACTION: oneOf<HealAction>('ADE_HEAL_ACTION', HEAL_ACTIONS),
  ADE_MAINTENANCE_WINDOW: optional('ADE_MAINTENANCE_WINDOW', (raw, fail) => {
    try {
      return parseMaintenanceWindow(raw);
    } catch (error) {
      return fail(error instanceof Error ? error.message : String(error));
    }
  }),
  ADE_POLICY_DEFINITION_IDS: setting('ADE_POLICY_DEFINITION_IDS', (raw, fail) => {
    const ids = list(raw);
    if (ids.length === 0) fail('expected at least one policy definition id');
    const bad = ids.filter((id) => !/^(\/[^/]+\/[^/]+)*\/providers\/Microsoft\.Authorization\/policyDefinitions\/[^/]+$/i.test(id));
    if (bad.length > 0)
      fail(
        `expected policy definition resource ids (…/providers/Microsoft.Authorization/policyDefinitions/<name>); invalid: ` +
          `${bad.map(shown).join(', ')}`,
      );
    return [...new Set(ids)];
  }),
  ADE_SWEEP_CONCURRENCY: integer('ADE_SWEEP_CONCURRENCY', { min: 1, max: 500 }),
  ADE_SWEEP_READS_PER_SECOND: integer('ADE_SWEEP_READS_PER_SECOND', { min: 1, max: 25 }),
  ADE_SWEEP_SCHEDULE: ncrontab('ADE_SWEEP_SCHEDULE', 'allowed'),
  ADE_BEK_HEALTH_SCHEDULE: ncrontab('ADE_BEK_HEALTH_SCHEDULE', 'not allowed'),
  ADE_HISTORY_RETENTION_DAYS: integer('ADE_HISTORY_RETENTION_DAYS', { min: 1, max: 3650 }),
  ADE_HISTORY_PURGE_SCHEDULE: ncrontab('ADE_HISTORY_PURGE_SCHEDULE', 'not allowed'),
  ADE_VAULT_NETWORK_DEFAULT_ACTION: oneOf<'Allow' | 'Deny'>('ADE_VAULT_NETWORK_DEFAULT_ACTION', ['Allow', 'Deny']),
  ADE_VAULT_NETWORK_IP_RULES: setting('ADE_VAULT_NETWORK_IP_RULES', (raw, fail) => {
    const rules = list(raw);
    const bad = rules.find((r) => !isIpv4Rule(r));
    if (bad !== undefined) fail(`expected IPv4 addresses or CIDR ranges; got ${shown(bad)}`);
    if (rules.length > 1000) fail(`at most 1000 rules; got ${rules.length}`);
    return rules;
  }),
  ADE_VAULT_BACKUP_PRINCIPAL_ID: optional('ADE_VAULT_BACKUP_PRINCIPAL_ID', (raw, fail) =>
    isGuid(raw) ? raw.toLowerCase() : fail(`expected the object id (a GUID) of the Backup Management Service principal; got ${shown(raw)}`),
  ),
  ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID: optional('ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID', (raw, fail) => {
    const m =
      /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.OperationalInsights\/workspaces\/([^/]+)\/?$/i.exec(raw);
    // Workspace names: 4–63 letters, digits and hyphens, starting and ending with a letter or digit.
    if (!m || !isGuid(m[1]!) || !isResourceGroupName(m[2]!) || !/^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/.test(m[3]!))
      return fail(
        'expected a Log Analytics workspace resource id (/subscriptions/<id>/resourceGroups/<rg>/providers/' +
          `Microsoft.OperationalInsights/workspaces/<name>); got ${shown(raw)}`,
      );
    return `/subscriptions/${m[1]!.toLowerCase()}/resourceGroups/${m[2]}/providers/Microsoft.OperationalInsights/workspaces/${m[3]}`;
  }),
  ADE_OUTCOME_TOPIC_ENDPOINT: optional('ADE_OUTCOME_TOPIC_ENDPOINT', (raw, fail) => {
    const url = urlOf(raw);
    // Only scheme, host and path are ever shown: a query string could carry a SAS token.
    if (!url || url.protocol !== 'https:')
      return fail(
        `expected an https URL of an Event Grid topic endpoint; got ` +
          `${url ? `${url.protocol}//${url.host}${url.pathname}` : 'text that is not a URL'}`,
      );
    if (url.search !== '' || url.username !== '' || url.password !== '')
      fail('must not carry credentials or a query string (the app authenticates with its identity)');
    return raw;
  }),
  ADE_FUNCTION_APP_RESOURCE_ID: optional('ADE_FUNCTION_APP_RESOURCE_ID', (raw, fail): FunctionAppSite => {
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Web\/sites\/([^/]+)\/?$/i.exec(raw);
    if (!m || !isGuid(m[1]!) || !isResourceGroupName(m[2]!) || !/^[a-z0-9][a-z0-9-]{0,58}$/i.test(m[3]!))
      return fail(
        `expected a Function App resource id (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<name>); got ` +
          `${shown(raw)}`,
      );
    return { subscriptionId: m[1]!.toLowerCase(), resourceGroup: m[2]!, siteName: m[3]! };
  }),
  ADE_EVENT_WIRING: oneOf<'off' | 'auto'>('ADE_EVENT_WIRING', ['off', 'auto']),
  ADE_EVENTS_IDENTITY_RESOURCE_ID: optional('ADE_EVENTS_IDENTITY_RESOURCE_ID', (raw, fail): string => {
    const m =
      /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([A-Za-z0-9][A-Za-z0-9_-]{2,127})\/?$/i.exec(
        raw,
      );
    if (!m || !isGuid(m[1]!) || !isResourceGroupName(m[2]!))
      return fail(
        'expected a user-assigned identity resource id (/subscriptions/<id>/resourceGroups/<rg>/providers/' +
          `Microsoft.ManagedIdentity/userAssignedIdentities/<name>); got ${shown(raw)}`,
      );
    return raw.replace(/\/$/, '');
  }),
  ADE_EVENTS_LOCATION: optional('ADE_EVENTS_LOCATION', (raw, fail): string => {
    if (!/^[a-z][a-z0-9]{1,39}$/i.test(raw)) return fail(`expected an Azure region name such as westeurope; got ${shown(raw)}`);
    return raw.toLowerCase();
  }),
  ADE_DEAD_LETTER_CONTAINER_ID: optional('ADE_DEAD_LETTER_CONTAINER_ID', (raw, fail): DeadLetterContainer => {
    const m =
      /^(\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/([a-z0-9]{3,24}))\/blobServices\/default\/containers\/([a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9])\/?$/i.exec(
        raw,
      );
    if (!m || !isGuid(m[2]!) || !isResourceGroupName(m[3]!) || m[4] !== m[4]!.toLowerCase() || m[5] !== m[5]!.toLowerCase())
      return fail(
        'expected a blob container resource id (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Storage/storageAccounts/' +
          `<name>/blobServices/default/containers/<container>, lower-case names); got ${shown(raw)}`,
      );
    return { storageAccountId: m[1]!, containerName: m[5]! };
  }),
  ADE_SECRET_EVENTS_WEBHOOK_URL: optional('ADE_SECRET_EVENTS_WEBHOOK_URL', (raw, fail) => {
    const url = urlOf(raw);
    // Never shown: the URL carries the Event Grid system key (code=…).
    if (!url) return fail('expected an absolute http(s) URL of the secretEvents Event Grid webhook (value not shown: it may carry a key)');
    if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(`expected an http or https URL; got a ${url.protocol} URL`);
    return url.toString();
  }),
});

type Parsed = z.output<typeof schema>;

/** The setting behind each policy field a cross-field rule reads. */
const POLICY_SETTING: Record<PolicyRuleField, string> = {
  kekSize: 'ADE_KEK_SIZE',
  osFilter: 'ADE_OS_FILTER',
  volumeType: 'ADE_VOLUME_TYPE',
  secretEventTimeoutMinutes: 'ADE_SECRET_EVENT_TIMEOUT_MINUTES',
  orchestrationTimeoutMinutes: 'ADE_ORCHESTRATION_TIMEOUT_MINUTES',
  fallbackPollSeconds: 'ADE_FALLBACK_POLL_SECONDS',
};

/**
 * Rules that involve more than one setting (the policy's own in core/policy `policyConflicts`). Each rule runs
 * when the settings it reads are valid on their own, so one start-up reports per-setting and cross-setting
 * problems together.
 */
function crossFieldIssues(s: Partial<Parsed>, env: Record<string, string | undefined>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const fields = {
    kekSize: s.ADE_KEK_SIZE,
    osFilter: s.ADE_OS_FILTER,
    volumeType: s.ADE_VOLUME_TYPE,
    ...effectiveTimeouts(s),
  };
  // A rule names the setting that supplied the value: the local-only one when it is set.
  const settingOf = (field: PolicyRuleField) =>
    LOCAL_TIMINGS.find((t) => t.field === field && s[t.name] !== undefined)?.name ?? POLICY_SETTING[field];
  for (const c of policyConflicts(fields, settingOf)) issues.push({ setting: settingOf(c.field), message: c.message });
  if (env.WEBSITE_SITE_NAME?.trim()) {
    for (const t of LOCAL_TIMINGS) {
      if (s[t.name] !== undefined)
        issues.push({ setting: t.name, message: `is for the local host only and must not be set in Azure (use ${t.azure})` });
    }
  }
  if (s.ADE_INCLUDE_RESOURCE_GROUPS !== undefined && s.ADE_INCLUDE_RESOURCE_GROUPS.length === 0) {
    issues.push({ setting: 'ADE_INCLUDE_RESOURCE_GROUPS', message: 'expected at least one pattern (use "*" for all resource groups)' });
  }
  if (s.ADE_HEAL_ACTION === 'maintenance-window' && 'ADE_MAINTENANCE_WINDOW' in s && s.ADE_MAINTENANCE_WINDOW === undefined) {
    issues.push({
      setting: 'ADE_MAINTENANCE_WINDOW',
      message: 'is required when ADE_HEAL_ACTION is "maintenance-window" (e.g. "Sat,Sun 01:00-05:00")',
    });
  }
  issues.push(...functionAppIssues(s, env));
  if (s.ADE_EVENT_WIRING === 'auto') {
    const needs: Array<[string, unknown]> = [
      ['ADE_FUNCTION_APP_RESOURCE_ID', s.ADE_FUNCTION_APP_RESOURCE_ID],
      ['ADE_DEAD_LETTER_CONTAINER_ID', s.ADE_DEAD_LETTER_CONTAINER_ID],
      ['ADE_EVENTS_IDENTITY_RESOURCE_ID', s.ADE_EVENTS_IDENTITY_RESOURCE_ID],
      ['ADE_EVENTS_LOCATION', s.ADE_EVENTS_LOCATION],
    ];
    for (const [name, value] of needs)
      if (name in s && value === undefined)
        issues.push({ setting: name, message: 'is required when ADE_EVENT_WIRING is "auto" (the event subscriptions it writes need it)' });
    if (s.ADE_SCOPE !== undefined && s.ADE_SCOPE.managementGroups.length === 0)
      issues.push({
        setting: 'ADE_EVENT_WIRING',
        message: '"auto" wires subscriptions discovered under ADE_SCOPE\'s management groups, but ADE_SCOPE names none',
      });
  }
  if (s.ADE_AUTH_MODE === 'environment') {
    // Presence only: the secret's value never goes into a message.
    const missing = ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'].filter((n) => (env[n]?.trim() ?? '') === '');
    if (missing.length > 0)
      issues.push({
        setting: 'ADE_AUTH_MODE',
        message: `"environment" needs ${missing.join(', ')} to be set (service principal credentials)`,
      });
    const tenant = env.AZURE_TENANT_ID?.trim();
    if (tenant && !isGuid(tenant)) issues.push({ setting: 'AZURE_TENANT_ID', message: 'expected a tenant id GUID' });
  }
  return issues;
}

/** Reads and validates every setting; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  // Each setting on its own, so that a cross-setting rule can still run when an unrelated setting is bad.
  const values: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const [name, settingSchema] of Object.entries(schema.shape)) {
    const result = (settingSchema as z.ZodType).safeParse(env[name]);
    if (result.success) values[name] = result.data;
    else issues.push(...result.error.issues.map((issue) => ({ setting: name, message: issue.message })));
  }
  issues.push(...crossFieldIssues(values as Partial<Parsed>, env));
  if (issues.length > 0) throw new ConfigError(orderBySetting(issues));
  const s = values as Parsed;
  const config: AppConfig = {
    encryptionMode: s.ADE_ENCRYPTION_MODE,
    vaultStrategy: s.ADE_VAULT_STRATEGY,
    vaultResourceGroup: s.ADE_VAULT_RESOURCE_GROUP,
    vaultNamePrefix: s.ADE_VAULT_NAME_PREFIX,
    ...(s.ADE_VAULT_NAME_SALT !== undefined ? { vaultNameSalt: s.ADE_VAULT_NAME_SALT } : {}),
    softDeleteRetentionDays: s.ADE_SOFT_DELETE_RETENTION_DAYS,
    purgeProtection: s.ADE_PURGE_PROTECTION,
    kekEnabled: s.ADE_KEK_ENABLED,
    kekSize: s.ADE_KEK_SIZE,
    kekAlgorithm: s.ADE_KEK_ALGORITHM,
    volumeType: s.ADE_VOLUME_TYPE,
    subscriptions: [...new Set([...s.ADE_SUBSCRIPTIONS, ...s.ADE_SCOPE.subscriptions])],
    managementGroups: s.ADE_SCOPE.managementGroups,
    includeResourceGroups: s.ADE_INCLUDE_RESOURCE_GROUPS,
    excludeResourceGroups: s.ADE_EXCLUDE_RESOURCE_GROUPS,
    exclusionTag: s.ADE_EXCLUSION_TAG,
    osFilter: s.ADE_OS_FILTER,
    dryRun: s.ADE_DRY_RUN,
    ...(effectiveTimeouts(s) as Required<ReturnType<typeof effectiveTimeouts>>),
    tagOutcome: s.ADE_TAG_OUTCOME,
    auth: s.AZURE_CLIENT_ID === undefined ? { mode: s.ADE_AUTH_MODE } : { mode: s.ADE_AUTH_MODE, clientId: s.AZURE_CLIENT_ID },
    remediation: remediationOf(s),
    // Never undefined: the schedule is not allowed to be empty.
    history: { retentionDays: s.ADE_HISTORY_RETENTION_DAYS, purgeSchedule: s.ADE_HISTORY_PURGE_SCHEDULE ?? '' },
    vaultNetwork: { defaultAction: s.ADE_VAULT_NETWORK_DEFAULT_ACTION, ipRules: s.ADE_VAULT_NETWORK_IP_RULES },
  };
  if (s.ADE_SECRET_EVENTS_WEBHOOK_URL !== undefined) config.secretEventsWebhookUrl = s.ADE_SECRET_EVENTS_WEBHOOK_URL;
  if (s.ADE_FUNCTION_APP_RESOURCE_ID !== undefined) config.functionApp = s.ADE_FUNCTION_APP_RESOURCE_ID;
  if (s.ADE_DEAD_LETTER_CONTAINER_ID !== undefined) config.deadLetter = s.ADE_DEAD_LETTER_CONTAINER_ID;
  if (s.ADE_VAULT_BACKUP_PRINCIPAL_ID !== undefined) config.vaultBackupPrincipalId = s.ADE_VAULT_BACKUP_PRINCIPAL_ID;
  if (s.ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID !== undefined) config.vaultDiagnosticsWorkspaceId = s.ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID;
  if (s.ADE_EVENT_WIRING === 'auto' && s.ADE_EVENTS_IDENTITY_RESOURCE_ID !== undefined && s.ADE_EVENTS_LOCATION !== undefined)
    config.eventWiring = { identityResourceId: s.ADE_EVENTS_IDENTITY_RESOURCE_ID, location: s.ADE_EVENTS_LOCATION };
  return config;
}

function remediationOf(s: Parsed): RemediationSettings {
  const settings: RemediationSettings = {
    healAction: s.ADE_HEAL_ACTION,
    policyDefinitionIds: s.ADE_POLICY_DEFINITION_IDS,
    sweepConcurrency: s.ADE_SWEEP_CONCURRENCY,
    sweepReadsPerSecond: s.ADE_SWEEP_READS_PER_SECOND,
    // Never undefined: the setting is not allowed to be empty.
    bekHealthSchedule: s.ADE_BEK_HEALTH_SCHEDULE ?? '',
  };
  if (s.ADE_MAINTENANCE_WINDOW !== undefined) settings.maintenanceWindow = s.ADE_MAINTENANCE_WINDOW;
  if (s.ADE_SWEEP_SCHEDULE !== undefined) settings.sweepSchedule = s.ADE_SWEEP_SCHEDULE;
  if (s.ADE_OUTCOME_TOPIC_ENDPOINT !== undefined) settings.outcomeTopicEndpoint = s.ADE_OUTCOME_TOPIC_ENDPOINT;
  return settings;
}

/**
 * The app's own Function App, which secret events are delivered to. On the platform (WEBSITE_SITE_NAME is
 * set on every plan) it is required, unless the local-only webhook replaces it, and it must be this app:
 * the site name equals WEBSITE_SITE_NAME, and the subscription the first part of WEBSITE_OWNER_NAME
 * (`<subscription>+…`, in the Consumption, Premium and Flex Consumption forms alike). The resource group
 * cannot be cross-checked: Flex Consumption sets no WEBSITE_RESOURCE_GROUP and a hash in WEBSITE_OWNER_NAME.
 * https://learn.microsoft.com/azure/app-service/reference-app-settings#app-environment
 */
function functionAppIssues(s: Partial<Parsed>, env: Record<string, string | undefined>): ConfigIssue[] {
  if (!('ADE_FUNCTION_APP_RESOURCE_ID' in s) || !('ADE_SECRET_EVENTS_WEBHOOK_URL' in s)) return [];
  const site = s.ADE_FUNCTION_APP_RESOURCE_ID;
  const siteName = env.WEBSITE_SITE_NAME?.trim();
  const setting = 'ADE_FUNCTION_APP_RESOURCE_ID';
  if (!site) {
    return siteName && s.ADE_SECRET_EVENTS_WEBHOOK_URL === undefined
      ? [
          {
            setting,
            message:
              `is required in Azure (this is Function App "${siteName}"): expected ` +
              `/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Web/sites/${siteName}, which infra/main.json sets; without ` +
              `it no vault gets secret events`,
          },
        ]
      : [];
  }
  const issues: ConfigIssue[] = [];
  if (siteName && siteName.toLowerCase() !== site.siteName.toLowerCase())
    issues.push({ setting, message: `names Function App "${site.siteName}", but this app is "${siteName}" (WEBSITE_SITE_NAME)` });
  const ownerSubscription = new RegExp(`^(${GUID_PATTERN})\\+`, 'i').exec(env.WEBSITE_OWNER_NAME?.trim() ?? '')?.[1];
  if (ownerSubscription && ownerSubscription.toLowerCase() !== site.subscriptionId)
    issues.push({
      setting,
      message: `is in subscription ${site.subscriptionId}, but this app runs in ${ownerSubscription.toLowerCase()} (WEBSITE_OWNER_NAME)`,
    });
  return issues;
}

function orderBySetting(issues: ConfigIssue[]): ConfigIssue[] {
  const rank = (name: string) => {
    const i = CONFIG_SETTINGS.findIndex((s) => s.name === name);
    return i < 0 ? CONFIG_SETTINGS.length : i;
  };
  return [...issues].sort((a, b) => rank(a.setting) - rank(b.setting));
}

/** The plain-JSON policy passed into orchestrations (no identity or auth details). */
export function toEncryptionPolicy(config: AppConfig): EncryptionPolicy {
  return {
    policyVersion: POLICY_VERSION,
    mode: config.encryptionMode,
    vault: {
      strategy: config.vaultStrategy,
      resourceGroup: config.vaultResourceGroup,
      namePrefix: config.vaultNamePrefix,
      ...(config.vaultNameSalt !== undefined ? { nameSalt: config.vaultNameSalt } : {}),
      softDeleteRetentionDays: config.softDeleteRetentionDays,
      purgeProtection: config.purgeProtection,
    },
    kek: { enabled: config.kekEnabled, size: config.kekSize, algorithm: config.kekAlgorithm },
    volumeType: config.volumeType,
    scope: {
      subscriptions: [...config.subscriptions],
      ...(config.managementGroups.length > 0 ? { managementGroups: [...config.managementGroups] } : {}),
      includeResourceGroups: [...config.includeResourceGroups],
      excludeResourceGroups: [...config.excludeResourceGroups],
      exclusionTag: { ...config.exclusionTag },
      osFilter: config.osFilter,
    },
    dryRun: config.dryRun,
    timeouts: {
      secretEventTimeoutMinutes: config.secretEventTimeoutMinutes,
      orchestrationTimeoutMinutes: config.orchestrationTimeoutMinutes,
      fallbackPollSeconds: config.fallbackPollSeconds,
    },
    tagOutcome: config.tagOutcome,
  };
}
