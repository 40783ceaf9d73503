/**
 * single-pass with a KEK: Windows and Linux happy paths, then what goes wrong in the field — a lost
 * Key Vault event (the vault's event subscription deleted), an extension failure (the vault's
 * enabledForDiskEncryption flag turned off behind the app's back) and a timeout.
 */
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId, secretEventSubscriptionName } from '../../core/names';
import { startPipeline, VAULT_RG, type Pipeline } from './harness';
import { expectEncrypted } from './checks';

let p: Pipeline;
let vaultName = '';

beforeAll(async () => {
  p = await startPipeline({
    mode: 'single-pass',
    kek: true,
    settings: {
      // The secret-event wait really elapses in the timeout test below (real time, local-only setting).
      ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS: '30',
      ADE_ORCHESTRATION_TIMEOUT_MINUTES: '60',
      ADE_TAG_OUTCOME: 'true',
    },
  });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

async function runOf(vmId: string) {
  const instanceId = orchestrationInstanceId(vmId);
  const deadline = Date.now() + 30_000;
  while (!(await p.getInstance(instanceId))) {
    if (Date.now() > deadline) throw new Error(`no run started for ${vmId}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return p.waitForInstance(instanceId, 90_000);
}

describe('single-pass + KEK', () => {
  it.each(['Windows', 'Linux'] as const)(
    'encrypts a new %s VM with one extension PUT and no model update',
    async (os) => {
      const vmId = await p.createVm(`spkek-${os.toLowerCase()}`, { os });
      const status = await expectEncrypted(p, { vmId, os, mode: 'single-pass', kek: true });
      vaultName = status.output.vaultName;
      const { resourceGroup, name } = { resourceGroup: 'rg-app', name: `spkek-${os.toLowerCase()}` };
      expect((await p.compute.virtualMachines.get(resourceGroup, name)).tags).toMatchObject({ 'ade-autopilot/state': 'encrypted' });
      expect(status.output.disks.find((d: { role: string }) => d.role === 'os')).toMatchObject({ encryption: 'encrypted' });
    },
    120_000,
  );

  it('woke up through secretEvents: the Key Vault event was correlated by MachineName', () => {
    const raised = p.host.logs.filter((l) => /raised SecretStored to encrypt-/.test(String(l.message)));
    expect(raised.length).toBeGreaterThanOrEqual(2);
  });

  it('completes through fallback polling when the Key Vault event is lost (event subscription deleted)', async () => {
    await p.eventGrid.systemTopicEventSubscriptions.beginDeleteAndWait(
      VAULT_RG,
      `${vaultName}-events`,
      secretEventSubscriptionName(vaultName),
      { updateIntervalInMs: 50 },
    );
    const vmId = await p.createVm('spkek-lost', { os: 'Windows' });
    const status = await expectEncrypted(p, { vmId, os: 'Windows', mode: 'single-pass', kek: true });
    expect(status.output.completedBy).toBe('polling');
  }, 120_000);

  it('fails with a clear reason when the extension fails (vault no longer enabled for disk encryption)', async () => {
    const kv = new KeyVaultManagementClient(
      new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret),
      p.subscriptionId,
    );
    await kv.vaults.update(VAULT_RG, vaultName, { properties: { enabledForDiskEncryption: false } });
    try {
      const vmId = await p.createVm('spkek-flagoff', { os: 'Windows' });
      const status = await runOf(vmId);
      expect(status.runtimeStatus).toBe('Completed');
      expect(status.output).toMatchObject({ vmId, outcome: 'failed' });
      expect(status.output.reason).toMatch(/The ADE extension failed: .*not enabled for disk encryption/i);
      expect(status.customStatus).toMatchObject({ phase: 'failed' });
      // The failure is recorded on the VM, and that tag write (the app's own) does not start a new run.
      const vm = await p.compute.virtualMachines.get('rg-app', 'spkek-flagoff');
      expect(vm.tags).toMatchObject({ 'ade-autopilot/state': 'failed' });
      await new Promise((r) => setTimeout(r, 1_500));
      const again = await p.getInstance(orchestrationInstanceId(vmId));
      expect(again?.createdTime).toBe(status.createdTime);
      expect(again?.output).toMatchObject({ outcome: 'failed' });
    } finally {
      await kv.vaults.update(VAULT_RG, vaultName, { properties: { enabledForDiskEncryption: true } });
    }
  }, 120_000);

  it('fails with a timeout when the secret never appears, and unregisters its waiter', async () => {
    await p.control('PATCH', '/_sim/arm/config', { durations: { adeWindows: 10 * 3_600_000 } });
    const vmId = await p.createVm('spkek-slow', { os: 'Windows' });
    const status = await runOf(vmId);
    expect(status.output).toMatchObject({ vmId, outcome: 'failed' });
    expect(status.output.reason).toMatch(/Timed out after 0\.5 min waiting for the disk encryption secret/);
    const res = await p.host.fetch(`/runtime/webhooks/durabletask/entities/vaultWaiters/${vaultName}?code=${p.host.keys!.durable}`);
    const body = res.status === 404 ? null : ((await res.json()) as { waiters?: Array<{ vmId: string }> } | null);
    const waiters = body?.waiters ?? [];
    expect(waiters.map((w) => w.vmId)).not.toContain(vmId);
  }, 120_000);
});
