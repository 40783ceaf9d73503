/**
 * The Azure Disk Encryption VM extension resource, built exactly as Azure CLI / PowerShell build it
 * (docs/ade-behaviour.md: extension versions, settings, the second pass), for Windows/Linux ×
 * single-pass/aad (dual-pass) × KEK or not.
 *
 * Secrets never travel inside the public value: {@link buildAdeExtension} returns only what is safe
 * to log or keep in durable history. The dual-pass client secret is added by the compute adapter
 * alone, as a SecretValue, for the one PUT that needs it.
 */
import { UnsupportedError, ValidationError } from './errors';
import { isGuid } from './resource-ids';

export type AdeOs = 'Windows' | 'Linux';
/** `aad` = legacy dual-pass with an Entra app; `single-pass` = current, no app. */
export type AdeMode = 'aad' | 'single-pass';
export type AdeVolumeType = 'All' | 'OS' | 'Data';
export type KeyEncryptionAlgorithm = 'RSA-OAEP' | 'RSA-OAEP-256' | 'RSA1_5';
export type EncryptionOperation = 'EnableEncryption' | 'EnableEncryptionFormatAll' | 'DisableEncryption';

export const ADE_PUBLISHER = 'Microsoft.Azure.Security';
export const ADE_EXTENSION_TYPE: Record<AdeOs, string> = { Windows: 'AzureDiskEncryption', Linux: 'AzureDiskEncryptionForLinux' };
/** typeHandlerVersion per OS and mode; the major version alone tells the mode (docs/ade-behaviour.md#extension-versions-and-modes). */
const ADE_TYPE_HANDLER_VERSION: Record<AdeOs, Record<AdeMode, string>> = {
  Windows: { 'single-pass': '2.2', aad: '1.1' },
  Linux: { 'single-pass': '1.1', aad: '0.1' },
};
const KEY_ENCRYPTION_ALGORITHMS: readonly KeyEncryptionAlgorithm[] = ['RSA-OAEP', 'RSA-OAEP-256', 'RSA1_5'];

export interface AdeExtensionInput {
  os: AdeOs;
  mode: AdeMode;
  /** Disk-encryption vault: base URL (`https://name.vault.azure.net`) and full ARM id, never a short name. */
  vault: { url: string; resourceId: string };
  /** Key encryption key: versioned key URL and the ARM id of the vault holding it. */
  kek?: { url: string; vaultResourceId: string; algorithm?: KeyEncryptionAlgorithm };
  volumeType: AdeVolumeType;
  /** Unique per run (normally a GUID): identical settings are otherwise not re-applied (docs/ade-behaviour.md#re-running-the-extension). */
  sequenceVersion: string;
  /** Entra application (client) id; required for `aad`, forbidden for `single-pass`. */
  aadClientId?: string;
  /** Defaults to `EnableEncryption`. */
  encryptionOperation?: EncryptionOperation;
  /**
   * Name of an ADE extension already on the VM (found by publisher + type): templates
   * use names such as `diskEncryption`, and a PUT under the default name would add a second one.
   */
  existingName?: string;
}

/** Public settings, keys exactly as the extension reads them. */
export interface AdeExtensionSettings {
  EncryptionOperation: EncryptionOperation;
  KeyVaultURL: string;
  KeyVaultResourceId: string;
  KeyEncryptionKeyURL?: string;
  KekVaultResourceId?: string;
  KeyEncryptionAlgorithm?: KeyEncryptionAlgorithm;
  VolumeType: AdeVolumeType;
  SequenceVersion: string;
  AADClientID?: string;
}

/** The extension resource without secrets: safe to log and to put in durable history. */
export interface AdeExtension {
  /** Default instance name (= type). An existing instance may be named differently: keep its name. */
  name: string;
  publisher: typeof ADE_PUBLISHER;
  /** `typePropertiesType` in @azure/arm-compute. */
  type: string;
  typeHandlerVersion: string;
  autoUpgradeMinorVersion: true;
  settings: AdeExtensionSettings;
}

