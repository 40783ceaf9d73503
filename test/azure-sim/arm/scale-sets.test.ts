/**
 * Virtual machine scale sets in the simulator, driven through @azure/arm-compute's virtualMachineScaleSets and
 * virtualMachineScaleSetVMs: ADE on the model of a Uniform set, applied per the upgrade policy and visible per
 * instance; what Azure refuses (Linux OS volume, dual-pass versions, manual upgrade of a Flexible set).
 */
import { ComputeManagementClient, type VirtualMachineScaleSetExtension } from '@azure/arm-compute';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { flexibleScaleSet, uniformScaleSet } from '../../fixtures/scale-set-bodies';
import { FAST_POLL, startArmSim } from './arm-helpers';

/** The fixture's Uniform set, with instance names telling the OS apart. */
const setBody = (os: 'Windows' | 'Linux', upgrade: 'Automatic' | 'Rolling' | 'Manual', capacity = 2) =>
  uniformScaleSet(os, upgrade, { capacity, computerNamePrefix: os === 'Windows' ? 'win' : 'lin' });

let sim: Simulator;
let credential: ClientSecretCredential;
let compute: ComputeManagementClient;
const RG = 'rg-vmss';
let vaultId: string;

function ade(os: 'Windows' | 'Linux', volumeType: string, version = os === 'Windows' ? '2.2' : '1.1'): VirtualMachineScaleSetExtension {
  return {
    name: 'AzureDiskEncryption',
    publisher: 'Microsoft.Azure.Security',
    typePropertiesType: os === 'Windows' ? 'AzureDiskEncryption' : 'AzureDiskEncryptionForLinux',
    typeHandlerVersion: version,
    autoUpgradeMinorVersion: true,
    settings: {
      EncryptionOperation: 'EnableEncryption',
      KeyVaultURL: 'https://kv-vmss-ade.vault.azure.net/',
      KeyVaultResourceId: vaultId,
      VolumeType: volumeType,
      SequenceVersion: crypto.randomUUID(),
    },
  };
}

async function putOnModel(name: string, extension: VirtualMachineScaleSetExtension) {
  return compute.virtualMachineScaleSets.beginUpdateAndWait(
    RG,
    name,
    { virtualMachineProfile: { extensionProfile: { extensions: [extension] } } },
    FAST_POLL,
  );
}

