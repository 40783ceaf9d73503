/**
 * The ADE extension as the guest runs it, driven only through the official SDK clients over the proxy:
 * single-pass (platform writes the secret) and dual-pass (the guest signs in with the Entra app) on
 * Windows and Linux, and the failure modes the issue lists.
 */
import { ComputeManagementClient, type VirtualMachine, type VirtualMachineExtension } from '@azure/arm-compute';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { ClientSecretCredential } from '@azure/identity';
import { CryptographyClient, KeyClient } from '@azure/keyvault-keys';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { createPrincipal } from '../front/sim-helpers';
import { FAST_POLL, control, startArmSim } from './arm-helpers';

let sim: Simulator;
let credential: ClientSecretCredential;
let compute: ComputeManagementClient;
let kv: KeyVaultManagementClient;
const RG = 'rg-guest';
let vaultId: string;
let noFlagVaultId: string;
let otherRegionVaultId: string;
let kekUrl: string;

function vmBody(os: 'Windows' | 'Linux', dataDisks = 1): VirtualMachine {
  return {
    location: 'westeurope',
    hardwareProfile: { vmSize: 'Standard_D2s_v5' },
    storageProfile: {
      imageReference:
        os === 'Windows'
          ? { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' }
          : { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
      osDisk: { createOption: 'FromImage', osType: os },
      dataDisks: Array.from({ length: dataDisks }, (_, lun) => ({ lun, createOption: 'Empty', diskSizeGB: 32 })),
    },
    osProfile: { computerName: 'guest', adminUsername: 'azureuser', adminPassword: 'Not-Returned-1!' },
    networkProfile: { networkInterfaces: [] },
  };
}

function adeExtension(
  os: 'Windows' | 'Linux',
  mode: 'single' | 'dual',
  settings: Record<string, unknown>,
  protectedSettings?: Record<string, unknown>,
): VirtualMachineExtension {
  const version = os === 'Windows' ? (mode === 'single' ? '2.2' : '1.1') : mode === 'single' ? '1.1' : '0.1';
  return {
    location: 'westeurope',
    publisher: 'Microsoft.Azure.Security',
    typePropertiesType: os === 'Windows' ? 'AzureDiskEncryption' : 'AzureDiskEncryptionForLinux',
    typeHandlerVersion: version,
    autoUpgradeMinorVersion: true,
    settings: {
      EncryptionOperation: 'EnableEncryption',
      KeyEncryptionAlgorithm: 'RSA-OAEP',
      VolumeType: 'All',
      SequenceVersion: crypto.randomUUID(),
      ...settings,
    },
    protectedSettings,
  };
}

const vaultSettings = (id: string) => ({ KeyVaultURL: `https://${id.split('/').pop()}.vault.azure.net/`, KeyVaultResourceId: id });

async function createVault(
  name: string,
  location: string,
  enabledForDiskEncryption: boolean,
  extraPolicies: { objectId: string; permissions: { keys?: string[]; secrets?: string[] } }[] = [],
): Promise<string> {
  const vault = await kv.vaults.beginCreateOrUpdateAndWait(
    RG,
    name,
    {
      location,
      properties: {
        tenantId: sim.seed.tenantId,
        sku: { family: 'A', name: 'standard' },
        enabledForDiskEncryption,
        accessPolicies: [{ objectId: sim.seed.clientObjectId, permissions: { keys: ['all'], secrets: ['all'] } }, ...extraPolicies].map(
          (p) => ({ tenantId: sim.seed.tenantId, objectId: p.objectId, permissions: p.permissions as never }),
        ),
      },
    },
    FAST_POLL,
  );
  return vault.id!;
}

async function newVm(name: string, os: 'Windows' | 'Linux', dataDisks = 1): Promise<VirtualMachine> {
  return compute.virtualMachines.beginCreateOrUpdateAndWait(RG, name, vmBody(os, dataDisks), FAST_POLL);
}

async function extensionView(vm: string, ext: string) {
  const e = await compute.virtualMachineExtensions.get(RG, vm, ext, { expand: 'instanceView' });
  return e.instanceView!;
}

beforeAll(async () => {
  ({ sim, credential } = await startArmSim());
  compute = new ComputeManagementClient(credential, sim.seed.subscriptionId);
  kv = new KeyVaultManagementClient(credential, sim.seed.subscriptionId);
  await new ResourceManagementClient(credential, sim.seed.subscriptionId).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  vaultId = await createVault('kv-guest-ade', 'westeurope', true);
  noFlagVaultId = await createVault('kv-guest-noflag', 'westeurope', false);
  otherRegionVaultId = await createVault('kv-guest-east', 'eastus', true);
  const kek = await new KeyClient('https://kv-guest-ade.vault.azure.net', credential).createRsaKey('kek', { keySize: 3072 });
  kekUrl = kek.id!;
});
afterAll(async () => {
  await sim?.stop();
});

describe('single-pass ADE (platform writes the secret)', () => {
  it('Windows: encrypts all volumes, stamps every disk with 1.1, writes BEK secrets with ADE tags, keeps BEK files', async () => {
    const vm = await newVm('win-sp', 'Windows');
    const ext = await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'win-sp',
      'AzureDiskEncryption',
      adeExtension('Windows', 'single', vaultSettings(vaultId)),
      FAST_POLL,
    );
    expect(ext.provisioningState).toBe('Succeeded');
    const view = await extensionView('win-sp', 'AzureDiskEncryption');
    expect(view.statuses![0]).toMatchObject({
      code: 'ProvisioningState/succeeded',
      displayStatus: 'Provisioning succeeded',
      message: expect.stringMatching(/^\[2\.2\.\d+\.\d+\] Encryption succeeded for all volumes$/),
    });
    const withView = await compute.virtualMachines.get(RG, 'win-sp', { expand: 'instanceView' });
    expect(withView.storageProfile!.osDisk!.encryptionSettings).toBeUndefined();
    const diskViews = withView.instanceView!.disks!;
    expect(diskViews).toHaveLength(2);
    const secrets = new SecretClient('https://kv-guest-ade.vault.azure.net', credential);
    for (const disk of diskViews) {
      expect(disk.statuses!.map((s) => s.code)).toContain('EncryptionState/encrypted');
      const secretUrl = disk.encryptionSettings![0]!.diskEncryptionKey!.secretUrl;
      expect(secretUrl).toMatch(/^https:\/\/kv-guest-ade\.vault\.azure\.net\/secrets\/[0-9a-f-]{36}\/[0-9a-f]{32}$/);
      const name = secretUrl.split('/')[4]!;
      const secret = await secrets.getSecret(name);
      expect(secret.properties.contentType).toBe('BEK');
      expect(secret.properties.tags).toMatchObject({
        DiskEncryptionKeyFileName: `${name}.BEK`,
        MachineName: 'guest',
        VolumeLetter: expect.stringMatching(/^[A-Z]:\\$/),
      });
      expect(Buffer.from(secret.value!, 'base64')).toHaveLength(32);
    }
    const osDisk = await compute.disks.get(RG, vm.storageProfile!.osDisk!.managedDisk!.id!.split('/').pop()!);
    expect(osDisk.encryptionSettingsCollection).toMatchObject({ enabled: true, encryptionSettingsVersion: '1.1' });
    const guest = await control<{ guest: { bekFiles: { name: string }[]; boot: string } }>(
      sim,
      'GET',
      `/_sim/arm/vms/guest?id=${encodeURIComponent(vm.id!)}`,
    );
    expect(guest.body.guest.bekFiles).toHaveLength(2);
    expect(guest.body.guest.bekFiles[0]!.name).toMatch(/\.BEK$/);
  });

  it('wraps the BEK with the KEK (real RSA-OAEP): content type Wrapped BEK, KEK tags, and the KEK unwraps it', async () => {
    await newVm('win-kek', 'Windows', 0);
    await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'win-kek',
      'AzureDiskEncryption',
      adeExtension('Windows', 'single', { ...vaultSettings(vaultId), KeyEncryptionKeyURL: kekUrl, KekVaultResourceId: vaultId }),
      FAST_POLL,
    );
    const vm = await compute.virtualMachines.get(RG, 'win-kek', { expand: 'instanceView' });
    const settings = vm.instanceView!.disks![0]!.encryptionSettings![0]!;
    expect(settings.keyEncryptionKey!.keyUrl).toBe(kekUrl);
    const secret = await new SecretClient('https://kv-guest-ade.vault.azure.net', credential).getSecret(
      settings.diskEncryptionKey!.secretUrl.split('/')[4]!,
    );
    expect(secret.properties.contentType).toBe('Wrapped BEK');
    expect(secret.properties.tags).toMatchObject({
      DiskEncryptionKeyEncryptionKeyURL: kekUrl,
      DiskEncryptionKeyEncryptionAlgorithm: 'RSA-OAEP',
    });
    const unwrapped = await new CryptographyClient(kekUrl, credential).unwrapKey('RSA-OAEP', Buffer.from(secret.value!, 'base64url'));
    expect(unwrapped.result).toHaveLength(32);
  });

  it('Linux: the ARM operation completes after data volumes, OS encryption continues, substatus JSON tracks it', async () => {
    await newVm('lx-sp', 'Linux');
    // Five minutes of OS encryption (3 s at this simulator's ×100 speed-up): still running after the ARM operation completes.
    await control(sim, 'PUT', '/_sim/arm/config', { durations: { adeLinuxOs: 300_000 } });
    await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'lx-sp',
      'AzureDiskEncryptionForLinux',
      adeExtension('Linux', 'single', vaultSettings(vaultId)),
      FAST_POLL,
    );
    let view = await extensionView('lx-sp', 'AzureDiskEncryptionForLinux');
    expect(JSON.parse(view.substatuses![0]!.message!)).toEqual({ os: 'EncryptionInProgress', data: 'Encrypted' });
    expect(view.statuses![0]!.message).toBe('OS disk encryption started');
    // Real time passes; the OS volume finishes once its (sped-up) duration is over.
    const deadline = Date.now() + 15_000;
    do {
      await new Promise((r) => setTimeout(r, 250));
      view = await extensionView('lx-sp', 'AzureDiskEncryptionForLinux');
    } while (JSON.parse(view.substatuses![0]!.message!).os !== 'Encrypted' && Date.now() < deadline);
    expect(JSON.parse(view.substatuses![0]!.message!)).toEqual({ os: 'Encrypted', data: 'Encrypted' });
    expect(view.statuses![0]!.message).toBe('Encryption succeeded for all volumes');
    const vm = await compute.virtualMachines.get(RG, 'lx-sp', { expand: 'instanceView' });
    const osSecret = vm.instanceView!.disks![0]!.encryptionSettings![0]!.diskEncryptionKey!.secretUrl;
    const secret = await new SecretClient('https://kv-guest-ade.vault.azure.net', credential).getSecret(osSecret.split('/')[4]!);
    expect(secret.properties.tags).toMatchObject({ DiskEncryptionKeyFileName: 'LinuxPassPhraseFileName' });
  });

  it.each([
    [
      'the vault does not allow disk encryption',
      'Windows',
      () => vaultSettings(noFlagVaultId),
      /Failed to send DiskEncryptionData.*not enabled for disk encryption/,
    ],
    ['the vault is in another region', 'Windows', () => vaultSettings(otherRegionVaultId), /same region and subscription/],
    [
      'the vault does not exist',
      'Linux',
      () => ({ KeyVaultURL: 'https://kv-nowhere.vault.azure.net/' }),
      /Encryption settings post request was not accepted.*not found/,
    ],
    [
      'the KEK URL is not versioned',
      'Windows',
      () => ({
        ...vaultSettings(vaultId),
        KeyEncryptionKeyURL: 'https://kv-guest-ade.vault.azure.net/keys/kek',
        KekVaultResourceId: vaultId,
      }),
      /versioned key URL/,
    ],
    [
      'the KEK does not exist',
      'Windows',
      () => ({
        ...vaultSettings(vaultId),
        KeyEncryptionKeyURL: `https://kv-guest-ade.vault.azure.net/keys/nokek/${'a'.repeat(32)}`,
        KekVaultResourceId: vaultId,
      }),
      /Failed to send DiskEncryptionData/,
    ],
  ] as const)('fails when %s, with the extension error and status', async (label, os, settings, pattern) => {
    const name = `fail-${label.replace(/[^a-z]/gi, '').slice(0, 40)}`;
    await newVm(name, os, 0);
    const extName = os === 'Windows' ? 'AzureDiskEncryption' : 'AzureDiskEncryptionForLinux';
    const error = await compute.virtualMachineExtensions
      .beginCreateOrUpdateAndWait(RG, name, extName, adeExtension(os, 'single', settings()), FAST_POLL)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((error as Error).message).toContain('VMExtensionProvisioningError');
    expect((error as Error).message).toMatch(pattern);
    const view = await extensionView(name, extName);
    expect(view.statuses![0]).toMatchObject({
      code: 'ProvisioningState/failed/0',
      level: 'Error',
      message: expect.stringMatching(pattern),
    });
    const vm = await compute.virtualMachines.get(RG, name, { expand: 'instanceView' });
    expect(vm.instanceView!.disks![0]!.encryptionSettings).toBeUndefined();
  });
});