/**
 * Single-pass or dual-pass from the handler version's major part: Windows 1.x and Linux 0.x are
 * dual-pass, any later major single-pass (https://learn.microsoft.com/azure/virtual-machines/extensions/azure-disk-enc-windows,
 * https://learn.microsoft.com/azure/virtual-machines/extensions/azure-disk-enc-linux).
 */
export function adeModeOfVersion(os: AdeOs, version: string | undefined): 'single-pass' | 'dual-pass' | undefined {
  const major = version?.trim().split('.')[0];
  if (!major || !/^\d+$/.test(major)) return undefined;
  return Number(major) === (os === 'Windows' ? 1 : 0) ? 'dual-pass' : 'single-pass';
}

/** Builds the public extension resource. Throws ValidationError / UnsupportedError naming the input at fault. */
export function buildAdeExtension(input: AdeExtensionInput): AdeExtension {
  const problems: Array<[string, string]> = [];
  const vaultUrl = checkVaultUrl(input.vault?.url, 'vault.url', problems);
  const vaultId = checkVaultResourceId(input.vault?.resourceId, 'vault.resourceId', problems);
  if (vaultUrl && vaultId && vaultNameFromUrl(vaultUrl) !== vaultNameFromId(vaultId)) {
    problems.push(['vault.resourceId', 'names a different vault than vault.url']);
  }
  if (input.os !== 'Windows' && input.os !== 'Linux') problems.push(['os', 'expected "Windows" or "Linux"']);
  if (input.mode !== 'aad' && input.mode !== 'single-pass') problems.push(['mode', 'expected "aad" or "single-pass"']);
  const volumeType = normaliseVolumeType(input.volumeType);
  if (!volumeType) problems.push(['volumeType', 'expected "All", "OS" or "Data"']);
  if (typeof input.sequenceVersion !== 'string' || input.sequenceVersion.trim() === '')
    problems.push(['sequenceVersion', 'expected a non-empty string (a new GUID per run)']);
  const operation = input.encryptionOperation ?? 'EnableEncryption';
  if (!['EnableEncryption', 'EnableEncryptionFormatAll', 'DisableEncryption'].includes(operation))
    problems.push(['encryptionOperation', 'expected EnableEncryption, EnableEncryptionFormatAll or DisableEncryption']);

  // Pitfall 1: sending AADClientID silently selects dual-pass; make the choice explicit.
  if (input.mode === 'aad' && !isGuid(input.aadClientId))
    problems.push(['aadClientId', 'expected the Entra application (client) id, a GUID, in aad mode']);
  if (input.mode === 'single-pass' && input.aadClientId !== undefined)
    problems.push(['aadClientId', 'must not be set in single-pass mode (it would select dual-pass)']);

  let kek: { url: string; vaultId: string; algorithm: KeyEncryptionAlgorithm } | undefined;
  if (input.kek) {
    const url = checkKekUrl(input.kek.url, 'kek.url', problems);
    const id = checkVaultResourceId(input.kek.vaultResourceId, 'kek.vaultResourceId', problems);
    if (url && id && vaultNameFromUrl(url) !== vaultNameFromId(id))
      problems.push(['kek.vaultResourceId', 'names a different vault than kek.url']);
    const algorithm = input.kek.algorithm ?? 'RSA-OAEP';
    if (!KEY_ENCRYPTION_ALGORITHMS.includes(algorithm))
      problems.push(['kek.algorithm', `expected one of ${KEY_ENCRYPTION_ALGORITHMS.join(', ')}`]);
    if (url && id) kek = { url, vaultId: id, algorithm };
  }
  throwIfProblems(problems);

  // Windows encrypts the OS volume or all volumes, never data alone (docs/ade-behaviour.md#volume-types-and-support-limits).
  if (input.os === 'Windows' && volumeType === 'Data' && operation !== 'DisableEncryption') {
    throw new UnsupportedError('ADE on Windows cannot encrypt data volumes only: use volume type "All" or "OS"', {
      code: 'WindowsDataOnly',
    });
  }
  // Linux OS volumes cannot be decrypted (docs/ade-behaviour.md#volume-types-and-support-limits).
  if (input.os === 'Linux' && operation === 'DisableEncryption' && volumeType !== 'Data') {
    throw new UnsupportedError('ADE on Linux can disable encryption of data volumes only: use volume type "Data"', {
      code: 'LinuxOsDisable',
    });
  }

  const settings: AdeExtensionSettings = {
    EncryptionOperation: operation,
    KeyVaultURL: vaultUrl!,
    KeyVaultResourceId: vaultId!,
    VolumeType: volumeType!,
    SequenceVersion: input.sequenceVersion,
  };
  // Without a KEK the KEK keys are left out entirely: an algorithm or vault id without a KEK URL is
  // at best ignored and at worst rejected ("KEK KeyVault ID was specified but the KEK URL was missing").
  if (kek) {
    settings.KeyEncryptionKeyURL = kek.url;
    settings.KekVaultResourceId = kek.vaultId;
    settings.KeyEncryptionAlgorithm = kek.algorithm;
  }
  if (input.mode === 'aad') settings.AADClientID = input.aadClientId!.toLowerCase();

  const type = ADE_EXTENSION_TYPE[input.os];
  return {
    name: input.existingName?.trim() || type,
    publisher: ADE_PUBLISHER,
    type,
    typeHandlerVersion: ADE_TYPE_HANDLER_VERSION[input.os][input.mode],
    autoUpgradeMinorVersion: true,
    settings,
  };
}

