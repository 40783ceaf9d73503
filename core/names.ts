/**
 * Deterministic names: orchestration instance ids, Key Vault names, Entra app display names, and
 * what the app creates in each vault (KEK, event subscription).
 *
 * All are pure functions of their inputs (plus a hash), so a redelivered event maps to the same
 * orchestration and vault, and ids that differ only in case map to the same name.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from './errors';
import { VAULT_NAME_PREFIX } from './policy';
import { isGuid, isResourceType, normaliseResourceId, parseResourceId, parseVmId } from './resource-ids';

/**
 * Durable instance ids may not contain these (docs/ade-behaviour.md#platform-limits-the-app-stays-under); ids stay far
 * below key length limits.
 */
const INSTANCE_ID_FORBIDDEN = /[/\\?#\p{Cc}]/u;
export const MAX_INSTANCE_ID_LENGTH = 100;
const INSTANCE_HASH_LENGTH = 12;

const VAULT_NAME_MAX = 24;
const VAULT_NAME = /^[a-z][a-z0-9-]{1,22}[a-z0-9]$/;
const PURPOSE = /^[a-z][a-z0-9-]{0,15}$/;

const ENTRA_APP_NAME_PREFIX = 'ade-autopilot-';

const quoted = (text: string): string => JSON.stringify(text);

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Lower-case, keep [a-z0-9], squash everything else into single hyphens, trim hyphens, cap length. */
function slug(text: string, maxLength: number): string {
  const s = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '') // drop accents so `élite` reads `elite`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s.slice(0, maxLength).replace(/-+$/, '') || 'x';
}

/**
 * Orchestration instance id for a VM, e.g. `encrypt-0b1f6471-rg-app-vm-01-3f9a0c1d2e4b`.
 * Readable prefix (purpose, first 8 chars of the subscription, resource group, VM name) plus a hash of
 * the normalised id, so truncation or slug collisions (`rg.a` vs `rg-a`) cannot merge two VMs.
 */
export function orchestrationInstanceId(vmResourceId: string, purpose = 'encrypt'): string {
  if (!PURPOSE.test(purpose))
    throw new ValidationError(`purpose must be 1–16 lower-case letters, digits or hyphens, letter first: got ${quoted(purpose)}`, {
      field: 'purpose',
    });
  const vm = parseVmId(vmResourceId, 'vmResourceId');
  const hash = sha256Hex(`${purpose}|${normaliseResourceId(vmResourceId, 'vmResourceId')}`).slice(0, INSTANCE_HASH_LENGTH);
  const sub8 = vm.subscriptionId.slice(0, 8);
  const fixed = purpose.length + 1 + sub8.length + 1 + 1 + 1 + hash.length; // hyphens around rg and vm
  const room = MAX_INSTANCE_ID_LENGTH - fixed;
  const rg = slug(vm.resourceGroup, Math.min(30, Math.floor(room / 2)));
  const name = slug(vm.name, room - rg.length);
  const id = `${purpose}-${sub8}-${rg}-${name}-${hash}`;
  // Defensive: the construction above cannot produce these, and a bad id would break the durable client.
  if (INSTANCE_ID_FORBIDDEN.test(id) || id.length > MAX_INSTANCE_ID_LENGTH) throw new Error(`internal: built an invalid instance id ${id}`);
  return id;
}

/**
 * The `encryptVmss` run of a scale set, e.g. `encrypt-vmss-0b1f6471-rg-app-web-3f9a0c1d2e4b`: one run per scale set at a
 * time, whatever starts it (the write event, the sweep). The hash covers the normalised scale set id.
 */
export function scaleSetInstanceId(scaleSetId: string): string {
  const id = parseResourceId(scaleSetId, 'scaleSetId');
  if (!isResourceType(id, 'Microsoft.Compute/virtualMachineScaleSets') || id.resourceGroup === undefined)
    throw new ValidationError(`scaleSetId is not a virtual machine scale set id: got ${quoted(String(scaleSetId).slice(0, 200))}`, {
      field: 'scaleSetId',
    });
  const hash = sha256Hex(`encrypt-vmss|${normaliseResourceId(id)}`).slice(0, INSTANCE_HASH_LENGTH);
  const sub8 = id.subscriptionId.slice(0, 8);
  const room = MAX_INSTANCE_ID_LENGTH - ('encrypt-vmss-'.length + sub8.length + 2 + 1 + hash.length);
  const rg = slug(id.resourceGroup, Math.min(30, Math.floor(room / 2)));
  const name = slug(id.names[0] ?? 'x', room - rg.length);
  return `encrypt-vmss-${sub8}-${rg}-${name}-${hash}`;
}

/** The remediation of one VM: two drift signals for the same VM find the same instance. */
export function remediationInstanceId(vmId: string): string {
  return orchestrationInstanceId(vmId, 'remediate');
}

