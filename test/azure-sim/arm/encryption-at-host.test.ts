/**
 * Encryption at host in the simulator, through the official clients: the subscription's feature registration
 * (@azure/arm-features), the per-size capability (resource SKUs), the deallocated requirement, the ADE/EAH
 * conflict both ways, and ADE disable (Windows all volumes, Linux data volumes; Linux OS refused).
 */
import { ComputeManagementClient, type VirtualMachine } from '@azure/arm-compute';
import { FeatureClient } from '@azure/arm-features';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { FAST_POLL, control, startArmSim } from './arm-helpers';

let sim: Simulator;
let credential: ClientSecretCredential;
let compute: ComputeManagementClient;
let features: FeatureClient;
const RG = 'rg-eah';
const VAULT = 'adeapvault1';

function vm(name: string, os: 'Windows' | 'Linux', extra: Partial<VirtualMachine> = {}): VirtualMachine {
  return {
    location: 'westeurope',
    hardwareProfile: { vmSize: 'Standard_D2s_v5' },
    storageProfile: { osDisk: { osType: os, createOption: 'FromImage' }, dataDisks: [{ lun: 0, createOption: 'Empty', diskSizeGB: 32 }] },
    osProfile: {
      computerName: name,
      adminUsername: 'azureuser',
      ...(os === 'Windows' ? { windowsConfiguration: {} } : { linuxConfiguration: {} }),
    },
    ...extra,
  };
}

async function setFeature(state: string): Promise<void> {
  const res = await control(sim, 'PUT', '/_sim/arm/features', {
    subscriptionId: sim.seed.subscriptionId,
    feature: 'Microsoft.Compute/EncryptionAtHost',
    state,
  });
  expect(res.status).toBe(200);
}

async function adeExtension(vmName: string, os: 'Windows' | 'Linux', operation: string, volumeType: string): Promise<string> {
  const ext = await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
    RG,
    vmName,
    'AzureDiskEncryption',
    {
      location: 'westeurope',
      publisher: 'Microsoft.Azure.Security',
      typePropertiesType: os === 'Windows' ? 'AzureDiskEncryption' : 'AzureDiskEncryptionForLinux',
      typeHandlerVersion: os === 'Windows' ? '2.2' : '1.1',
      autoUpgradeMinorVersion: true,
      settings: {
        EncryptionOperation: operation,
        KeyVaultURL: 'https://adeapvault1.vault.azure.net',
        KeyVaultResourceId: `/subscriptions/${sim.seed.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/${VAULT}`,
        VolumeType: volumeType,
        SequenceVersion: crypto.randomUUID(),
      },
    },
    FAST_POLL,
  );
  return ext.provisioningState!;
}

beforeAll(async () => {
  ({ sim, credential } = await startArmSim());
  compute = new ComputeManagementClient(credential, sim.seed.subscriptionId);
  features = new FeatureClient(credential, sim.seed.subscriptionId);
  await new ResourceManagementClient(credential, sim.seed.subscriptionId).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  const vault = await control(sim, 'POST', '/_sim/arm/vaults', {
    subscriptionId: sim.seed.subscriptionId,
    resourceGroup: RG,
    name: 'adeapvault1',
    enabledForDiskEncryption: true,
  });
  expect(vault.status).toBe(201);
});
afterAll(async () => {
  await sim?.stop();
});

describe('prerequisites: feature registration and size capability', () => {
  it('reports the feature NotRegistered, refuses a VM with encryption at host with Azure’s error, and registers it', async () => {
    expect((await features.features.get('Microsoft.Compute', 'EncryptionAtHost')).properties?.state).toBe('NotRegistered');
    await expect(
      compute.virtualMachines.beginCreateOrUpdateAndWait(
        RG,
        'eah-early',
        vm('eah-early', 'Linux', { securityProfile: { encryptionAtHost: true } }),
        FAST_POLL,
      ),
    ).rejects.toMatchObject({
      statusCode: 400,
      code: 'InvalidParameter',
      message: expect.stringContaining("'Microsoft.Compute/EncryptionAtHost' feature is not enabled for this subscription"),
    });
    const registering = await features.features.register('Microsoft.Compute', 'EncryptionAtHost');
    expect(registering.properties?.state).toBe('Registering');
    await control(sim, 'PUT', '/_sim/arm/config', { durations: { featureRegistration: 500 } });
    await setFeature('Registered');
    expect((await features.features.get('Microsoft.Compute', 'EncryptionAtHost')).properties?.state).toBe('Registered');
    await expect(features.features.get('Microsoft.Compute', 'NoSuchFeature')).rejects.toMatchObject({ statusCode: 404 });
  });

  it.each([
    ['Standard_D2s_v5', 'True'],
    ['Standard_A1_v2', 'False'],
  ])('lists %s in the resource SKUs with EncryptionAtHostSupported=%s', async (size, supported) => {
    const skus = [];
    for await (const sku of compute.resourceSkus.list({ filter: "location eq 'westeurope'" })) skus.push(sku);
    const sku = skus.find((s) => s.name === size);
    expect(sku?.capabilities?.find((c) => c.name === 'EncryptionAtHostSupported')?.value).toBe(supported);
  });

  it('refuses encryption at host on a size without the capability', async () => {
    await setFeature('Registered');
    await expect(
      compute.virtualMachines.beginCreateOrUpdateAndWait(
        RG,
        'eah-a1',
        vm('eah-a1', 'Linux', { hardwareProfile: { vmSize: 'Standard_A1_v2' }, securityProfile: { encryptionAtHost: true } }),
        FAST_POLL,
      ),
    ).rejects.toMatchObject({ statusCode: 400, code: 'InvalidParameter', message: expect.stringContaining('Standard_A1_v2') });
  });
});

