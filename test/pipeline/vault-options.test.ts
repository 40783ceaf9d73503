/**
 * Vault options honoured at vault creation: the network rules (ADE_VAULT_NETWORK_*); with ADE_VAULT_BACKUP_PRINCIPAL_ID
 * the vault the app creates also gives the Backup Management Service keys and secrets get/list/backup (what Azure Backup
 * needs for encrypted VMs); without it, only the app's own (and, in aad mode, the Entra app's) policies.
 */
import { describe, expect, it } from 'vitest';
import type { AzurePorts, VaultSpec } from '../../azure/ports';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import { vaultNamesFor } from '../../core/names';
import { vaultDrift } from '../../core/remediation/vault-drift';
import { createActivities, type ActivityDeps } from '../../orchestrations/activities';

const TENANT = '00000000-0000-0000-0000-0000000000aa';
const APP = '00000000-0000-0000-0000-0000000000bb';
const BACKUP = '00000000-0000-0000-0000-0000000000cc';
const SUB = '11111111-2222-3333-4444-555555555555';
const VM_ID = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm1`;
const POLICY = toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: SUB, ADE_DRY_RUN: 'false' }));

async function createdVault(backupPrincipalObjectId?: string, vaultNetwork?: ActivityDeps['vaultNetwork']): Promise<VaultSpec> {
  let spec: VaultSpec | undefined;
  const vaults = {
    ensureVault: async (s: VaultSpec) => {
      spec = s;
      return {
        action: 'created',
        vault: {
          id: `/subscriptions/s/resourceGroups/${s.resourceGroup}/providers/Microsoft.KeyVault/vaults/${s.name}`,
          name: s.name,
          vaultUri: '',
        },
      };
    },
  };
  const deps = {
    vaults,
    identity: async () => ({ tenantId: TENANT, objectId: APP }),
    log: () => undefined,
    now: () => Date.now(),
    policy: POLICY,
    ...(backupPrincipalObjectId ? { backupPrincipalObjectId } : {}),
    ...(vaultNetwork ? { vaultNetwork } : {}),
  } as unknown as ActivityDeps & AzurePorts;
  const result = await createActivities(deps).ensureDiskEncryptionVault({
    vmId: VM_ID,
    subscriptionId: SUB,
    resourceGroup: POLICY.vault.resourceGroup,
    name: vaultNamesFor(POLICY.vault, { id: VM_ID, subscriptionId: SUB, location: 'westeurope' })[0]!,
    location: 'westeurope',
    softDeleteRetentionDays: 90,
    purgeProtection: true,
    automation: { tenantId: TENANT, objectId: APP },
  });
  expect(result.ok, JSON.stringify(result)).toBe(true);
  return spec!;
}

async function createdPolicies(backupPrincipalObjectId?: string): Promise<VaultSpec['accessPolicies']> {
  return (await createdVault(backupPrincipalObjectId)).accessPolicies;
}

describe('vault options at creation', () => {
  it('the Backup Management Service gets keys and secrets get/list/backup when configured', async () => {
    const policies = await createdPolicies(BACKUP);
    expect(policies).toContainEqual({
      tenantId: TENANT,
      objectId: BACKUP,
      permissions: { keys: ['get', 'list', 'backup'], secrets: ['get', 'list', 'backup'] },
    });
    expect(policies!.map((p) => p.objectId)).toEqual([APP, BACKUP]);
  });

  it('no Backup access by default (Azure gives none)', async () => {
    const policies = await createdPolicies();
    expect(policies!.map((p) => p.objectId)).toEqual([APP]);
  });

  it('network rules: the configured default action and IP rules reach the new vault', async () => {
    const network = { defaultAction: 'Deny' as const, ipRules: ['20.1.2.3', '20.1.4.0/24'] };
    expect((await createdVault(undefined, network)).networkRules).toEqual(network);
    expect((await createdVault()).networkRules).toBeUndefined();
    const subs = { ADE_SUBSCRIPTIONS: '11111111-2222-3333-4444-555555555555' };
    expect(loadConfig(subs).vaultNetwork).toEqual({ defaultAction: 'Allow', ipRules: [] });
    expect(
      loadConfig({ ...subs, ADE_VAULT_NETWORK_DEFAULT_ACTION: 'deny', ADE_VAULT_NETWORK_IP_RULES: '20.1.2.3, 20.1.4.0/24' }).vaultNetwork,
    ).toEqual(network);
    expect(() => loadConfig({ ...subs, ADE_VAULT_NETWORK_IP_RULES: '20.1.2.300' })).toThrow(/ADE_VAULT_NETWORK_IP_RULES: expected IPv4/);
  });

  it('ADE_VAULT_BACKUP_PRINCIPAL_ID must be a GUID', () => {
    const subs = { ADE_SUBSCRIPTIONS: '11111111-2222-3333-4444-555555555555' };
    expect(loadConfig({ ...subs, ADE_VAULT_BACKUP_PRINCIPAL_ID: BACKUP.toUpperCase() }).vaultBackupPrincipalId).toBe(BACKUP);
    expect(() => loadConfig({ ...subs, ADE_VAULT_BACKUP_PRINCIPAL_ID: 'Backup Management Service' })).toThrow(
      /ADE_VAULT_BACKUP_PRINCIPAL_ID: expected the object id \(a GUID\)/,
    );
  });
});

describe('vault drift keeps the configured Backup access', () => {
  const vault = {
    name: 'adeap-x',
    enabledForDiskEncryption: true,
    enableSoftDelete: true,
    enablePurgeProtection: true,
    enableRbacAuthorization: false,
    accessPolicies: [
      { tenantId: TENANT, objectId: BACKUP, permissions: { keys: ['get', 'list', 'backup'], secrets: ['get', 'list', 'backup'] } },
    ],
  };

  it('a secret-reading grant to the configured Backup Management Service principal is not drift; to anyone else it is', () => {
    expect(vaultDrift(vault as never, [], { readAllowedFor: [BACKUP] })).toEqual([]);
    expect(vaultDrift(vault as never, []).map((i) => i.kind)).toEqual(['secret-read-grant']);
  });
});