export function restoreInstanceId(vmId: string): string {
  return orchestrationInstanceId(vmId, 'restore');
}

/** `remediate-vault-<vault name>-<hash>`: vault names are already DNS-safe (≤ 24 chars). */
export function vaultRemediationInstanceId(vaultId: string): string {
  const id = parseResourceId(vaultId, 'vaultId');
  const hash = sha256Hex(`vault|${normaliseResourceId(id)}`).slice(0, INSTANCE_HASH_LENGTH);
  return `remediate-vault-${(id.names[0] ?? 'x').toLowerCase()}-${hash}`;
}

/** One fleet sweep of each kind at a time. */
export const SWEEP_INSTANCE_ID = { backfill: 'sweep-backfill', 'bek-health': 'sweep-bek-health' } as const;

/** The ids this app gives its runs (above); anything else was never returned by a starter. */
const APP_INSTANCE_ID =
  /^(?:(?:encrypt|encrypt-vmss|remediate|restore)-[0-9a-f]{8}-[a-z0-9-]+-[0-9a-f]{12}|remediate-vault-[a-z0-9-]{3,24}-[0-9a-f]{12}|sweep-backfill|sweep-bek-health)$/i;

export function isAppInstanceId(id: string): boolean {
  return id.length <= MAX_INSTANCE_ID_LENGTH && APP_INSTANCE_ID.test(id);
}

export function isValidInstanceId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_INSTANCE_ID_LENGTH && !INSTANCE_ID_FORBIDDEN.test(id);
}

// Short codes for vault names; unknown regions fall back to a slug (the hash keeps names unique).
const REGION_CODES: Readonly<Record<string, string>> = {
  eastus: 'eus',
  eastus2: 'eus2',
  westus: 'wus',
  westus2: 'wus2',
  westus3: 'wus3',
  centralus: 'cus',
  northcentralus: 'ncus',
  southcentralus: 'scus',
  westcentralus: 'wcus',
  canadacentral: 'cac',
  canadaeast: 'cae',
  brazilsouth: 'brs',
  mexicocentral: 'mxc',
  northeurope: 'neu',
  westeurope: 'weu',
  uksouth: 'uks',
  ukwest: 'ukw',
  francecentral: 'frc',
  francesouth: 'frs',
  germanywestcentral: 'gwc',
  germanynorth: 'gn',
  swedencentral: 'sec',
  switzerlandnorth: 'chn',
  switzerlandwest: 'chw',
  norwayeast: 'noe',
  norwaywest: 'now',
  polandcentral: 'plc',
  italynorth: 'itn',
  spaincentral: 'esc',
  eastasia: 'ea',
  southeastasia: 'sea',
  japaneast: 'jpe',
  japanwest: 'jpw',
  koreacentral: 'krc',
  koreasouth: 'krs',
  centralindia: 'inc',
  southindia: 'ins',
  westindia: 'inw',
  australiaeast: 'aue',
  australiasoutheast: 'ause',
  australiacentral: 'auc',
  uaenorth: 'uaen',
  uaecentral: 'uaec',
  southafricanorth: 'san',
  southafricawest: 'saw',
  qatarcentral: 'qac',
  israelcentral: 'ilc',
};

/** ARM locations arrive as `westeurope` or `West Europe`; compare in this form. */
export function normaliseLocation(location: string): string {
  return location.toLowerCase().replace(/[^a-z0-9]/g, '');
}

export function regionShortCode(location: string): string {
  const normalised = normaliseLocation(location);
  if (normalised === '') throw new ValidationError('location must not be empty', { field: 'location' });
  return REGION_CODES[normalised] ?? normalised.slice(0, 4);
}

export function isValidVaultName(name: string): boolean {
  return VAULT_NAME.test(name) && !name.includes('--');
}

export type VaultNameInput = (
  | { strategy: 'per-region'; prefix: string; subscriptionId: string; location: string }
  | { strategy: 'per-vm'; prefix: string; vmResourceId: string; location: string }
) & {
  /** Per-deployment salt (ADE_VAULT_NAME_SALT): without it, anyone who knows the subscription id can compute the names. */
  salt?: string;
  /** 0 = the first choice; 1.. = the fallbacks used when a name is held elsewhere (Key Vault names are global). */
  attempt?: number;
};

/** How many names a vault may try (the first choice and its fallbacks) before the run fails with the reason. */
export const VAULT_NAME_ATTEMPTS = 4;

/**
 * Dedicated vault name: `<prefix>-<region code>-<hash>`, exactly 24 chars (the hash fills the rest, for
 * as much global uniqueness as the limit allows). per-region hashes subscription+region; per-vm hashes
 * the normalised VM id (which includes the subscription). The salt and the attempt number, when set,
 * are hashed in too (attempt 0 without a salt gives the names of earlier versions).
 */
