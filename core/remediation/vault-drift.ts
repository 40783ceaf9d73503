/**
 * Vault drift: how a dedicated ADE vault differs from what disk encryption needs (docs/ade-behaviour.md#secrets-keys-and-vaults):
 * `enabledForDiskEncryption`, soft delete, purge protection, the access-policy model, and the
 * access-policy entries the app relies on (a principal someone removed).
 */
import { coversSubscription, type EncryptionPolicy } from '../policy';
import { isResourceType, parseResourceId } from '../resource-ids';

export interface AccessPolicyLike {
  tenantId: string;
  objectId: string;
  applicationId?: string;
  permissions: { keys?: string[]; secrets?: string[]; certificates?: string[] };
}

export interface VaultStateLike {
  name: string;
  enabledForDiskEncryption: boolean;
  enableSoftDelete: boolean;
  enablePurgeProtection: boolean;
  enableRbacAuthorization: boolean;
  accessPolicies: AccessPolicyLike[];
}

export type VaultDriftKind =
  | 'disk-encryption-disabled'
  | 'soft-delete-disabled'
  | 'purge-protection-disabled'
  | 'access-policy-missing'
  | 'rbac-authorization'
  | 'secret-read-grant'
  /** ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID: the vault's audit-log diagnostic setting is missing or differs (core/vault-diagnostics.ts). */
  | 'diagnostic-setting';

export interface VaultDriftIssue {
  kind: VaultDriftKind;
  detail: string;
  /** False when the app cannot fix it itself (switching a vault back from RBAC changes who can read keys). */
  repairable: boolean;
  /** `secret-read-grant`: the entry as it should be (the read permissions taken out, everything else kept). */
  narrowed?: AccessPolicyLike;
}

/**
 * Secret permissions that read disk keys (`get` returns a BEK's value; `list` enumerates them; `all` includes both).
 * Nobody holds them on a managed vault: ADE's guest only `set`s, the platform reads through `enabledForDiskEncryption`.
 */
export const SECRET_READ_PERMISSIONS = ['get', 'list', 'all'] as const;
/** What `secrets: all` is narrowed to: every secret permission but the reading ones. */
const SECRET_NON_READ_PERMISSIONS = ['set', 'delete', 'recover', 'backup', 'restore', 'purge'];

/**
 * The read grants of one access-policy entry that must go. The app's own entry keeps `list` (secret properties, never
 * values: the BEK health checks read ADE's tags) — everything else that reads secrets is drift.
 */
function secretReadGrants(entry: AccessPolicyLike, listAllowed: boolean): string[] {
  return (entry.permissions.secrets ?? [])
    .map((p) => p.toLowerCase())
    .filter((p) => (SECRET_READ_PERMISSIONS as readonly string[]).includes(p) && !(listAllowed && p === 'list'));
}

const PERMISSION_KINDS = ['keys', 'secrets', 'certificates'] as const;

function missingPermissions(actual: AccessPolicyLike | undefined, wanted: AccessPolicyLike): string[] {
  const out: string[] = [];
  for (const kind of PERMISSION_KINDS) {
    const have = new Set((actual?.permissions[kind] ?? []).map((p) => p.toLowerCase()));
    if (have.has('all')) continue;
    for (const p of wanted.permissions[kind] ?? []) if (!have.has(p.toLowerCase())) out.push(`${kind}/${p}`);
  }
  return out;
}

/**
 * `options.listAllowedFor`: object ids that may keep `secrets/list` (the app itself). Everything else holding
 * `secrets/get`, `list` or `all` on a managed vault is reported as repairable `secret-read-grant` drift.
 */