/** Per instance: latest model applied, ADE extension status code, encryption state of every disk. */
async function perInstance(name: string) {
  const out: Array<{ instanceId: string; latest: boolean; ade?: string; disks: string[] }> = [];
  for await (const vm of compute.virtualMachineScaleSetVMs.list(RG, name)) {
    const view = await compute.virtualMachineScaleSetVMs.getInstanceView(RG, name, vm.instanceId!);
    out.push({
      instanceId: vm.instanceId!,
      latest: vm.latestModelApplied!,
      ade: view.extensions?.find((e) => e.name === 'AzureDiskEncryption')?.statuses?.[0]?.code,
      disks: (view.disks ?? []).map((d) => d.statuses?.find((s) => s.code?.startsWith('EncryptionState/'))?.code ?? 'none'),
    });
  }
  return out.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const allEncrypted = (rows: Awaited<ReturnType<typeof perInstance>>, disks: string[]) =>
  rows.every((r) => r.latest && r.ade === 'ProvisioningState/succeeded' && JSON.stringify(r.disks) === JSON.stringify(disks))
    ? rows
    : undefined;

beforeAll(async () => {
  ({ sim, credential } = await startArmSim());
  compute = new ComputeManagementClient(credential, sim.seed.subscriptionId);
  await new ResourceManagementClient(credential, sim.seed.subscriptionId).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  const vault = await new KeyVaultManagementClient(credential, sim.seed.subscriptionId).vaults.beginCreateOrUpdateAndWait(
    RG,
    'kv-vmss-ade',
    {
      location: 'westeurope',
      properties: {
        tenantId: sim.seed.tenantId,
        sku: { family: 'A', name: 'standard' },
        enabledForDiskEncryption: true,
        accessPolicies: [],
      },
    },
    FAST_POLL,
  );
  vaultId = vault.id!;
});
afterAll(async () => {
  await sim?.stop();
});

describe('Uniform scale sets', () => {
  it.each([
    {
      os: 'Windows' as const,
      upgrade: 'Automatic' as const,
      volumeType: 'All',
      disks: ['EncryptionState/encrypted', 'EncryptionState/encrypted'],
    },
    { os: 'Linux' as const, upgrade: 'Rolling' as const, volumeType: 'Data', disks: ['none', 'EncryptionState/encrypted'] },
  ])('$os, $upgrade upgrade: the extension on the model encrypts every instance', async ({ os, upgrade, volumeType, disks }) => {
    const name = `ss-${os.toLowerCase()}-${upgrade.toLowerCase()}`;
    const created = await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, name, setBody(os, upgrade, 3), FAST_POLL);
    expect(created).toMatchObject({ orchestrationMode: 'Uniform', upgradePolicy: { mode: upgrade }, sku: { capacity: 3 } });
    const updated = await putOnModel(name, ade(os, volumeType));
    expect(updated.virtualMachineProfile!.extensionProfile!.extensions![0]).toMatchObject({ name: 'AzureDiskEncryption' });
    expect(JSON.stringify(updated)).not.toContain('protectedSettings');
    const rows = await until(`${name} encrypted`, async () => allEncrypted(await perInstance(name), disks));
    expect(rows.map((r) => r.instanceId)).toEqual(['0', '1', '2']);
    const one = await compute.virtualMachineScaleSetVMs.get(RG, name, '1', { expand: 'instanceView' });
    expect(one.instanceView!.disks![0]!.encryptionSettings?.[0]?.diskEncryptionKey?.secretUrl ?? 'os-not-encrypted').toMatch(
      volumeType === 'All' ? /^https:\/\/kv-vmss-ade\.vault\.azure\.net\/secrets\// : /^os-not-encrypted$/,
    );
  });

  it('Manual upgrade: the model changes, instances wait until updateInstances names them', async () => {
    const name = 'ss-manual';
    await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, name, setBody('Windows', 'Manual', 2), FAST_POLL);
    await putOnModel(name, ade('Windows', 'All'));
    await new Promise((r) => setTimeout(r, 300));
    const before = await perInstance(name);
    expect(before.map((r) => [r.latest, r.ade])).toEqual([
      [false, undefined],
      [false, undefined],
    ]);
    await compute.virtualMachineScaleSets.beginUpdateInstancesAndWait(RG, name, { instanceIds: ['0'] }, FAST_POLL);
    const after = await perInstance(name);
    expect(after.map((r) => [r.instanceId, r.latest, r.ade])).toEqual([
      ['0', true, 'ProvisioningState/succeeded'],
      ['1', false, undefined],
    ]);
    await compute.virtualMachineScaleSets.beginUpdateInstancesAndWait(RG, name, { instanceIds: ['1'] }, FAST_POLL);
    expect(allEncrypted(await perInstance(name), ['EncryptionState/encrypted', 'EncryptionState/encrypted'])).toBeDefined();
  });

  it.each([
    { name: 'no instance ids', body: { instanceIds: [] }, code: 'InvalidParameter', message: /instanceIds/ },
    { name: 'an unknown instance', body: { instanceIds: ['7'] }, code: 'InvalidParameter', message: /'7' is not a valid instance/ },
  ])('updateInstances refuses $name', async ({ body, code, message }) => {
    await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, 'ss-refuse', setBody('Windows', 'Manual', 1), FAST_POLL);
    await expect(compute.virtualMachineScaleSets.beginUpdateInstancesAndWait(RG, 'ss-refuse', body, FAST_POLL)).rejects.toMatchObject({
      statusCode: 400,
      code,
      message: expect.stringMatching(message),
    });
  });

  it.each([
    { what: 'the Linux OS volume', os: 'Linux' as const, ext: () => ade('Linux', 'All'), message: /only data volumes/ },
    { what: 'a dual-pass version', os: 'Windows' as const, ext: () => ade('Windows', 'All', '1.1'), message: /dual-pass/ },
  ])('ADE on a scale set refuses $what: the instances report the failure', async ({ os, ext, message }) => {
    const name = `ss-bad-${os.toLowerCase()}`;
    await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, name, setBody(os, 'Manual', 1), FAST_POLL);
    await putOnModel(name, ext());
    await expect(
      compute.virtualMachineScaleSets.beginUpdateInstancesAndWait(RG, name, { instanceIds: ['0'] }, FAST_POLL),
    ).rejects.toMatchObject({
      // The SDK's poller folds the operation's error code into its message.
      message: expect.stringMatching(new RegExp(`VMExtensionProvisioningError. Instance 0: .*${message.source}`)),
    });
    const view = await compute.virtualMachineScaleSetVMs.getInstanceView(RG, name, '0');
    expect(view.extensions![0]!.statuses![0]).toMatchObject({ code: 'ProvisioningState/failed', message: expect.stringMatching(message) });
    expect((view.disks ?? []).flatMap((d) => d.statuses ?? []).map((s) => s.code)).not.toContain('EncryptionState/encrypted');
  });
});