export function vaultName(input: VaultNameInput): string {
  if (!VAULT_NAME_PREFIX.test(input.prefix)) {
    throw new ValidationError(
      `prefix must be 2–8 chars, a lower-case letter first, then lower-case letters or digits: got ${JSON.stringify(input.prefix)}`,
      { field: 'prefix' },
    );
  }
  const region = regionShortCode(input.location);
  let seed: string;
  if (input.strategy === 'per-region') {
    if (!isGuid(input.subscriptionId)) {
      throw new ValidationError(`subscriptionId must be a GUID: got ${JSON.stringify(input.subscriptionId)}`, { field: 'subscriptionId' });
    }
    seed = `per-region|${input.subscriptionId.toLowerCase()}|${normaliseLocation(input.location)}`;
  } else {
    seed = `per-vm|${normaliseResourceId(input.vmResourceId, 'vmResourceId')}`;
    parseVmId(input.vmResourceId, 'vmResourceId');
  }
  if (input.salt !== undefined && input.salt !== '') seed += `|salt|${input.salt}`;
  const attempt = input.attempt ?? 0;
  if (!Number.isInteger(attempt) || attempt < 0 || attempt >= VAULT_NAME_ATTEMPTS)
    throw new ValidationError(`attempt must be an integer 0–${VAULT_NAME_ATTEMPTS - 1}: got ${attempt}`, { field: 'attempt' });
  if (attempt > 0) seed += `|attempt|${attempt}`;
  const hashLength = VAULT_NAME_MAX - input.prefix.length - region.length - 2;
  const name = `${input.prefix}-${region}-${sha256Hex(seed).slice(0, hashLength)}`;
  if (!isValidVaultName(name)) throw new Error(`internal: built an invalid vault name ${name}`);
  return name;
}

/**
 * Every name the dedicated vault of this VM may have under the app's vault settings, first choice first
 * (the fallbacks are taken, in order, when a name is held by someone else). A vault is this app's only if
 * it has one of these names, in the configured resource group of the VM's subscription.
 */
export function vaultNamesFor(
  vault: { strategy: 'per-region' | 'per-vm'; namePrefix: string; nameSalt?: string },
  vm: { id: string; subscriptionId: string; location: string },
): string[] {
  return Array.from({ length: VAULT_NAME_ATTEMPTS }, (_, attempt) =>
    vaultName({
      ...(vault.strategy === 'per-region'
        ? { strategy: 'per-region' as const, subscriptionId: vm.subscriptionId }
        : { strategy: 'per-vm' as const, vmResourceId: vm.id }),
      prefix: vault.namePrefix,
      location: vm.location,
      ...(vault.nameSalt ? { salt: vault.nameSalt } : {}),
      attempt,
    }),
  );
}

/** Tag on every dedicated vault: the first-choice name it stands for (a fallback vault is found by it). */
export const VAULT_KEY_TAG = 'ade-autopilot/vault-key';

/** Display name of the Entra app used for dual-pass (aad) encryption with a given vault. */
export function entraAppDisplayName(vault: string): string {
  if (!isValidVaultName(vault))
    throw new ValidationError(`vault name ${JSON.stringify(vault)} is not a valid Key Vault name`, { field: 'vaultName' });
  return `${ENTRA_APP_NAME_PREFIX}${vault}`;
}

/** Every short-lived password this app adds starts with this (the credential janitor removes only these). */
export const CREDENTIAL_NAME_PREFIX = 'ade-autopilot run';

/** Display name of a short-lived password: names the orchestration instance that holds it, when known. */
export function credentialDisplayName(runId?: string): string {
  return runId && isValidInstanceId(runId) ? `${CREDENTIAL_NAME_PREFIX} ${runId}` : CREDENTIAL_NAME_PREFIX;
}

/**
 * The holder named by a password's display name: an instance id, `undefined` for one of ours without a holder (older
 * names: `ade-autopilot extension run`, `ade-autopilot short-lived`), `null` for a password that is not ours.
 */
export function credentialHolder(displayName: string | undefined): string | undefined | null {
  if (!displayName?.startsWith('ade-autopilot')) return null;
  if (!displayName.startsWith(`${CREDENTIAL_NAME_PREFIX} `)) return undefined;
  const rest = displayName.slice(CREDENTIAL_NAME_PREFIX.length + 1);
  return isAppInstanceId(rest) ? rest : undefined;
}

/** The key encryption key in each dedicated vault. */
export const KEK_NAME = 'ade-kek';

/** Event subscription on the vault's system topic that feeds secretEvents (3–64 chars, letters, digits, hyphens). */
export function secretEventSubscriptionName(vaultName: string): string {
  return `ade-secrets-${vaultName.toLowerCase()}`.slice(0, 64);
}
