/**
 * VaultManagementPort over @azure/arm-keyvault (management plane). One client per subscription.
 *
 * ensureVault never PUTs over an existing vault: a PUT replaces `accessPolicies` wholesale, so two
 * orchestrations racing on the same vault could wipe each other's entries. Existing vaults get a
 * PATCH of the differing flags and `accessPolicies/add` for missing entries instead; only a vault
 * that does not exist yet is created with PUT (and two racing creators send the same body).
 */
import {
  KeyVaultManagementClient,
  type AccessPolicyEntry,
  type KeyVaultManagementClientOptionalParams,
  type Vault,
  type VaultPatchProperties,
} from '@azure/arm-keyvault';
import type { TokenCredential } from '@azure/core-auth';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors';
import { formatKeyVaultResourceId, parseResourceId } from '../core/resource-ids';
import { ClientsBySubscription, pollOptionsOf, resourcePlacement } from './arm-clients';
import { callAzure, callAzureOrUndefined } from './errors';
import type {
  AccessPolicy,
  AccessPolicyPermissions,
  DeletedVaultInfo,
  EnsureVaultResult,
  NameAvailability,
  VaultInfo,
  VaultManagementPort,
  VaultSpec,
} from './ports';

export interface VaultManagementAdapterOptions {
  clientOptions?: KeyVaultManagementClientOptionalParams;
  pollIntervalMs?: number;
}

export class VaultManagementAdapter implements VaultManagementPort {
  private readonly clients = new ClientsBySubscription(
    (subscriptionId, defaults) =>
      new KeyVaultManagementClient(this.credential, subscriptionId, { ...defaults, ...this.options.clientOptions }),
  );

  constructor(
    private readonly credential: TokenCredential,
    /** Subscription for subscription-less calls (checkNameAvailability). */
    private readonly defaultSubscriptionId: string | undefined,
    private readonly options: VaultManagementAdapterOptions = {},
  ) {}

  private client(subscriptionId: string): KeyVaultManagementClient {
    return this.clients.get(subscriptionId);
  }

  private get pollOptions(): { updateIntervalInMs?: number } {
    return pollOptionsOf(this.options.pollIntervalMs);
  }

  async getVault(vaultId: string): Promise<VaultInfo | undefined> {
    const id = parseVaultId(vaultId);
    const vault = await callAzureOrUndefined(`Read Key Vault ${vaultId}`, () =>
      this.client(id.subscriptionId).vaults.get(id.resourceGroup, id.name),
    );
    return vault ? toVaultInfo(vault) : undefined;
  }

  async ensureVault(spec: VaultSpec): Promise<EnsureVaultResult> {
    validateSpec(spec);
    const vaultId = formatKeyVaultResourceId(spec.subscriptionId, spec.resourceGroup, spec.name);
    const existing = await this.getVault(vaultId);
    if (existing) return this.reconcile(existing, spec);

    const deleted = await this.getDeletedVault(spec.name, spec.location, spec.subscriptionId);
    if (deleted) {
      // A soft-deleted vault keeps its name reserved (and its keys and secrets, which may be
      // needed to boot VMs): recover it rather than fail or pick another name.
      const recovered = await this.recoverVault(spec);
      const reconciled = await this.reconcile(recovered, spec);
      return { vault: reconciled.vault, action: 'recovered' };
    }

    const created = await callAzure(`Create Key Vault ${vaultId}`, () =>
      this.client(spec.subscriptionId)
        .vaults.createOrUpdate(
          spec.resourceGroup,
          spec.name,
          {
            location: spec.location,
            tags: { ...(spec.tags ?? {}) },
            properties: {
              tenantId: spec.tenantId,
              sku: { family: 'A', name: 'standard' },
              accessPolicies: (spec.accessPolicies ?? []).map(toSdkPolicy),
              enabledForDiskEncryption: true,
              enabledForDeployment: false,
              enabledForTemplateDeployment: false,
              enableSoftDelete: true,
              softDeleteRetentionInDays: spec.softDeleteRetentionInDays,
              enablePurgeProtection: spec.enablePurgeProtection ? true : undefined,
              enableRbacAuthorization: false,
              createMode: 'default',
              ...(spec.networkRules
                ? {
                    networkAcls: {
                      bypass: 'AzureServices',
                      defaultAction: spec.networkRules.defaultAction,
                      ipRules: spec.networkRules.ipRules.map((value) => ({ value })),
                    },
                  }
                : {}),
            },
          },
          this.pollOptions,
        )
        .pollUntilDone(),
    );
    return { vault: toVaultInfo(created), action: 'created' };
  }

