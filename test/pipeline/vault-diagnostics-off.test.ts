/**
 * Vault diagnostics off (the default), end to end: the vault a VM's encryption creates has no diagnostic setting and the
 * app's identity holds no diagnostics role. On: vault-diagnostics.test.ts.
 */
import { MonitorClient } from '@azure/arm-monitor';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { templateRoleGrants } from '../../local/start/template-grants';
import { expectEncrypted } from './checks';
import { startPipeline, VAULT_RG, type Pipeline } from './harness';

describe('vaultDiagnostics off (the default)', () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await startPipeline({ mode: 'single-pass', kek: false });
  }, 180_000);
  afterAll(async () => {
    await p?.stop();
  });

  it('the vault an encryption creates has no diagnostic setting, and the app holds no diagnostics role', async () => {
    const vmId = await p.createVm('diag-off', { os: 'Linux' });
    const status = await expectEncrypted(p, { vmId, os: 'Linux', mode: 'single-pass', kek: false });
    const vaultGroup = `/subscriptions/${p.subscriptionId}/resourceGroups/${VAULT_RG}`;
    const vaultId = `${vaultGroup}/providers/Microsoft.KeyVault/vaults/${status.output.vaultName}`;
    const monitor = new MonitorClient(new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret));
    const settings = [];
    for await (const s of monitor.diagnosticSettings.list(vaultId.slice(1))) settings.push(s);
    // Listing a vault that does not exist is a 404, so this empty list is the created vault's.
    expect(settings).toEqual([]);
    const held = await p.control<{ value: Array<{ roleDefinitionId: string }> }>(
      'GET',
      `/_sim/arm/roleAssignments?principalId=${p.appObjectId}`,
    );
    const diagnosticsRoles = templateRoleGrants({
      subscriptionId: p.subscriptionId,
      parameters: { vaultResourceGroupName: VAULT_RG, vaultDiagnostics: true },
    })
      .filter((g) => /diagnostics/i.test(g.customRole?.roleName ?? ''))
      .map((g) => g.roleDefinitionGuid);
    expect(diagnosticsRoles).toHaveLength(2);
    expect(held.value.length).toBeGreaterThan(0);
    expect(held.value.filter((a) => diagnosticsRoles.some((guid) => a.roleDefinitionId.toLowerCase().endsWith(guid)))).toEqual([]);
  }, 150_000);
});
