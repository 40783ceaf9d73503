/**
 * Secret-event correlation by ARM's computerName on the host + simulator: VMs whose guest hostname
 * (osProfile.computerName, which ADE writes into the secret's MachineName tag) differs from the VM
 * name are woken by their Key Vault event — with the old VM-name rule they would only have finished
 * through fallback polling. Two VMs share one vault, so a wrong match would be visible.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId } from '../../core/names';
import { startPipeline, type Pipeline, messageOf } from './harness';

let p: Pipeline;

beforeAll(async () => {
  // Polling only every 60 s: a run that finishes within seconds was woken by its event.
  p = await startPipeline({
    mode: 'single-pass',
    kek: false,
    settings: { ADE_LOCAL_POLL_SECONDS: '60', ADE_SECRET_EVENT_TIMEOUT_MINUTES: '30' },
  });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

async function createVm(name: string, os: 'Windows' | 'Linux', computerName: string): Promise<string> {
  const vm = await p.compute.virtualMachines.beginCreateOrUpdateAndWait(
    'rg-app',
    name,
    {
      location: 'westeurope',
      hardwareProfile: { vmSize: 'Standard_D4s_v5' },
      storageProfile: {
        imageReference:
          os === 'Windows'
            ? { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' }
            : { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
        osDisk: { createOption: 'FromImage', osType: os },
        dataDisks: [{ lun: 0, createOption: 'Empty', diskSizeGB: 64 }],
      },
      osProfile:
        os === 'Windows'
          ? { computerName, adminUsername: 'azureuser', adminPassword: 'Sim-Passw0rd-not-secret', windowsConfiguration: {} }
          : { computerName, adminUsername: 'azureuser', linuxConfiguration: { disablePasswordAuthentication: true } },
    },
    { updateIntervalInMs: 50 },
  );
  return vm.id!;
}

describe('secretEvents correlation by computerName', () => {
  it.each([
    { os: 'Windows' as const, name: 'corr-win-vm-name-differs', computerName: 'SQLHOST01' },
    { os: 'Linux' as const, name: 'corr-lnx-vm', computerName: 'api-host-westeurope-01' },
  ])(
    '$os VM $name with computerName $computerName is woken by its Key Vault event',
    async ({ os, name, computerName }) => {
      const vmId = await createVm(name, os, computerName);
      const instanceId = orchestrationInstanceId(vmId);
      const deadline = Date.now() + 30_000;
      while (!(await p.getInstance(instanceId))) {
        if (Date.now() > deadline) throw new Error(`no run started for ${vmId}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const status = await p.waitForInstance(instanceId, 90_000);
      expect(status.output, JSON.stringify(status.output)).toMatchObject({ vmId, outcome: 'encrypted', completedBy: 'event' });
      const raised = p.host.logs.filter((l) => messageOf(l).startsWith(`secretEvents: raised SecretStored to ${instanceId} `));
      expect(raised.length).toBeGreaterThanOrEqual(1);
    },
    120_000,
  );
});