describe('Flexible scale sets', () => {
  it('hold standard VMs; manual upgrade is refused; a Uniform set cannot take standard VMs', async () => {
    await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, 'ss-flex', flexibleScaleSet(), FAST_POLL);
    const flex = await compute.virtualMachineScaleSets.get(RG, 'ss-flex');
    expect(flex.orchestrationMode).toBe('Flexible');
    const vmBody = {
      location: 'westeurope',
      hardwareProfile: { vmSize: 'Standard_D2s_v5' },
      storageProfile: { osDisk: { createOption: 'FromImage', osType: 'Windows' as const } },
      osProfile: { computerName: 'flex1', adminUsername: 'azureuser', adminPassword: 'Not-Returned-1!' },
      networkProfile: { networkInterfaces: [] },
      virtualMachineScaleSet: { id: flex.id! },
    };
    const vm = await compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'flex-vm-1', vmBody, FAST_POLL);
    expect(vm.virtualMachineScaleSet?.id).toBe(flex.id);
    const members = [];
    for await (const m of compute.virtualMachineScaleSetVMs.list(RG, 'ss-flex')) members.push(m.name);
    expect(members).toEqual(['ss-flex_flex-vm-1']);
    await expect(
      compute.virtualMachineScaleSets.beginUpdateInstancesAndWait(RG, 'ss-flex', { instanceIds: ['flex-vm-1'] }, FAST_POLL),
    ).rejects.toMatchObject({ statusCode: 400, code: 'OperationNotAllowed' });
    await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(RG, 'ss-uni', setBody('Windows', 'Manual', 1), FAST_POLL);
    const uni = await compute.virtualMachineScaleSets.get(RG, 'ss-uni');
    await expect(
      compute.virtualMachines.beginCreateOrUpdateAndWait(
        RG,
        'flex-vm-2',
        { ...vmBody, virtualMachineScaleSet: { id: uni.id! } },
        FAST_POLL,
      ),
    ).rejects.toMatchObject({ statusCode: 400, code: 'InvalidParameter', message: expect.stringMatching(/Uniform orchestration/) });
  });

  it('refuses a Flexible set without platformFaultDomainCount and an unknown orchestration mode', async () => {
    await expect(
      compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(
        RG,
        'ss-bad1',
        { location: 'westeurope', orchestrationMode: 'Flexible' },
        FAST_POLL,
      ),
    ).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/platformFaultDomainCount/) });
    await expect(
      compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(
        RG,
        'ss-bad2',
        { ...setBody('Windows', 'Manual'), orchestrationMode: 'Odd' },
        FAST_POLL,
      ),
    ).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/orchestrationMode/) });
  });
});