describe('enabling on an existing VM', () => {
  it('needs the VM deallocated; deallocated, it is enabled and the model shows securityProfile.encryptionAtHost', async () => {
    await setFeature('Registered');
    await compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'eah-new', vm('eah-new', 'Windows'), FAST_POLL);
    await expect(
      compute.virtualMachines.beginUpdateAndWait(RG, 'eah-new', { securityProfile: { encryptionAtHost: true } }, FAST_POLL),
    ).rejects.toMatchObject({ statusCode: 409, code: 'OperationNotAllowed', message: expect.stringContaining('deallocated') });
    await compute.virtualMachines.beginDeallocateAndWait(RG, 'eah-new', FAST_POLL);
    await compute.virtualMachines.beginUpdateAndWait(RG, 'eah-new', { securityProfile: { encryptionAtHost: true } }, FAST_POLL);
    await compute.virtualMachines.beginStartAndWait(RG, 'eah-new', FAST_POLL);
    const model = await compute.virtualMachines.get(RG, 'eah-new');
    expect(model.securityProfile?.encryptionAtHost).toBe(true);
    // And ADE is refused on it, with the message Azure answers.
    await expect(adeExtension('eah-new', 'Windows', 'EnableEncryption', 'All')).rejects.toMatchObject({
      statusCode: 409,
      message: 'Azure Disk Encryption cannot be enabled on disks that have encryption at host enabled',
    });
  });
});

describe('ADE disable, and encryption at host after ADE', () => {
  it.each([
    ['Windows', 'All', 'Succeeded'],
    ['Linux', 'Data', 'Succeeded'],
  ] as const)('%s: disables ADE on %s volumes; encryption at host stays refused (the VM once had ADE)', async (os, volumeType, state) => {
    const name = `ade-${os.toLowerCase()}`;
    await compute.virtualMachines.beginCreateOrUpdateAndWait(RG, name, vm(name, os), FAST_POLL);
    expect(await adeExtension(name, os, 'EnableEncryption', volumeType)).toBe('Succeeded');
    expect(await adeExtension(name, os, 'DisableEncryption', volumeType)).toBe(state);
    const guest = await control(
      sim,
      'GET',
      `/_sim/arm/vms/guest?id=${encodeURIComponent((await compute.virtualMachines.get(RG, name)).id!)}`,
    );
    const disks = (guest.body as { disks: { encryptionState: string; encryptionSettingsCollection: unknown }[] }).disks;
    expect(disks.every((d) => d.encryptionState === 'notEncrypted')).toBe(true);
    // The disks keep their encryption settings after decryption (the "UDE flag").
    expect(disks.some((d) => d.encryptionSettingsCollection !== null)).toBe(true);
    await compute.virtualMachineExtensions.beginDeleteAndWait(RG, name, 'AzureDiskEncryption', FAST_POLL);
    await compute.virtualMachines.beginDeallocateAndWait(RG, name, FAST_POLL);
    await expect(
      compute.virtualMachines.beginUpdateAndWait(RG, name, { securityProfile: { encryptionAtHost: true } }, FAST_POLL),
    ).rejects.toMatchObject({
      statusCode: 409,
      code: 'OperationNotAllowed',
      message: expect.stringContaining('once had, Azure Disk Encryption'),
    });
  });

  it('Linux: refuses to disable ADE on the OS volume', async () => {
    await compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'ade-lxos', vm('ade-lxos', 'Linux'), FAST_POLL);
    await expect(adeExtension('ade-lxos', 'Linux', 'DisableEncryption', 'All')).rejects.toThrow(
      /VMExtensionProvisioningError.*Disabling encryption is only allowed on Data volumes for Linux VMs\./,
    );
  });
});

describe('authorization', () => {
  it('needs Microsoft.Features/providers/features/read to read a registration and Microsoft.Compute/skus/read for the SKUs', async () => {
    const res = await control(sim, 'POST', '/_sim/principals', { displayName: 'eah-nobody', roles: [] });
    const p = res.body as { appId: string; clientSecret: string };
    const { ClientSecretCredential } = await import('@azure/identity');
    const nobody = new ClientSecretCredential(sim.seed.tenantId, p.appId, p.clientSecret);
    await expect(
      new FeatureClient(nobody, sim.seed.subscriptionId).features.get('Microsoft.Compute', 'EncryptionAtHost'),
    ).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationFailed',
      message: expect.stringContaining('Microsoft.Features/providers/features/read'),
    });
    const list = async () => {
      for await (const _ of new ComputeManagementClient(nobody, sim.seed.subscriptionId).resourceSkus.list()) void _;
    };
    await expect(list()).rejects.toMatchObject({ statusCode: 403 });
    const log = await control(sim, 'GET', '/_sim/requests?service=arm&status=403');
    expect(JSON.stringify(log.body)).toContain('Microsoft.Compute/skus/read');
  });
});