  /** Brings an existing vault in line with the spec without touching other principals' entries. */
  private async reconcile(vault: VaultInfo, spec: VaultSpec): Promise<EnsureVaultResult> {
    if (normaliseLocation(vault.location) !== normaliseLocation(spec.location)) {
      // ADE requires the vault in the VM's region (docs/ade-behaviour.md#secrets-keys-and-vaults); never "fix" this by using it.
      throw new ConflictError(
        `Key Vault ${vault.name} exists in ${vault.location}, not ${spec.location}; ADE needs a vault in the VM's region`,
        { code: 'VaultLocationMismatch' },
      );
    }
    if (vault.enableRbacAuthorization) {
      throw new ConflictError(
        `Key Vault ${vault.name} uses the RBAC permission model; ade-autopilot manages access policies and needs the access-policy model`,
        { code: 'VaultUsesRbac' },
      );
    }
    const patch: VaultPatchProperties = {};
    if (!vault.enabledForDiskEncryption) patch.enabledForDiskEncryption = true;
    if (!vault.enableSoftDelete) patch.enableSoftDelete = true;
    if (spec.enablePurgeProtection && !vault.enablePurgeProtection) patch.enablePurgeProtection = true;
    const missingTags = Object.entries(spec.tags ?? {}).filter(([k, v]) => vault.tags[k] !== v);

    let current = vault;
    let changed = false;
    if (Object.keys(patch).length > 0 || missingTags.length > 0) {
      const updated = await callAzure(`Update Key Vault ${vault.id}`, () =>
        this.client(vault.subscriptionId).vaults.update(vault.resourceGroup, vault.name, {
          ...(Object.keys(patch).length > 0 ? { properties: patch } : {}),
          ...(missingTags.length > 0 ? { tags: { ...vault.tags, ...Object.fromEntries(missingTags) } } : {}),
        }),
      );
      current = toVaultInfo(updated);
      changed = true;
    }
    for (const wanted of spec.accessPolicies ?? []) {
      if (!coversPolicy(current.accessPolicies, wanted)) {
        await this.setAccessPolicy(current.id, wanted, 'add');
        changed = true;
      }
    }
    if (changed) current = (await this.getVault(current.id)) ?? current;
    return { vault: current, action: changed ? 'updated' : 'unchanged' };
  }

  /**
   * `add` merges permissions into the principal's entry. `replace` makes the principal's entry
   * exactly `policy.permissions`. ARM's own `accessPolicies/replace` swaps the vault's WHOLE list,
   * which would drop every other principal, so replace is done per principal as `remove` of the
   * surplus permissions plus `add` of the wanted ones (a narrower grant never widens in between).
   */
  async setAccessPolicy(vaultId: string, policy: AccessPolicy, kind: 'add' | 'replace' = 'add'): Promise<void> {
    const id = parseVaultId(vaultId);
    const client = this.client(id.subscriptionId);
    const what = `access policy for ${policy.objectId} on Key Vault ${vaultId}`;
    if (kind === 'replace') {
      const vault = await this.getVault(vaultId);
      if (!vault) throw new NotFoundError(`Cannot replace ${what}: the vault does not exist`);
      const current = vault.accessPolicies.find((e) => samePrincipal(e, policy));
      const surplus = current ? subtractPermissions(current.permissions, policy.permissions) : { keys: [], secrets: [], certificates: [] };
      if (surplus.keys.length + surplus.secrets.length + surplus.certificates.length > 0) {
        await callAzure(`Remove surplus permissions from ${what}`, () =>
          client.vaults.updateAccessPolicy(id.resourceGroup, id.name, 'remove', {
            properties: { accessPolicies: [toSdkPolicy({ ...policy, permissions: surplus })] },
          }),
        );
      }
    }
    if (!Object.values(policy.permissions).some((list) => (list ?? []).length > 0)) return;
    await callAzure(`Add ${what}`, () =>
      client.vaults.updateAccessPolicy(id.resourceGroup, id.name, 'add', { properties: { accessPolicies: [toSdkPolicy(policy)] } }),
    );
  }