describe('dual-pass ADE (the guest signs in with the Entra app)', () => {
  it('Windows: wraps with the KEK, sets the secret as the app, reports its URL; the second pass stamps the VM model', async () => {
    const app = await createPrincipal(sim, 'ade-dual-ok');
    await kv.vaults.updateAccessPolicy(RG, 'kv-guest-ade', 'add', {
      properties: {
        accessPolicies: [{ tenantId: sim.seed.tenantId, objectId: app.objectId, permissions: { keys: ['wrapKey'], secrets: ['set'] } }],
      },
    });
    await newVm('win-dp', 'Windows', 0);
    await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'win-dp',
      'AzureDiskEncryption',
      adeExtension(
        'Windows',
        'dual',
        { ...vaultSettings(vaultId), KeyEncryptionKeyURL: kekUrl, KekVaultResourceId: vaultId, AADClientID: app.appId },
        { AADClientSecret: app.clientSecret },
      ),
      FAST_POLL,
    );
    const view = await extensionView('win-dp', 'AzureDiskEncryption');
    const secretUrl = view.statuses![0]!.message!;
    expect(secretUrl).toMatch(/^https:\/\/kv-guest-ade\.vault\.azure\.net\/secrets\/[0-9a-f-]{36}\/[0-9a-f]{32}$/);
    expect(JSON.stringify(view)).not.toContain(app.clientSecret);
    const secret = await new SecretClient('https://kv-guest-ade.vault.azure.net', credential).getSecret(secretUrl.split('/')[4]!);
    expect(secret.properties.contentType).toBe('Wrapped BEK');
    // Second pass: PATCH the VM model with the secret URL
    // (https://learn.microsoft.com/azure/virtual-machines/windows/disk-encryption-windows-aad).
    const updated = await compute.virtualMachines.beginUpdateAndWait(
      RG,
      'win-dp',
      {
        storageProfile: {
          osDisk: {
            createOption: 'FromImage',
            encryptionSettings: {
              enabled: true,
              diskEncryptionKey: { secretUrl, sourceVault: { id: vaultId } },
              keyEncryptionKey: { keyUrl: kekUrl, sourceVault: { id: vaultId } },
            },
          },
        },
      },
      FAST_POLL,
    );
    expect(updated.storageProfile!.osDisk!.encryptionSettings).toMatchObject({ enabled: true, diskEncryptionKey: { secretUrl } });
    const disk = await compute.disks.get(RG, updated.storageProfile!.osDisk!.managedDisk!.id!.split('/').pop()!);
    expect(disk.encryptionSettingsCollection).toMatchObject({ enabled: true, encryptionSettingsVersion: '1.0' });
  });

  it('Linux dual-pass reports the secret URL and the os/data substatus', async () => {
    const app = await createPrincipal(sim, 'ade-dual-linux');
    await kv.vaults.updateAccessPolicy(RG, 'kv-guest-ade', 'add', {
      properties: { accessPolicies: [{ tenantId: sim.seed.tenantId, objectId: app.objectId, permissions: { secrets: ['set'] } }] },
    });
    await newVm('lx-dp', 'Linux', 1);
    await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'lx-dp',
      'AzureDiskEncryptionForLinux',
      adeExtension(
        'Linux',
        'dual',
        { ...vaultSettings(vaultId), AADClientID: app.appId, VolumeType: 'Data' },
        { AADClientSecret: app.clientSecret },
      ),
      FAST_POLL,
    );
    const view = await extensionView('lx-dp', 'AzureDiskEncryptionForLinux');
    expect(view.statuses![0]!.message).toMatch(/^https:\/\/kv-guest-ade\.vault\.azure\.net\/secrets\//);
    expect(JSON.parse(view.substatuses![0]!.message!)).toEqual({ os: 'NotEncrypted', data: 'Encrypted' });
  });

  it.each([
    ['the app lacks secrets/set', { secrets: ['get'] }, {}, /RUNTIME_E_KEYVAULT_SET_SECRET_FAILED.*Forbidden/],
    ['the app lacks keys/wrapKey for the KEK', { secrets: ['set'] }, { kek: true }, /RUNTIME_E_KEYVAULT_WRAP_KEY_FAILED.*Forbidden/],
    ['the client secret has expired', { secrets: ['set'] }, { expired: true }, /Failed to acquire an access token.*AADSTS7000222/],
    ['the client secret is wrong', { secrets: ['set'] }, { wrongSecret: true }, /Failed to acquire an access token.*AADSTS7000215/],
  ] as const)('fails when %s', async (label, permissions, flags, pattern) => {
    const expired = 'expired' in flags;
    const app = await createPrincipal(
      sim,
      `ade-dual-${label.length}`,
      expired ? { secretStartDateTime: '2020-01-01T00:00:00Z', secretEndDateTime: '2020-06-01T00:00:00Z' } : {},
    );
    await kv.vaults.updateAccessPolicy(RG, 'kv-guest-ade', 'add', {
      properties: { accessPolicies: [{ tenantId: sim.seed.tenantId, objectId: app.objectId, permissions: permissions as never }] },
    });
    const name = `dp-fail-${label.length}`;
    await newVm(name, 'Windows', 0);
    const settings = {
      ...vaultSettings(vaultId),
      AADClientID: app.appId,
      ...('kek' in flags ? { KeyEncryptionKeyURL: kekUrl, KekVaultResourceId: vaultId } : {}),
    };
    const secret = 'wrongSecret' in flags ? 'not-the-secret' : app.clientSecret;
    const error = await compute.virtualMachineExtensions
      .beginCreateOrUpdateAndWait(
        RG,
        name,
        'AzureDiskEncryption',
        adeExtension('Windows', 'dual', settings, { AADClientSecret: secret }),
        FAST_POLL,
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((error as Error).message).toContain('VMExtensionProvisioningError');
    expect((error as Error).message).toMatch(pattern);
    expect((error as Error).message).not.toContain(secret);
  });
});