/** The extension resource to PUT at a location (public settings only; the one shape every deployment uses). */
export function adeExtensionSpec(extension: AdeExtension, location: string): Omit<AdeExtension, 'name'> & { location: string } {
  return {
    publisher: extension.publisher,
    type: extension.type,
    typeHandlerVersion: extension.typeHandlerVersion,
    autoUpgradeMinorVersion: extension.autoUpgradeMinorVersion,
    settings: { ...extension.settings },
    location,
  };
}

/**
 * Whether an extension is ADE, by publisher and type rather than by name. Accepts the
 * resource form (`publisher` + `type`) or the instance-view form (`type` = `publisher.type`).
 */
export function isAdeExtension(extension: { publisher?: string; type?: string }, os?: AdeOs): boolean {
  const types = os ? [ADE_EXTENSION_TYPE[os]] : Object.values(ADE_EXTENSION_TYPE);
  const type = extension.type?.trim().toLowerCase() ?? '';
  const publisher = extension.publisher?.trim().toLowerCase();
  return types.some((t) => {
    const lower = t.toLowerCase();
    if (publisher !== undefined) return publisher === ADE_PUBLISHER.toLowerCase() && type === lower;
    return type === `${ADE_PUBLISHER.toLowerCase()}.${lower}`;
  });
}

// --- Dual-pass second pass -------------------------------------------------------------------

/** `storageProfile.osDisk.encryptionSettings` (DiskEncryptionSettings in @azure/arm-compute). */
export interface DualPassEncryptionSettings {
  enabled: boolean;
  diskEncryptionKey?: { secretUrl: string; sourceVault: { id: string } };
  keyEncryptionKey?: { keyUrl: string; sourceVault: { id: string } };
}

export interface DualPassModelInput {
  /** The versioned secret URL the extension reported as its status message. */
  secretUrl: string;
  vault: { url: string; resourceId: string };
  kek?: { url: string; vaultResourceId: string };
}

/**
 * The VM-model encryption settings of the dual-pass second pass, as CLI and PowerShell set them
 * (docs/ade-behaviour.md#settings-and-the-dual-pass-second-pass): enabled, the BEK secret in the disk-encryption vault
 * and, only with a KEK, the key.
 */
