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
  'disk-encryption-disabled' | 'soft-delete-disabled' | 'purge-protection-disabled' | 'access-policy-missing' | 'rbac-authorization';

export interface VaultDriftIssue {
  kind: VaultDriftKind;
  detail: string;
  /** False when the app cannot fix it itself (switching a vault back from RBAC changes who can read keys). */
  repairable: boolean;
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

export function vaultDrift(vault: VaultStateLike, requiredPolicies: readonly AccessPolicyLike[] = []): VaultDriftIssue[] {
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
