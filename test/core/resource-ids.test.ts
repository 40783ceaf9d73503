import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors';
import {
  formatKeyVaultObjectId,
  formatKeyVaultResourceId,
  formatResourceId,
  formatVmId,
  fullResourceType,
  keyVaultUrlOf,
  normaliseResourceId,
  parentResourceId,
  parseKeyVaultObjectId,
  parseKeyVaultUrl,
  parseResourceId,
  parseVmId,
  resourceName,
  sameResourceId,
} from '../../core/resource-ids';

const SUB = '0b1f6471-1bf0-4dda-aec3-111122223333';

describe('parseResourceId / formatResourceId', () => {
  const cases = [
    {
      label: 'virtual machine',
      id: `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-01`,
      parsed: {
        subscriptionId: SUB,
        resourceGroup: 'rg-app',
        provider: 'Microsoft.Compute',
        resourceTypes: ['virtualMachines'],
        names: ['vm-01'],
      },
      type: 'Microsoft.Compute/virtualMachines',
      name: 'vm-01',
    },
    {
      label: 'VM extension (child resource) with a non-default name',
      id: `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-01/extensions/diskEncryption`,
      parsed: {
        subscriptionId: SUB,
        resourceGroup: 'rg-app',
        provider: 'Microsoft.Compute',
        resourceTypes: ['virtualMachines', 'extensions'],
        names: ['vm-01', 'diskEncryption'],
      },
      type: 'Microsoft.Compute/virtualMachines/extensions',
      name: 'diskEncryption',
    },
    {
      label: 'key vault',
      id: `/subscriptions/${SUB}/resourceGroups/rg-ade-autopilot-vaults/providers/Microsoft.KeyVault/vaults/adeap-weu-0a1b2c3d`,
      parsed: {
        subscriptionId: SUB,
        resourceGroup: 'rg-ade-autopilot-vaults',
        provider: 'Microsoft.KeyVault',
        resourceTypes: ['vaults'],
        names: ['adeap-weu-0a1b2c3d'],
      },
      type: 'Microsoft.KeyVault/vaults',
      name: 'adeap-weu-0a1b2c3d',
    },
    {
      label: 'three levels deep',
      id:
        `/subscriptions/${SUB}/resourceGroups/rg.with(parens)_1/providers/Microsoft.Network/virtualNetworks/` +
        `vnet/subnets/default/ipConfigurations/x`,
      parsed: {
        subscriptionId: SUB,
        resourceGroup: 'rg.with(parens)_1',
        provider: 'Microsoft.Network',
        resourceTypes: ['virtualNetworks', 'subnets', 'ipConfigurations'],
        names: ['vnet', 'default', 'x'],
      },
      type: 'Microsoft.Network/virtualNetworks/subnets/ipConfigurations',
      name: 'x',
    },
    {
      label: 'resource group',
      id: `/subscriptions/${SUB}/resourceGroups/rg-app`,
      parsed: { subscriptionId: SUB, resourceGroup: 'rg-app', resourceTypes: [], names: [] },
      type: undefined,
      name: undefined,
    },
    {
      label: 'subscription',
      id: `/subscriptions/${SUB}`,
      parsed: { subscriptionId: SUB, resourceTypes: [], names: [] },
      type: undefined,
      name: undefined,
    },
    {
      label: 'subscription-level provider resource',
      id: `/subscriptions/${SUB}/providers/Microsoft.EventGrid/systemTopics/t1`,
      parsed: { subscriptionId: SUB, provider: 'Microsoft.EventGrid', resourceTypes: ['systemTopics'], names: ['t1'] },
      type: 'Microsoft.EventGrid/systemTopics',
      name: 't1',
    },
  ];

  it.each(cases)('$label: parses, names its type, and round-trips', ({ id, parsed, type, name }) => {
    const result = parseResourceId(id);
    expect(result).toEqual(parsed);
    expect(fullResourceType(result)).toBe(type);
    expect(resourceName(result)).toBe(name);
    expect(formatResourceId(result)).toBe(id);
  });

  it('accepts the lower-case spellings events use and formats canonically', () => {
    const id = `/SUBSCRIPTIONS/${SUB.toUpperCase()}/resourcegroups/RG-App/providers/microsoft.compute/virtualmachines/VM-01/`;
    const parsed = parseResourceId(id);
    expect(parsed.subscriptionId).toBe(SUB);
    expect(formatResourceId(parsed)).toBe(`/subscriptions/${SUB}/resourceGroups/RG-App/providers/microsoft.compute/virtualmachines/VM-01`);
  });

  it('parent of a child resource is the VM', () => {
    const ext = parseResourceId(
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/extensions/AzureDiskEncryption`,
    );
    const parent = parentResourceId(ext);
    expect(parent && formatResourceId(parent)).toBe(
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`,
    );
    expect(parent && parentResourceId(parent)).toBeUndefined();
  });

  const malformed: Array<[string, unknown, string]> = [
    ['not a string', 42, 'non-empty'],
    ['empty', '', 'non-empty'],
    ['relative', `subscriptions/${SUB}`, 'must start with "/subscriptions/"'],
    ['wrong root', `/tenants/${SUB}`, '"/subscriptions/<subscription id>"'],
    ['subscription not a GUID', '/subscriptions/my-sub/resourceGroups/rg', 'not a GUID'],
    ['empty segment', `/subscriptions/${SUB}//resourceGroups/rg`, 'empty path segment'],
    ['resourceGroups without a name', `/subscriptions/${SUB}/resourceGroups`, 'without a resource group name'],
    [
      'bad resource group',
      `/subscriptions/${SUB}/resourceGroups/rg./providers/Microsoft.Compute/virtualMachines/vm`,
      'invalid resource group name',
    ],
    [
      'missing providers keyword',
      `/subscriptions/${SUB}/resourceGroups/rg/Microsoft.Compute/virtualMachines/vm`,
      'expected "providers/<namespace>"',
    ],
    ['bad namespace', `/subscriptions/${SUB}/resourceGroups/rg/providers/Compute/virtualMachines/vm`, 'invalid provider namespace'],
    ['type without name', `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines`, '"<type>/<name>" pairs'],
    ['namespace only', `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute`, '"<type>/<name>" pairs'],
    [
      'extension resource',
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/` +
        `Microsoft.Insights/diagnosticSettings/d`,
      'extension resource id',
    ],
    [
      'bad type segment',
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtual-machines/vm`,
      'invalid resource type segment',
    ],
  ];

  it.each(malformed)('%s → ValidationError naming the field', (_label, input, fragment) => {
    let caught: unknown;
    try {
      parseResourceId(input, 'data.resourceUri');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    const error = caught as ValidationError;
    expect(error.field).toBe('data.resourceUri');
    expect(error.message).toContain('data.resourceUri');
    expect(error.message).toContain(fragment);
  });
});

describe('normalise / compare', () => {
  const a = `/subscriptions/${SUB}/resourceGroups/RG-App/providers/Microsoft.Compute/virtualMachines/VM-01`;
  const b = `/subscriptions/${SUB.toUpperCase()}/resourcegroups/rg-app/providers/microsoft.compute/virtualmachines/vm-01`;

  it('equal ids in different case normalise to the same key', () => {
    expect(normaliseResourceId(a)).toBe(normaliseResourceId(b));
    expect(normaliseResourceId(a)).toBe(`/subscriptions/${SUB}/resourcegroups/rg-app/providers/microsoft.compute/virtualmachines/vm-01`);
    expect(sameResourceId(a, b)).toBe(true);
  });

  it('different resources are different; malformed ids equal nothing', () => {
    expect(sameResourceId(a, a.replace('VM-01', 'VM-02'))).toBe(false);
    expect(sameResourceId(a, `${a}/extensions/x`)).toBe(false);
    expect(sameResourceId('garbage', 'garbage')).toBe(false);
  });
});

describe('VM ids', () => {
  it('parses and formats a VM id', () => {
    const id = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-1`;
    expect(parseVmId(id)).toEqual({ subscriptionId: SUB, resourceGroup: 'rg', name: 'web-1' });
    expect(formatVmId(parseVmId(id))).toBe(id);
  });

  it.each([
    `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-1/extensions/e`,
    `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d1`,
    `/subscriptions/${SUB}/resourceGroups/rg`,
  ])('rejects a non-VM id %s', (id) => {
    expect(() => parseVmId(id, 'vmId')).toThrow(/vmId is not a virtual machine id/);
  });

  it('formats a Key Vault resource id', () => {
    expect(formatKeyVaultResourceId(SUB, 'rg-v', 'kv1')).toBe(
      `/subscriptions/${SUB}/resourceGroups/rg-v/providers/Microsoft.KeyVault/vaults/kv1`,
    );
  });
});

describe('Key Vault object ids', () => {
  const cases = [
    {
      url: 'https://adeap-weu-0a1b2c3d.vault.azure.net/secrets/5b6e2e4c-0c6e-4d9f-9c55-3f1e7c1c2a10/0123456789abcdef0123456789abcdef',
      parsed: {
        vaultUrl: 'https://adeap-weu-0a1b2c3d.vault.azure.net',
        vaultName: 'adeap-weu-0a1b2c3d',
        kind: 'secrets',
        name: '5b6e2e4c-0c6e-4d9f-9c55-3f1e7c1c2a10',
        version: '0123456789abcdef0123456789abcdef',
      },
    },
    {
      url: 'https://kv1.vault.azure.net/keys/kek/fedcba9876543210fedcba9876543210',
      parsed: {
        vaultUrl: 'https://kv1.vault.azure.net',
        vaultName: 'kv1',
        kind: 'keys',
        name: 'kek',
        version: 'fedcba9876543210fedcba9876543210',
      },
    },
    {
      url: 'https://kv1.vault.azure.net/keys/kek',
      parsed: { vaultUrl: 'https://kv1.vault.azure.net', vaultName: 'kv1', kind: 'keys', name: 'kek' },
    },
    {
      url: 'https://kv-china.vault.azure.cn/secrets/s1/abc',
      parsed: { vaultUrl: 'https://kv-china.vault.azure.cn', vaultName: 'kv-china', kind: 'secrets', name: 's1', version: 'abc' },
    },
  ];

  it.each(cases)('$url parses and round-trips', ({ url, parsed }) => {
    expect(parseKeyVaultObjectId(url)).toEqual(parsed);
    expect(formatKeyVaultObjectId(parseKeyVaultObjectId(url))).toBe(url);
  });

  it('normalises the host case and a trailing slash', () => {
    const id = parseKeyVaultObjectId('https://KV1.Vault.Azure.NET/Keys/kek/abc/');
    expect(id).toEqual({ vaultUrl: 'https://kv1.vault.azure.net', vaultName: 'kv1', kind: 'keys', name: 'kek', version: 'abc' });
    expect(formatKeyVaultObjectId(id)).toBe('https://kv1.vault.azure.net/keys/kek/abc');
  });

  const malformed: Array<[string, unknown, string]> = [
    ['not a string', undefined, 'non-empty'],
    ['not a URL', 'kv1/keys/kek', 'is not a URL'],
    ['http', 'http://kv1.vault.azure.net/keys/kek', 'must use https'],
    ['port (ADE rejects it)', 'https://kv1.vault.azure.net:443/keys/kek/abc', 'must not contain a port'],
    ['not a vault host', 'https://example.com/keys/kek', 'not a Key Vault host'],
    ['vault name too short', 'https://k.vault.azure.net/keys/kek', 'invalid vault name'],
    ['vault name with double hyphen', 'https://kv--1.vault.azure.net/keys/kek', 'invalid vault name'],
    ['certificates', 'https://kv1.vault.azure.net/certificates/c', '"secrets" or "keys"'],
    ['no object name', 'https://kv1.vault.azure.net/secrets', 'must look like'],
    ['too many segments', 'https://kv1.vault.azure.net/secrets/a/b/c', 'must look like'],
    ['bad object name', 'https://kv1.vault.azure.net/secrets/a_b', 'invalid object name'],
    ['query string', 'https://kv1.vault.azure.net/secrets/a?api-version=7.4', 'query or fragment'],
  ];

  it.each(malformed)('%s → ValidationError naming the field', (_label, input, fragment) => {
    expect(() => parseKeyVaultObjectId(input, 'KeyEncryptionKeyURL')).toThrow(ValidationError);
    expect(() => parseKeyVaultObjectId(input, 'KeyEncryptionKeyURL')).toThrow(
      new RegExp(`KeyEncryptionKeyURL.*${fragment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
  });

  it('parses vault base URLs and builds them from names', () => {
    expect(parseKeyVaultUrl('https://KV1.vault.azure.net/')).toEqual({ vaultUrl: 'https://kv1.vault.azure.net', vaultName: 'kv1' });
    expect(() => parseKeyVaultUrl('https://kv1.vault.azure.net/secrets/x', 'KeyVaultURL')).toThrow(
      /KeyVaultURL must be the vault base URL/,
    );
    expect(() => parseKeyVaultUrl('https://kv1.vault.azure.net:443', 'KeyVaultURL')).toThrow(/port/);
    expect(keyVaultUrlOf('AdeAp-weu-1')).toBe('https://adeap-weu-1.vault.azure.net');
  });
});