export function buildDualPassEncryptionSettings(input: DualPassModelInput): DualPassEncryptionSettings {
  const problems: Array<[string, string]> = [];
  const vaultUrl = checkVaultUrl(input.vault?.url, 'vault.url', problems);
  const vaultId = checkVaultResourceId(input.vault?.resourceId, 'vault.resourceId', problems);
  const secret = /^https:\/\/([a-z0-9-]+)\.[a-z0-9.-]+\/secrets\/[^/?#\s]+\/[0-9a-f]{32}$/i.exec(input.secretUrl ?? '');
  if (!secret)
    problems.push(['secretUrl', 'expected a versioned Key Vault secret URL (https://{vault}.vault.azure.net/secrets/{name}/{version})']);
  else if (vaultUrl && secret[1]!.toLowerCase() !== vaultNameFromUrl(vaultUrl))
    problems.push(['secretUrl', 'points at a different vault than vault.url']);
  let kek: { url: string; vaultId: string } | undefined;
  if (input.kek) {
    const url = checkKekUrl(input.kek.url, 'kek.url', problems);
    const id = checkVaultResourceId(input.kek.vaultResourceId, 'kek.vaultResourceId', problems);
    if (url && id) kek = { url, vaultId: id };
  }
  throwIfProblems(problems);
  const settings: DualPassEncryptionSettings = {
    enabled: true,
    diskEncryptionKey: { secretUrl: input.secretUrl, sourceVault: { id: vaultId! } },
  };
  if (kek) settings.keyEncryptionKey = { keyUrl: kek.url, sourceVault: { id: kek.vaultId } };
  return settings;
}

// --- Input checks ----------------------------------------------------------------------------

const VAULT_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/([a-zA-Z0-9-]{3,24})$/i;

function checkVaultUrl(value: unknown, field: string, problems: Array<[string, string]>): string | undefined {
  if (typeof value !== 'string') {
    problems.push([field, 'expected the vault base URL, e.g. https://myvault.vault.azure.net']);
    return undefined;
  }
  const match = /^https:\/\/([a-z0-9-]+)\.([a-z0-9.-]+)\/?$/i.exec(value.trim());
  if (!match) {
    // A port (":443"), a path or plain http are all rejected by the extension.
    problems.push([field, 'expected https://{vault}.{dns suffix} with no port or path']);
    return undefined;
  }
  // The CLI sends no trailing slash; normalise so re-runs compare equal.
  return `https://${match[1]!.toLowerCase()}.${match[2]!.toLowerCase()}`;
}

function checkVaultResourceId(value: unknown, field: string, problems: Array<[string, string]>): string | undefined {
  if (typeof value !== 'string' || !VAULT_ID.test(value.trim())) {
    // Pitfall 6: a short vault name gets expanded in the wrong resource group.
    problems.push([field, 'expected a full ARM id /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}']);
    return undefined;
  }
  return value.trim();
}

function checkKekUrl(value: unknown, field: string, problems: Array<[string, string]>): string | undefined {
  // Pitfall 7: versioned, no port.
  const match =
    typeof value === 'string' ? /^https:\/\/([a-z0-9-]+)\.([a-z0-9.-]+)\/keys\/([a-z0-9-]+)\/([0-9a-f]{32})$/i.exec(value.trim()) : null;
  if (!match) {
    problems.push([field, 'expected a versioned key URL https://{vault}.vault.azure.net/keys/{name}/{32-hex version} with no port']);
    return undefined;
  }
  return (value as string).trim();
}

function vaultNameFromUrl(url: string): string {
  return /^https:\/\/([^.]+)\./i.exec(url)![1]!.toLowerCase();
}

function vaultNameFromId(id: string): string {
  return VAULT_ID.exec(id)![1]!.toLowerCase();
}

/** Accepts any casing (CLI sends `ALL`) and returns the documented casing. */
export function normaliseVolumeType(value: unknown): AdeVolumeType | undefined {
  if (typeof value !== 'string') return undefined;
  return ({ all: 'All', os: 'OS', data: 'Data' } as const)[value.trim().toLowerCase() as 'all'];
}

function throwIfProblems(problems: Array<[string, string]>): void {
  const first = problems[0];
  if (!first) return;
  const message = problems.map(([field, problem]) => `${field}: ${problem}`).join('; ');
  throw new ValidationError(`Invalid ADE extension input: ${message}`, { field: first[0] });
}