export function vaultDrift(
  vault: VaultStateLike,
  requiredPolicies: readonly AccessPolicyLike[] = [],
  options: { listAllowedFor?: readonly string[]; readAllowedFor?: readonly string[] } = {},
): VaultDriftIssue[] {
  const issues: VaultDriftIssue[] = [];
  if (!vault.enabledForDiskEncryption)
    issues.push({
      kind: 'disk-encryption-disabled',
      detail: `vault ${vault.name}: enabledForDiskEncryption is off, so the platform cannot read BEK secrets at VM start`,
      repairable: true,
    });
  if (!vault.enableSoftDelete)
    issues.push({
      kind: 'soft-delete-disabled',
      detail: `vault ${vault.name}: soft delete is off, so a deleted BEK secret cannot be recovered`,
      repairable: true,
    });
  if (!vault.enablePurgeProtection)
    issues.push({
      kind: 'purge-protection-disabled',
      detail: `vault ${vault.name}: purge protection is off, so a deleted BEK secret can be purged for good`,
      repairable: true,
    });
  if (vault.enableRbacAuthorization) {
    issues.push({
      kind: 'rbac-authorization',
      detail:
        `vault ${vault.name} was switched to the RBAC permission model; ADE vaults of this app use access policies. Switch it ` +
        `back (enableRbacAuthorization=false) after checking who needs access`,
      repairable: false,
    });
  } else {
    for (const wanted of requiredPolicies) {
      const actual = vault.accessPolicies.find(
        (p) =>
          p.objectId.toLowerCase() === wanted.objectId.toLowerCase() &&
          p.tenantId.toLowerCase() === wanted.tenantId.toLowerCase() &&
          (p.applicationId ?? '').toLowerCase() === (wanted.applicationId ?? '').toLowerCase(),
      );
      const missing = missingPermissions(actual, wanted);
      if (missing.length > 0)
        issues.push({
          kind: 'access-policy-missing',
          detail: `vault ${vault.name}: principal ${wanted.objectId} ${actual ? 'lacks' : 'was removed; it needs'} ${missing.join(', ')}`,
          repairable: true,
        });
    }
    const listAllowed = new Set((options.listAllowedFor ?? []).map((id) => id.toLowerCase()));
    // The configured Backup Management Service principal reads secrets by design (ADE_VAULT_BACKUP_PRINCIPAL_ID).
    const readAllowed = new Set((options.readAllowedFor ?? []).map((id) => id.toLowerCase()));
    for (const entry of vault.accessPolicies) {
      if (readAllowed.has(entry.objectId.toLowerCase())) continue;
      const reads = secretReadGrants(entry, listAllowed.has(entry.objectId.toLowerCase()));
      if (reads.length === 0) continue;
      const kept = (entry.permissions.secrets ?? []).map((p) => p.toLowerCase()).filter((p) => !reads.includes(p));
      const secrets = new Set(reads.includes('all') ? [...kept, ...SECRET_NON_READ_PERMISSIONS] : kept);
      if (listAllowed.has(entry.objectId.toLowerCase()) && reads.includes('all')) secrets.add('list');
      // An ADE dual-pass principal (it wraps keys) keeps or gets back the `set` it needs to store the BEK.
      if ((entry.permissions.keys ?? []).some((k) => k.toLowerCase() === 'wrapkey')) secrets.add('set');
      issues.push({
        kind: 'secret-read-grant',
        detail: `vault ${vault.name}: principal ${entry.objectId} has secrets/${reads.join(', secrets/')} (reads disk encryption keys)`,
        repairable: true,
        narrowed: { ...entry, permissions: { ...entry.permissions, secrets: [...secrets] } },
      });
    }
  }
  return issues;
}

/** True for a vault this app manages: in the policy's vault resource group with the app's name prefix. */
export function isManagedVault(vaultResourceId: string, policy: Pick<EncryptionPolicy, 'vault' | 'scope'>): boolean {
  let id;
  try {
    id = parseResourceId(vaultResourceId, 'vaultResourceId');
  } catch {
    return false;
  }
  const name = id.names[0]?.toLowerCase() ?? '';
  return (
    isResourceType(id, 'Microsoft.KeyVault/vaults') &&
    id.resourceGroup?.toLowerCase() === policy.vault.resourceGroup.toLowerCase() &&
    name.startsWith(`${policy.vault.namePrefix}-`) &&
    coversSubscription(policy, id.subscriptionId)
  );
}

/**
 * The BEK secrets that sit in vaults this app does not manage (a VM encrypted before the app existed, or by hand).
 * The template grants the app nothing outside its vault group, so it cannot check or recover them: they are reported
 * with {@link unmanagedVaultNextStep} instead of failing on Key Vault's 403.
 */
export function secretsInUnmanagedVaults<T extends { vaultResourceId?: string }>(
  secrets: readonly T[],
  policy: Pick<EncryptionPolicy, 'vault' | 'scope'>,
): T[] {
  return secrets.filter((s) => s.vaultResourceId !== undefined && s.vaultResourceId !== '' && !isManagedVault(s.vaultResourceId, policy));
}

/** What the operator does about disk keys in a vault the app does not manage. */
export function unmanagedVaultNextStep(vaultNames: readonly string[], policy: Pick<EncryptionPolicy, 'vault'>): string {
  const names = [...new Set(vaultNames)].join(', ');
  return (
    `the VM's disk encryption keys are in ${names}, which ade-autopilot does not manage (it holds no access outside ` +
    `${policy.vault.resourceGroup}): check or recover the secret there yourself (az keyvault secret show / recover), then ` +
    `deallocate and start the VM; or re-encrypt the VM with ade-autopilot so its keys move to a managed vault`
  );
}

/**
 * Resource Manager refused the app in the vault group of a subscription (403 `AuthorizationFailed`): the group's Key Vault
 * Contributor and EventGrid Contributor assignments are deployed per subscription by infra/main.json (the subscription in
 * `targetSubscriptionIds`), so a subscription found later under an `ADE_SCOPE` management group lacks them until the
 * operator re-runs the deployment. Anything else (a refusal elsewhere, a Key Vault data-plane 403) is not this case.
 */
export function isVaultGroupRolesMissing(failure: { kind?: string; code?: string }): boolean {
  return failure.kind === 'permission' && failure.code === 'AuthorizationFailed';
}

/**
 * What the operator does when the vault group's roles are missing in a subscription (infra/README.md, "Management groups"),
 * for a VM (encryptVm) or a Uniform scale set (encryptVmss), whose own write events start the next run.
 */
export function vaultGroupRolesNextStep(
  subscriptionId: string,
  policy: Pick<EncryptionPolicy, 'vault'>,
  target: 'VM' | 'scale set' = 'VM',
): string {
  return (
    `grant the app's identity Key Vault Contributor and EventGrid Contributor on /subscriptions/${subscriptionId}/resourceGroups/` +
    `${policy.vault.resourceGroup}: add ${subscriptionId} to targetSubscriptionIds in the parameters file and re-run ` +
    `infra/deploy.sh (or az deployment sub create --name ade-autopilot --location <region> --template-file infra/main.json ` +
    `--parameters @<parameters file>); the next sweep or ${target} write then encrypts the ${target}`
  );
}