describe('disable', () => {
  it('Windows disables all volumes; Linux refuses to disable anything but Data', async () => {
    await newVm('win-off', 'Windows', 1);
    await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'win-off',
      'AzureDiskEncryption',
      adeExtension('Windows', 'single', vaultSettings(vaultId)),
      FAST_POLL,
    );
    await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'win-off',
      'AzureDiskEncryption',
      adeExtension('Windows', 'single', { EncryptionOperation: 'DisableEncryption', VolumeType: 'All' }),
      FAST_POLL,
    );
    const view = await extensionView('win-off', 'AzureDiskEncryption');
    expect(view.statuses![0]!.message).toMatch(/Disable Encryption completed successfully$/);
    const vm = await compute.virtualMachines.get(RG, 'win-off', { expand: 'instanceView' });
    for (const disk of vm.instanceView!.disks!)
      expect(disk.statuses!.some((st) => st.code?.startsWith('EncryptionState/encrypted'))).toBe(false);

    await newVm('lx-off', 'Linux', 1);
    const error = await compute.virtualMachineExtensions
      .beginCreateOrUpdateAndWait(
        RG,
        'lx-off',
        'AzureDiskEncryptionForLinux',
        adeExtension('Linux', 'single', { EncryptionOperation: 'DisableEncryption', VolumeType: 'All' }),
        FAST_POLL,
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((error as Error).message).toMatch(/Disabling encryption is only allowed on Data volumes for Linux VMs/);
  });
});

