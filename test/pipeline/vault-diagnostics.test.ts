/**
 * Vault diagnostics end to end (app in the local host, Azure in the simulator, the app's identity holding exactly the
 * template's grants): with vaultDiagnostics the vault a VM's encryption creates has the audit diagnostic setting to the
 * workspace infra/main.json grants, written without a single refusal. Off (the default): vault-diagnostics-off.test.ts
 * (one app per host process).
 */
import { MonitorClient } from '@azure/arm-monitor';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId } from '../../core/names';
import { templateRoleGrants } from '../../local/start/template-grants';
import { expectEncrypted } from './checks';
import { startPipeline, VAULT_RG, type Pipeline } from './harness';

async function vaultSettings(p: Pipeline, vaultId: string) {
  const monitor = new MonitorClient(new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret));
  const settings = [];
  for await (const s of monitor.diagnosticSettings.list(vaultId.slice(1))) settings.push(s);
  return settings;
}

async function encryptedVault(p: Pipeline, vmName: string): Promise<string> {
  const vmId = await p.createVm(vmName, { os: 'Linux' });
  const status = await expectEncrypted(p, { vmId, os: 'Linux', mode: 'single-pass', kek: false });
  expect(status.instanceId).toBe(orchestrationInstanceId(vmId));
  return `/subscriptions/${p.subscriptionId}/resourceGroups/${VAULT_RG}/providers/Microsoft.KeyVault/vaults/${status.output.vaultName}`;
}

describe('vaultDiagnostics on', () => {
  let p: Pipeline;
  let workspaceId = '';

  beforeAll(async () => {
    // The workspace is the one the template grants the identity (its own log-<baseName>), as the app setting main.json sets.
    p = await startPipeline({
      mode: 'single-pass',
      kek: false,
      grantParameters: { vaultDiagnostics: true },
      settingsFor: (subscriptionId) => {
        workspaceId = templateRoleGrants({
          subscriptionId,
          parameters: { vaultResourceGroupName: VAULT_RG, vaultDiagnostics: true },
        }).find((g) => g.scope.includes('/providers/Microsoft.OperationalInsights/workspaces/'))!.scope;
        return { ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID: workspaceId };
      },
    });
  }, 180_000);
  afterAll(async () => {
    await p?.stop();
  });

  it('the vault an encryption creates has the audit setting to the workspace; no request of the app was refused', async () => {
    const vaultId = await encryptedVault(p, 'diag-on');
    const settings = await vaultSettings(p, vaultId);
    expect(settings).toEqual([
      expect.objectContaining({
        name: 'ade-autopilot-audit',
        workspaceId,
        logAnalyticsDestinationType: 'Dedicated',
        logs: [expect.objectContaining({ categoryGroup: 'audit', enabled: true })],
        metrics: [],
      }),
    ]);
    const refusals = await p.control<{ value: unknown[] }>('GET', `/_sim/requests?principal=${p.appObjectId}&status=403`);
    expect(refusals.value).toEqual([]);
  }, 150_000);
});