  /** Removes the principal's entry (ARM drops an entry once all its permissions are removed). */
  async removeAccessPolicy(vaultId: string, policy: Pick<AccessPolicy, 'tenantId' | 'objectId' | 'applicationId'>): Promise<void> {
    const id = parseVaultId(vaultId);
    const vault = await this.getVault(vaultId);
    const current = vault?.accessPolicies.find((e) => samePrincipal(e, policy));
    if (!current) return;
    await callAzure(`Remove access policy for ${policy.objectId} on Key Vault ${vaultId}`, () =>
      this.client(id.subscriptionId).vaults.updateAccessPolicy(id.resourceGroup, id.name, 'remove', {
        properties: { accessPolicies: [toSdkPolicy(current)] },
      }),
    );
  }

  async checkNameAvailability(name: string, subscriptionId: string | undefined = this.defaultSubscriptionId): Promise<NameAvailability> {
    if (!subscriptionId)
      throw new ValidationError('checkNameAvailability needs a subscription id (AZURE_SUBSCRIPTION_ID or ADE_SUBSCRIPTIONS)', {
        field: 'subscriptionId',
      });
    const result = await callAzure(`Check Key Vault name ${name}`, () =>
      this.client(subscriptionId).vaults.checkNameAvailability({ name, type: 'Microsoft.KeyVault/vaults' }),
    );
    const out: NameAvailability = { available: result.nameAvailable === true };
    if (result.reason) out.reason = result.reason;
    if (result.message) out.message = result.message;
    return out;
  }

  async getDeletedVault(
    name: string,
    location: string,
    subscriptionId: string | undefined = this.defaultSubscriptionId,
  ): Promise<DeletedVaultInfo | undefined> {
    if (!subscriptionId) throw new ValidationError('getDeletedVault needs a subscription id', { field: 'subscriptionId' });
    const deleted = await callAzureOrUndefined(`Read deleted Key Vault ${name} in ${location}`, () =>
      this.client(subscriptionId).vaults.getDeleted(name, location),
    );
    if (!deleted) return undefined;
    const info: DeletedVaultInfo = { name: deleted.name ?? name };
    if (deleted.id) info.id = deleted.id;
    const p = deleted.properties;
    if (p?.location) info.location = p.location;
    if (p?.vaultId) info.vaultId = p.vaultId;
    if (p?.deletionDate) info.deletionDate = p.deletionDate.toISOString();
    if (p?.scheduledPurgeDate) info.scheduledPurgeDate = p.scheduledPurgeDate.toISOString();
    if (p?.purgeProtectionEnabled !== undefined) info.purgeProtectionEnabled = p.purgeProtectionEnabled;
    if (p?.tags) info.tags = { ...p.tags };
    return info;
  }

  async recoverVault(spec: Pick<VaultSpec, 'subscriptionId' | 'resourceGroup' | 'name' | 'location' | 'tenantId'>): Promise<VaultInfo> {
    const vaultId = formatKeyVaultResourceId(spec.subscriptionId, spec.resourceGroup, spec.name);
    const recovered = await callAzure(`Recover deleted Key Vault ${vaultId}`, () =>
      this.client(spec.subscriptionId)
        .vaults.createOrUpdate(
          spec.resourceGroup,
          spec.name,
          {
            location: spec.location,
            properties: { tenantId: spec.tenantId, sku: { family: 'A', name: 'standard' }, createMode: 'recover' },
          },
          this.pollOptions,
        )
        .pollUntilDone(),
    );
    return toVaultInfo(recovered);
  }
}

function toVaultInfo(vault: Vault): VaultInfo {
  if (!vault.id) throw new ValidationError('Resource Manager returned a vault without an id', { field: 'id' });
  const id = parseVaultId(vault.id);
  const p = vault.properties;
  const info: VaultInfo = {
    id: vault.id,
    ...resourcePlacement(id, vault),
    tenantId: p?.tenantId ?? '',
    vaultUri: p?.vaultUri ?? `https://${(vault.name ?? id.name).toLowerCase()}.vault.azure.net/`,
    skuName: p?.sku?.name ?? 'standard',
    enabledForDiskEncryption: p?.enabledForDiskEncryption === true,
    // Soft delete is on by default (and mandatory for new vaults); absent means on.
    enableSoftDelete: p?.enableSoftDelete !== false,
    enablePurgeProtection: p?.enablePurgeProtection === true,
    enableRbacAuthorization: p?.enableRbacAuthorization === true,
    accessPolicies: (p?.accessPolicies ?? []).map((a) => ({
      tenantId: a.tenantId,
      objectId: a.objectId,
      ...(a.applicationId ? { applicationId: a.applicationId } : {}),
      permissions: {
        ...(a.permissions.keys ? { keys: [...a.permissions.keys] } : {}),
        ...(a.permissions.secrets ? { secrets: [...a.permissions.secrets] } : {}),
        ...(a.permissions.certificates ? { certificates: [...a.permissions.certificates] } : {}),
      },
    })),
    tags: { ...(vault.tags ?? {}) },
  };
  if (p?.softDeleteRetentionInDays !== undefined) info.softDeleteRetentionInDays = p.softDeleteRetentionInDays;
  if (p?.provisioningState) info.provisioningState = p.provisioningState;
  return info;
}

