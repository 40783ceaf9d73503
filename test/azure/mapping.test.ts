/**
 * Pure mappers between SDK models and the ports' SDK-free types.
 */
import type { EventSubscription } from '@azure/arm-eventgrid';
import type { VirtualMachine } from '@azure/arm-compute';
import { describe, expect, it } from 'vitest';
import { mergeTags, toExtensionStatus, toSdkEncryptionSettings, toVmSnapshot } from '../../azure/compute-mapping';
import { subscriptionMatches } from '../../azure/event-subscriptions';
import type { AccessPolicy, EventSubscriptionSpec } from '../../azure/ports';
import { coversPolicy, subtractPermissions } from '../../azure/vault-management';

const SUB = '11111111-2222-3333-4444-555555555555';
const VM_ID = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/web01`;
const VAULT_ID = `/subscriptions/${SUB}/resourceGroups/rg-ade/providers/Microsoft.KeyVault/vaults/kv1`;

/** A dual-pass Windows VM as @azure/arm-compute returns it with $expand=instanceView. */
const dualPassWindowsVm: VirtualMachine = {
  id: VM_ID,
  name: 'web01',
  location: 'westeurope',
  tags: { env: 'prod' },
  hardwareProfile: { vmSize: 'Standard_D4s_v5' },
  provisioningState: 'Succeeded',
  storageProfile: {
    imageReference: { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter', version: 'latest' },
    osDisk: {
      osType: 'Windows',
      name: 'web01_OsDisk',
      createOption: 'FromImage',
      managedDisk: {
        id: `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/web01_OsDisk`,
        storageAccountType: 'Premium_LRS',
      },
      encryptionSettings: {
        enabled: true,
        diskEncryptionKey: {
          secretUrl: 'https://kv1.vault.azure.net/secrets/abc/0123456789abcdef0123456789abcdef',
          sourceVault: { id: VAULT_ID },
        },
      },
    },
    dataDisks: [
      {
        lun: 0,
        name: 'web01_data0',
        createOption: 'Empty',
        managedDisk: {
          id: `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/web01_data0`,
          storageAccountType: 'StandardSSD_LRS',
        },
      },
    ],
  },
  securityProfile: { encryptionAtHost: false },
  resources: [
    {
      id: `${VM_ID}/extensions/diskEncryption`,
      name: 'diskEncryption',
      location: 'westeurope',
      publisher: 'Microsoft.Azure.Security',
      typePropertiesType: 'AzureDiskEncryption',
      typeHandlerVersion: '1.1',
      provisioningState: 'Succeeded',
      settings: { VolumeType: 'All' },
    },
  ],
  instanceView: {
    statuses: [
      { code: 'ProvisioningState/succeeded', level: 'Info', time: new Date('2026-01-02T03:04:05Z') },
      { code: 'PowerState/deallocated', level: 'Info' },
    ],
    disks: [{ name: 'web01_OsDisk', statuses: [{ code: 'EncryptionState/encrypted', level: 'Info' }] }],
    extensions: [
      {
        name: 'diskEncryption',
        type: 'Microsoft.Azure.Security.AzureDiskEncryption',
        typeHandlerVersion: '1.1.0.5',
        statuses: [
          { code: 'ProvisioningState/succeeded', message: 'https://kv1.vault.azure.net/secrets/abc/0123456789abcdef0123456789abcdef' },
        ],
      },
    ],
  },
} as VirtualMachine;

describe('toVmSnapshot', () => {
  it('flattens the SDK model into a VmSnapshot', () => {
    const vm = toVmSnapshot(dualPassWindowsVm);
    expect(vm).toMatchObject({
      id: VM_ID,
      name: 'web01',
      resourceGroup: 'rg-app',
      subscriptionId: SUB,
      osType: 'Windows',
      vmSize: 'Standard_D4s_v5',
      powerState: 'deallocated',
      tags: { env: 'prod' },
      securityProfile: { encryptionAtHost: false },
      osDisk: {
        name: 'web01_OsDisk',
        storageAccountType: 'Premium_LRS',
        encryptionSettings: { enabled: true, diskEncryptionKey: { sourceVault: { id: VAULT_ID } } },
      },
      dataDisks: [{ lun: 0, name: 'web01_data0', storageAccountType: 'StandardSSD_LRS' }],
      extensions: [
        {
          name: 'diskEncryption',
          publisher: 'Microsoft.Azure.Security',
          type: 'AzureDiskEncryption',
          typeHandlerVersion: '1.1',
          provisioningState: 'Succeeded',
          settings: { VolumeType: 'All' },
        },
      ],
    });
    expect(vm.instanceView?.statuses?.[0]?.time).toBe('2026-01-02T03:04:05.000Z');
    expect(vm.instanceView?.extensions?.[0]?.statuses?.[0]?.message).toContain('/secrets/abc/');
    // Plain JSON: safe for durable history.
    expect(JSON.parse(JSON.stringify(vm))).toEqual(vm);
  });

  it.each([
    { name: 'declared Linux', vm: { storageProfile: { osDisk: { osType: 'Linux', createOption: 'FromImage' } } }, expected: 'Linux' },
    { name: 'no osType, linuxConfiguration', vm: { osProfile: { linuxConfiguration: {} } }, expected: 'Linux' },
    { name: 'no osType, windowsConfiguration', vm: { osProfile: { windowsConfiguration: {} } }, expected: 'Windows' },
  ])('infers the OS type: $name', ({ vm, expected }) => {
    expect(toVmSnapshot({ id: VM_ID, location: 'westeurope', ...vm } as VirtualMachine).osType).toBe(expected);
  });

  it.each([
    { name: 'from the OS profile', osProfile: { computerName: 'WEB01-PROD' }, expected: 'WEB01-PROD' },
    {
      name: 'Linux hostname longer than 15 characters',
      osProfile: { computerName: 'app-frontend-westeurope-01', linuxConfiguration: {} },
      expected: 'app-frontend-westeurope-01',
    },
    { name: 'absent: specialized/attached OS disk has no OS profile', osProfile: undefined, expected: undefined },
    { name: 'absent: OS profile without computerName', osProfile: { adminUsername: 'azureuser' }, expected: undefined },
    { name: 'absent: blank computerName', osProfile: { computerName: '  ' }, expected: undefined },
  ])('computerName $name', ({ osProfile, expected }) => {
    const vm = toVmSnapshot({
      id: VM_ID,
      location: 'westeurope',
      storageProfile: { osDisk: { osType: 'Linux', createOption: 'Attach' } },
      ...(osProfile ? { osProfile } : {}),
    } as VirtualMachine);
    expect(vm.computerName).toBe(expected);
    expect('computerName' in vm).toBe(expected !== undefined);
  });

  it('rejects a VM without id or OS type with a validation error naming the field', () => {
    expect(() => toVmSnapshot({ location: 'x' } as VirtualMachine)).toThrow(expect.objectContaining({ kind: 'validation', field: 'id' }));
    expect(() => toVmSnapshot({ id: VM_ID, location: 'x' } as VirtualMachine)).toThrow(
      expect.objectContaining({ kind: 'validation', field: 'storageProfile.osDisk.osType' }),
    );
  });

  it('round-trips encryption settings to the SDK shape', () => {
    const settings = {
      enabled: true,
      diskEncryptionKey: { secretUrl: 'https://kv1.vault.azure.net/secrets/a/b', sourceVault: { id: VAULT_ID } },
      keyEncryptionKey: { keyUrl: 'https://kv1.vault.azure.net/keys/k/v', sourceVault: { id: VAULT_ID } },
    };
    expect(toSdkEncryptionSettings(settings)).toEqual(settings);
    expect(toSdkEncryptionSettings({ enabled: false })).toEqual({ enabled: false });
  });

  it('never copies protected settings of an extension', () => {
    const status = toExtensionStatus(
      { location: 'x', name: 'ADE', settings: { A: 1 }, protectedSettings: { AADClientSecret: 'leak' } },
      'ADE',
    );
    expect(JSON.stringify(status)).not.toContain('leak');
  });
});

describe('mergeTags', () => {
  const table: Array<{ current: Record<string, string>; updates: Record<string, string>; expected: Record<string, string> }> = [
    { current: {}, updates: { a: '1' }, expected: { a: '1' } },
    { current: { a: '1' }, updates: { b: '2' }, expected: { a: '1', b: '2' } },
    { current: { a: '1' }, updates: { a: '2' }, expected: { a: '2' } },
    { current: { Owner: 'x', keep: 'y' }, updates: { owner: 'z' }, expected: { owner: 'z', keep: 'y' } },
    { current: { a: '1' }, updates: {}, expected: { a: '1' } },
  ];
  it.each(table)('$current + $updates', ({ current, updates, expected }) => {
    expect(mergeTags(current, updates)).toEqual(expected);
  });
});

describe('access-policy arithmetic', () => {
  const tenantId = 'aaaaaaaa-0000-0000-0000-000000000000';
  const objectId = 'bbbbbbbb-0000-0000-0000-000000000000';
  const entry = (permissions: AccessPolicy['permissions'], id = objectId): AccessPolicy => ({ tenantId, objectId: id, permissions });

  it.each([
    { existing: [entry({ keys: ['Get', 'Create'] })], wanted: entry({ keys: ['get'] }), covered: true },
    { existing: [entry({ keys: ['get'] })], wanted: entry({ keys: ['get', 'create'] }), covered: false },
    { existing: [entry({ keys: ['all'], secrets: ['list'] })], wanted: entry({ keys: ['wrapKey'], secrets: ['list'] }), covered: true },
    { existing: [entry({ keys: ['get'] }, 'cccccccc-0000-0000-0000-000000000000')], wanted: entry({ keys: ['get'] }), covered: false },
    { existing: [], wanted: entry({}), covered: false },
  ])('coversPolicy #%#', ({ existing, wanted, covered }) => {
    expect(coversPolicy(existing, wanted)).toBe(covered);
  });

  it('subtractPermissions keeps what is not wanted, case-insensitively', () => {
    expect(subtractPermissions({ keys: ['Get', 'Delete'], secrets: ['list', 'delete'] }, { keys: ['get'], secrets: ['List'] })).toEqual({
      keys: ['Delete'],
      secrets: ['delete'],
      certificates: [],
    });
  });
});

describe('subscriptionMatches', () => {
  const spec: EventSubscriptionSpec = {
    name: 's',
    destination: {
      kind: 'webhook',
      endpointUrl: 'https://app.azurewebsites.net/runtime/webhooks/EventGrid?functionName=secretEvents&code=KEY',
    },
    includedEventTypes: ['Microsoft.KeyVault.SecretNewVersionCreated'],
  };
  const live = (over: Partial<EventSubscription> = {}): EventSubscription =>
    ({
      provisioningState: 'Succeeded',
      destination: { endpointType: 'WebHook', endpointBaseUrl: 'https://app.azurewebsites.net/runtime/webhooks/EventGrid' },
      filter: { includedEventTypes: ['microsoft.keyvault.secretnewversioncreated'] },
      ...over,
    }) as EventSubscription;

  it.each([
    { name: 'same destination (ARM hides the query) and types', sub: live(), matches: true },
    {
      name: 'other webhook',
      sub: live({ destination: { endpointType: 'WebHook', endpointBaseUrl: 'https://other.example/hook' } as never }),
      matches: false,
    },
    {
      name: 'more event types',
      sub: live({ filter: { includedEventTypes: ['Microsoft.KeyVault.SecretNewVersionCreated', 'Microsoft.KeyVault.SecretExpired'] } }),
      matches: false,
    },
    {
      name: 'subject filter set',
      sub: live({ filter: { includedEventTypes: ['Microsoft.KeyVault.SecretNewVersionCreated'], subjectBeginsWith: 'x' } }),
      matches: false,
    },
    { name: 'failed provisioning', sub: live({ provisioningState: 'Failed' }), matches: false },
    {
      name: 'function destination instead of webhook',
      sub: live({ destination: { endpointType: 'AzureFunction', resourceId: '/subscriptions/x' } as never }),
      matches: false,
    },
  ])('$name → $matches', ({ sub, matches }) => {
    expect(subscriptionMatches(sub, spec)).toBe(matches);
  });
});
