/**
 * ADE_ENCRYPTION_MODE=encryption-at-host on the local host against the simulator, the app holding exactly the template's
 * grants (with enableSelfHealingRestart): a new VM gets encryption at host through vmWritten → encryptAtHost (restart
 * heal action); a VM a user put on ADE is refused with the reason and shows up in GET /api/migration (JSON and CSV).
 * The other heal actions, refusals and failures are covered without a host in test/eah/new-vms.test.ts.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { orchestrationInstanceId } from '../../core/names';
import { HUB_KEYS, startPipeline, type Pipeline } from './harness';

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline({
    mode: 'encryption-at-host',
    kek: false,
    settings: { ADE_HEAL_ACTION: 'restart' },
    grantParameters: { enableSelfHealingRestart: true },
    durations: { vmDeallocate: 300, vmStart: 300 },
  });
  await p.control('PUT', '/_sim/arm/features', {
    subscriptionId: p.subscriptionId,
    feature: 'Microsoft.Compute/EncryptionAtHost',
    state: 'Registered',
  });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

it('a new VM gets encryption at host; a VM on ADE is refused and listed in the migration report', async () => {
  const vmId = await p.createVm('eah-host-new', { os: 'Windows' });
  const run = await p.waitForInstance(orchestrationInstanceId(vmId), 90_000);
  expect(run.name).toBe('encryptAtHost');
  expect(run.output).toMatchObject({
    outcome: 'encrypted',
    steps: ['deallocated', 'enabled securityProfile.encryptionAtHost', 'started', expect.any(String)],
  });
  const [, , , , rg, , , , name] = vmId.split('/');
  const vm = await p.compute.virtualMachines.get(rg!, name!, { expand: 'instanceView' });
  expect(vm.securityProfile?.encryptionAtHost).toBe(true);
  expect(vm.instanceView?.statuses?.map((s) => s.code)).toContain('PowerState/running');

  // A user puts another VM on ADE themselves: the app refuses it and the report plans its way off ADE.
  // Seeded by the platform (no VM-written event), then put on ADE by the user: that extension write is the event.
  const adeRg = 'rg-ade-user';
  const { ids } = await p.control<{ ids: string[] }>('POST', '/_sim/arm/vms', {
    subscriptionId: p.subscriptionId,
    resourceGroup: adeRg,
    location: 'westeurope',
    osType: 'Linux',
    name: 'eah-host-ade',
    count: 1,
    dataDisks: 1,
  });
  const adeId = ids[0]!;
  await p.control('POST', '/_sim/arm/vaults', {
    subscriptionId: p.subscriptionId,
    resourceGroup: adeRg,
    name: 'eahhostvault1',
    enabledForDiskEncryption: true,
  });
  await p.compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(adeRg, 'eah-host-ade', 'AzureDiskEncryptionForLinux', {
    location: 'westeurope',
    publisher: 'Microsoft.Azure.Security',
    typePropertiesType: 'AzureDiskEncryptionForLinux',
    typeHandlerVersion: '1.1',
    settings: {
      EncryptionOperation: 'EnableEncryption',
      KeyVaultURL: 'https://eahhostvault1.vault.azure.net',
      KeyVaultResourceId: `/subscriptions/${p.subscriptionId}/resourceGroups/${adeRg}/providers/Microsoft.KeyVault/vaults/eahhostvault1`,
      VolumeType: 'Data',
    },
  });
  const encrypt = await p.host.fetch(`/api/vms/encrypt?code=${HUB_KEYS.function}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ vmId: adeId }),
  });
  expect(encrypt.status).toBe(202);
  const refused = await p.waitForInstance(orchestrationInstanceId(adeId), 60_000);
  expect(refused.output).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('has, or once had, Azure Disk Encryption') });

  const report = await p.host.fetch(`/api/migration?code=${HUB_KEYS.function}`);
  expect(report.status).toBe(200);
  const body = (await report.json()) as { daysLeft: number; vms: Array<{ vmId: string; path: string; volumeType: string }> };
  expect(body.daysLeft).toBeGreaterThan(0);
  expect(body.vms).toEqual([expect.objectContaining({ vmId: adeId, path: 'linux-data', volumeType: 'Data' })]);
  const csv = await p.host.fetch(`/api/migration?format=csv&code=${HUB_KEYS.function}`);
  expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
  expect((await csv.text()).split('\r\n')[1]).toContain(',linux-data,');
  expect((await p.host.fetch('/api/migration')).status).toBe(401);
}, 180_000);