describe('guest boot and re-run semantics', () => {
  it('a deleted BEK secret leaves Windows at BitLocker recovery after deallocate + start; recovering it fixes the next boot', async () => {
    const vm = await newVm('win-boot', 'Windows', 0);
    await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'win-boot',
      'AzureDiskEncryption',
      adeExtension('Windows', 'single', vaultSettings(vaultId)),
      FAST_POLL,
    );
    const withView = await compute.virtualMachines.get(RG, 'win-boot', { expand: 'instanceView' });
    const secretName = withView.instanceView!.disks![0]!.encryptionSettings![0]!.diskEncryptionKey!.secretUrl.split('/')[4]!;
    const secrets = new SecretClient('https://kv-guest-ade.vault.azure.net', credential);
    await (await secrets.beginDeleteSecret(secretName)).pollUntilDone();
    const guest = async () =>
      (await control<{ guest: { boot: string; bekFiles: unknown[] } }>(sim, 'GET', `/_sim/arm/vms/guest?id=${encodeURIComponent(vm.id!)}`))
        .body.guest;
    await compute.virtualMachines.beginDeallocateAndWait(RG, 'win-boot', FAST_POLL);
    await compute.virtualMachines.beginStartAndWait(RG, 'win-boot', FAST_POLL);
    expect(await guest()).toMatchObject({ boot: 'BitLockerRecovery', bekFiles: [] });
    const agent = (await compute.virtualMachines.instanceView(RG, 'win-boot')).vmAgent!.statuses![0]!;
    expect(agent.displayStatus).toBe('Not Ready');
    await (await secrets.beginRecoverDeletedSecret(secretName)).pollUntilDone();
    await compute.virtualMachines.beginDeallocateAndWait(RG, 'win-boot', FAST_POLL);
    await compute.virtualMachines.beginStartAndWait(RG, 'win-boot', FAST_POLL);
    expect(await guest()).toMatchObject({ boot: 'ok', bekFiles: [{ name: `${secretName}.BEK` }] });
  });

  it('Linux: re-running with the same SequenceVersion writes no new secret; a new vault configuration does', async () => {
    await newVm('lx-rerun', 'Linux', 0);
    const settings = { ...vaultSettings(vaultId), SequenceVersion: 'seq-1', VolumeType: 'OS' };
    const ext = adeExtension('Linux', 'single', settings);
    await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(RG, 'lx-rerun', 'AzureDiskEncryptionForLinux', ext, FAST_POLL);
    const secretOf = async () =>
      (await compute.virtualMachines.get(RG, 'lx-rerun', { expand: 'instanceView' })).instanceView!.disks![0]!.encryptionSettings![0]!
        .diskEncryptionKey!.secretUrl;
    const first = await secretOf();
    await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'lx-rerun',
      'AzureDiskEncryptionForLinux',
      { ...ext, forceUpdateTag: 'again' },
      FAST_POLL,
    );
    expect(await secretOf()).toBe(first);
    await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'lx-rerun',
      'AzureDiskEncryptionForLinux',
      adeExtension('Linux', 'single', { ...settings, SequenceVersion: 'seq-2', KeyEncryptionKeyURL: kekUrl, KekVaultResourceId: vaultId }),
      FAST_POLL,
    );
    expect(await secretOf()).not.toBe(first);
  });
});