function samePrincipal(
  a: Pick<AccessPolicy, 'tenantId' | 'objectId' | 'applicationId'>,
  b: Pick<AccessPolicy, 'tenantId' | 'objectId' | 'applicationId'>,
): boolean {
  return (
    a.objectId.toLowerCase() === b.objectId.toLowerCase() &&
    a.tenantId.toLowerCase() === b.tenantId.toLowerCase() &&
    (a.applicationId ?? '').toLowerCase() === (b.applicationId ?? '').toLowerCase()
  );
}

/** Permissions in `granted` that `wanted` does not include (case-insensitive). */
export function subtractPermissions(granted: AccessPolicyPermissions, wanted: AccessPolicyPermissions): Required<AccessPolicyPermissions> {
  const minus = (a: string[] | undefined, b: string[] | undefined): string[] => {
    const keep = new Set((b ?? []).map((p) => p.toLowerCase()));
    return (a ?? []).filter((p) => !keep.has(p.toLowerCase()));
  };
  return {
    keys: minus(granted.keys, wanted.keys),
    secrets: minus(granted.secrets, wanted.secrets),
    certificates: minus(granted.certificates, wanted.certificates),
  };
}

/** True when some entry for the same principal already grants every wanted permission. */
export function coversPolicy(existing: readonly AccessPolicy[], wanted: AccessPolicy): boolean {
  const entry = existing.find((e) => samePrincipal(e, wanted));
  if (!entry) return false;
  const has = (granted: string[] | undefined, needed: string[] | undefined): boolean => {
    const set = new Set((granted ?? []).map((p) => p.toLowerCase()));
    if (set.has('all')) return true;
    return (needed ?? []).every((p) => set.has(p.toLowerCase()));
  };
  return (
    has(entry.permissions.keys, wanted.permissions.keys) &&
    has(entry.permissions.secrets, wanted.permissions.secrets) &&
    has(entry.permissions.certificates, wanted.permissions.certificates)
  );
}

function toSdkPolicy(policy: AccessPolicy): AccessPolicyEntry {
  const entry: AccessPolicyEntry = {
    tenantId: policy.tenantId,
    objectId: policy.objectId,
    permissions: {
      keys: [...(policy.permissions.keys ?? [])],
      secrets: [...(policy.permissions.secrets ?? [])],
      certificates: [...(policy.permissions.certificates ?? [])],
    },
  };
  if (policy.applicationId) entry.applicationId = policy.applicationId;
  return entry;
}

function parseVaultId(vaultId: string): { subscriptionId: string; resourceGroup: string; name: string } {
  const id = parseResourceId(vaultId, 'vaultId');
  if (
    !id.resourceGroup ||
    id.provider?.toLowerCase() !== 'microsoft.keyvault' ||
    id.resourceTypes.length !== 1 ||
    id.resourceTypes[0]!.toLowerCase() !== 'vaults'
  ) {
    throw new ValidationError(`vaultId is not a Key Vault id (Microsoft.KeyVault/vaults): ${vaultId}`, { field: 'vaultId' });
  }
  return { subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup, name: id.names[0]! };
}

function validateSpec(spec: VaultSpec): void {
  if (!/^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/.test(spec.name) || spec.name.includes('--')) {
    throw new ValidationError(
      `Key Vault name ${JSON.stringify(spec.name)} is invalid: 3–24 letters, digits and single hyphens, starting with a letter`,
      { field: 'name' },
    );
  }
  if (!Number.isInteger(spec.softDeleteRetentionInDays) || spec.softDeleteRetentionInDays < 7 || spec.softDeleteRetentionInDays > 90) {
    throw new ValidationError(`softDeleteRetentionInDays must be an integer 7–90: got ${spec.softDeleteRetentionInDays}`, {
      field: 'softDeleteRetentionInDays',
    });
  }
  if (!spec.location) throw new ValidationError('Key Vault location is empty', { field: 'location' });
  if (!spec.tenantId) throw new ValidationError('Key Vault tenant id is empty', { field: 'tenantId' });
}

function normaliseLocation(location: string): string {
  return location.toLowerCase().replace(/\s+/g, '');
}
