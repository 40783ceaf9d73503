/**
 * Vault options honoured at vault creation: the network rules (ADE_VAULT_NETWORK_*); with ADE_VAULT_BACKUP_PRINCIPAL_ID
 * the vault the app creates also gives the Backup Management Service keys and secrets get/list/backup (what Azure Backup
 * needs for encrypted VMs); without it, only the app's own (and, in aad mode, the Entra app's) policies; with
 * ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID the vault gets the audit-log diagnostic setting to that workspace, never in dry run.
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

/** The vault step's input for VM_ID: the first computed name in westeurope, the automation principal APP. */
const VAULT_INPUT = {
  vmId: VM_ID,
  subscriptionId: SUB,
  resourceGroup: POLICY.vault.resourceGroup,
  name: vaultNamesFor(POLICY.vault, { id: VM_ID, subscriptionId: SUB, location: 'westeurope' })[0]!,
  location: 'westeurope',
  softDeleteRetentionDays: 90,
  purgeProtection: true,
  automation: { tenantId: TENANT, objectId: APP },
};
const WORKSPACE = `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-central`;

async function createdVault(
  backupPrincipalObjectId?: string,
  vaultNetwork?: ActivityDeps['vaultNetwork'],
  more: Partial<ActivityDeps> = {},
): Promise<VaultSpec> {
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
    ...more,
  } as unknown as ActivityDeps & AzurePorts;
  const result = await createActivities(deps).ensureDiskEncryptionVault(VAULT_INPUT);
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

describe('vault diagnostics (ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID)', () => {
  const recorder = () => {
    const calls: Array<[string, string, string]> = [];
    const diagnostics = {
      ensureVaultAuditLogs: async (vaultId: string, name: string, workspaceId: string) => {
        calls.push([vaultId, name, workspaceId]);
        return {
          action: 'created',
          setting: { id: `${vaultId}/providers/Microsoft.Insights/diagnosticSettings/${name}`, name, logs: [], metrics: [] },
        };
      },
    };
    return { calls, diagnostics };
  };

  it.each([
    ['on: the created vault gets the audit setting to the workspace', { vaultDiagnosticsWorkspaceId: WORKSPACE }, 1],
    ['off (the default): no diagnostic setting at all', {}, 0],
  ])('%s', async (_what, deps, expected) => {
    const { calls, diagnostics } = recorder();
    const spec = await createdVault(undefined, undefined, { ...deps, diagnostics } as unknown as Partial<ActivityDeps>);
    expect(calls).toEqual(
      expected === 0
        ? []
        : [
            [
              `/subscriptions/s/resourceGroups/${spec.resourceGroup}/providers/Microsoft.KeyVault/vaults/${spec.name}`,
              'ade-autopilot-audit',
              WORKSPACE,
            ],
          ],
    );
  });

  it('dry run: refused before any write, the vault included', async () => {
    const { calls, diagnostics } = recorder();
    let vaultWrites = 0;
    const deps = {
      vaults: { ensureVault: async () => void vaultWrites++ },
      diagnostics,
      vaultDiagnosticsWorkspaceId: WORKSPACE,
      identity: async () => ({ tenantId: TENANT, objectId: APP }),
      log: () => undefined,
      now: () => Date.now(),
      policy: toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: SUB, ADE_DRY_RUN: 'true' })),
    } as unknown as ActivityDeps & AzurePorts;
    const result = await createActivities(deps).ensureDiskEncryptionVault(VAULT_INPUT);
    expect(result).toMatchObject({ ok: false, error: { kind: 'validation', message: expect.stringContaining('ADE_DRY_RUN is on') } });
    expect([vaultWrites, calls]).toEqual([0, []]);
  });

  it('on, without a diagnostic settings client: the step fails naming the setting instead of skipping it silently', async () => {
    const failed = await createdVault(undefined, undefined, { vaultDiagnosticsWorkspaceId: WORKSPACE }).catch((e: Error) => e);
    expect(String(failed)).toContain('ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID is set but this host has no diagnostic settings client');
  });

  const subs = { ADE_SUBSCRIPTIONS: SUB };
  it.each([
    ['', undefined],
    [WORKSPACE, WORKSPACE],
    [WORKSPACE.replace(SUB, SUB.toUpperCase()) + '/', WORKSPACE],
  ])('ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID=%j → %j', (raw, expected) => {
    expect(loadConfig({ ...subs, ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID: raw }).vaultDiagnosticsWorkspaceId).toBe(expected);
  });

  it.each([
    ['a bare name', 'law-central'],
    ['another resource type', `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.Insights/components/appi`],
    [
      'a subscription that is no GUID',
      '/subscriptions/prod/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-central',
    ],
    ['a workspace name too short', `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/la`],
  ])('refuses %s', (_what, raw) => {
    expect(() => loadConfig({ ...subs, ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID: raw })).toThrow(
      /ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID: expected a Log Analytics workspace resource id/,
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
