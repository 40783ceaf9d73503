import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors';
import {
  MAX_INSTANCE_ID_LENGTH,
  entraAppDisplayName,
  isValidInstanceId,
  isValidVaultName,
  normaliseLocation,
  orchestrationInstanceId,
  regionShortCode,
  vaultName,
  vaultNamesFor,
  VAULT_NAME_ATTEMPTS,
} from '../../core/names';

const SUB = '0b1f6471-1bf0-4dda-aec3-111122223333';
const vmId = (rg: string, name: string, sub = SUB) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;

describe('orchestrationInstanceId', () => {
  const cases = [
    { label: 'plain', id: vmId('rg-app', 'vm-01'), startsWith: 'encrypt-0b1f6471-rg-app-vm-01-' },
    {
      label: 'dots, parens and underscores become hyphens',
      id: vmId('rg.prod(eu)_1', 'web_01'),
      startsWith: 'encrypt-0b1f6471-rg-prod-eu-1-web-01-',
    },
    { label: 'upper case is lowered', id: vmId('RG-App', 'VM-01'), startsWith: 'encrypt-0b1f6471-rg-app-vm-01-' },
    { label: 'very long names are truncated', id: vmId('r'.repeat(90), 'v'.repeat(64)), startsWith: `encrypt-0b1f6471-${'r'.repeat(30)}-` },
    { label: 'non-ascii names', id: vmId('rg-élite', 'ｖｍ'), startsWith: 'encrypt-0b1f6471-rg-elite-vm-' },
  ];

  it.each(cases)('$label', ({ id, startsWith }) => {
    const instanceId = orchestrationInstanceId(id);
    expect(instanceId.startsWith(startsWith)).toBe(true);
    expect(instanceId).toMatch(/-[0-9a-f]{12}$/);
    expect(instanceId.length).toBeLessThanOrEqual(MAX_INSTANCE_ID_LENGTH);
    expect(instanceId).not.toMatch(/[/\\?#]/);
    expect(isValidInstanceId(instanceId)).toBe(true);
  });

  it('is stable across case differences and event spellings of the same id', () => {
    const a = orchestrationInstanceId(vmId('RG-App', 'VM-01'));
    const b = orchestrationInstanceId(
      `/SUBSCRIPTIONS/${SUB.toUpperCase()}/resourcegroups/rg-app/providers/microsoft.compute/virtualmachines/vm-01`,
    );
    expect(a).toBe(b);
    // Same input → same output (no randomness, no clock).
    expect(orchestrationInstanceId(vmId('RG-App', 'VM-01'))).toBe(a);
  });

  it('hash is sha256 of purpose and the normalised id', () => {
    const id = vmId('rg-app', 'vm-01');
    const expectedHash = createHash('sha256').update(`encrypt|${id.toLowerCase()}`).digest('hex').slice(0, 12);
    expect(orchestrationInstanceId(id)).toBe(`encrypt-0b1f6471-rg-app-vm-01-${expectedHash}`);
  });

  it('keeps VMs apart whose readable parts collide', () => {
    const ids = [
      vmId('rg.a', 'vm'),
      vmId('rg-a', 'vm'),
      vmId('rg_a', 'vm'),
      vmId('r'.repeat(90), `${'v'.repeat(63)}1`),
      vmId('r'.repeat(90), `${'v'.repeat(63)}2`),
      vmId('rg', 'vm', '0b1f6471-0000-0000-0000-000000000000'),
      vmId('rg', 'vm', '0b1f6471-0000-0000-0000-000000000001'),
    ];
    expect(new Set(ids.map((id) => orchestrationInstanceId(id))).size).toBe(ids.length);
  });

  it('uses the purpose as the readable prefix and separates purposes', () => {
    const id = vmId('rg', 'vm');
    expect(orchestrationInstanceId(id, 'repair-bek')).toMatch(/^repair-bek-0b1f6471-rg-vm-[0-9a-f]{12}$/);
    expect(orchestrationInstanceId(id, 'repair-bek').slice(-12)).not.toBe(orchestrationInstanceId(id).slice(-12));
  });

  it.each([
    ['not a VM id', `/subscriptions/${SUB}/resourceGroups/rg`, 'vmResourceId'],
    ['garbage', 'vm-01', 'vmResourceId'],
  ])('%s → ValidationError naming the field', (_label, input, field) => {
    expect(() => orchestrationInstanceId(input)).toThrow(ValidationError);
    try {
      orchestrationInstanceId(input);
    } catch (error) {
      expect((error as ValidationError).field).toBe(field);
    }
  });

  it('rejects an invalid purpose', () => {
    expect(() => orchestrationInstanceId(vmId('rg', 'vm'), 'Encrypt/x')).toThrow(/purpose must be/);
  });

  it('isValidInstanceId rejects the forbidden characters', () => {
    for (const bad of ['a/b', 'a\\b', 'a?b', 'a#b', 'a\nb', '', 'x'.repeat(101)]) expect(isValidInstanceId(bad), bad).toBe(false);
  });
});

describe('vault names', () => {
  const table = [
    {
      label: 'per-region westeurope',
      input: { strategy: 'per-region', prefix: 'adeap', subscriptionId: SUB, location: 'westeurope' },
      startsWith: 'adeap-weu-',
    },
    {
      label: 'per-region display-name location',
      input: { strategy: 'per-region', prefix: 'adeap', subscriptionId: SUB, location: 'West Europe' },
      startsWith: 'adeap-weu-',
    },
    {
      label: 'per-region long prefix and long region code',
      input: { strategy: 'per-region', prefix: 'abcdefgh', subscriptionId: SUB, location: 'australiasoutheast' },
      startsWith: 'abcdefgh-ause-',
    },
    {
      label: 'per-region unknown region',
      input: { strategy: 'per-region', prefix: 'kv', subscriptionId: SUB, location: 'newlandcentral' },
      startsWith: 'kv-newl-',
    },
    {
      label: 'per-vm',
      input: { strategy: 'per-vm', prefix: 'adeap', vmResourceId: vmId('rg', 'vm-01'), location: 'eastus2' },
      startsWith: 'adeap-eus2-',
    },
  ] as const;

  it.each(table)('$label: valid, 24 chars, deterministic', ({ input, startsWith }) => {
    const name = vaultName(input);
    expect(name.startsWith(startsWith)).toBe(true);
    expect(name).toHaveLength(24);
    expect(isValidVaultName(name)).toBe(true);
    expect(name).toMatch(/^[a-z][a-z0-9-]+[a-z0-9]$/);
    expect(name).not.toContain('--');
    expect(vaultName(input)).toBe(name);
  });

  it('location spelling and subscription case do not change the name', () => {
    const a = vaultName({ strategy: 'per-region', prefix: 'adeap', subscriptionId: SUB, location: 'West Europe' });
    const b = vaultName({ strategy: 'per-region', prefix: 'adeap', subscriptionId: SUB.toUpperCase(), location: 'westeurope' });
    expect(a).toBe(b);
  });

  it('per-vm names follow the VM id case-insensitively', () => {
    const a = vaultName({ strategy: 'per-vm', prefix: 'adeap', vmResourceId: vmId('RG', 'VM-01'), location: 'eastus' });
    const b = vaultName({ strategy: 'per-vm', prefix: 'adeap', vmResourceId: vmId('rg', 'vm-01'), location: 'eastus' });
    expect(a).toBe(b);
  });

  it('differs per subscription, per region, per VM and per strategy', () => {
    const names = [
      vaultName({ strategy: 'per-region', prefix: 'adeap', subscriptionId: SUB, location: 'westeurope' }),
      vaultName({
        strategy: 'per-region',
        prefix: 'adeap',
        subscriptionId: '0b1f6471-1bf0-4dda-aec3-111122223334',
        location: 'westeurope',
      }),
      vaultName({ strategy: 'per-region', prefix: 'adeap', subscriptionId: SUB, location: 'northeurope' }),
      // Two unknown regions sharing the slug still get different hashes.
      vaultName({ strategy: 'per-region', prefix: 'adeap', subscriptionId: SUB, location: 'newlandcentral' }),
      vaultName({ strategy: 'per-region', prefix: 'adeap', subscriptionId: SUB, location: 'newlandeast' }),
      vaultName({ strategy: 'per-vm', prefix: 'adeap', vmResourceId: vmId('rg', 'vm-01'), location: 'westeurope' }),
      vaultName({ strategy: 'per-vm', prefix: 'adeap', vmResourceId: vmId('rg', 'vm-02'), location: 'westeurope' }),
    ];
    expect(new Set(names).size).toBe(names.length);
  });

  it.each([
    ['prefix with a hyphen', { strategy: 'per-region', prefix: 'ade-', subscriptionId: SUB, location: 'westeurope' }, 'prefix'],
    ['prefix too long', { strategy: 'per-region', prefix: 'adeautopilot', subscriptionId: SUB, location: 'westeurope' }, 'prefix'],
    ['upper-case prefix', { strategy: 'per-region', prefix: 'ADE', subscriptionId: SUB, location: 'westeurope' }, 'prefix'],
    [
      'subscription not a GUID',
      { strategy: 'per-region', prefix: 'adeap', subscriptionId: 'sub', location: 'westeurope' },
      'subscriptionId',
    ],
    ['empty location', { strategy: 'per-region', prefix: 'adeap', subscriptionId: SUB, location: ' ' }, 'location'],
    [
      'per-vm with a non-VM id',
      { strategy: 'per-vm', prefix: 'adeap', vmResourceId: `/subscriptions/${SUB}/resourceGroups/rg`, location: 'westeurope' },
      'vmResourceId',
    ],
  ] as const)('%s → ValidationError on %s', (_label, input, field) => {
    let caught: unknown;
    try {
      vaultName(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).field).toBe(field);
  });

  it('validates vault names by the Key Vault rules', () => {
    for (const good of ['abc', 'a-b-c', 'kv1', 'a'.repeat(24)]) expect(isValidVaultName(good), good).toBe(true);
    for (const bad of ['ab', 'a'.repeat(25), '1kv', 'kv-', 'k--v', 'KV1', 'kv_1']) expect(isValidVaultName(bad), bad).toBe(false);
  });

  it('region codes and location normalisation', () => {
    expect(normaliseLocation('West US 2')).toBe('westus2');
    expect(regionShortCode('West US 2')).toBe('wus2');
    expect(regionShortCode('swedencentral')).toBe('sec');
  });
});

describe('entraAppDisplayName', () => {
  it('names the app after its vault', () => {
    expect(entraAppDisplayName('adeap-weu-0123456789abcd')).toBe('ade-autopilot-adeap-weu-0123456789abcd');
  });
  it('rejects something that is not a vault name', () => {
    expect(() => entraAppDisplayName('Not A Vault')).toThrow(ValidationError);
  });
});

describe('vault names: per-deployment salt and fallbacks', () => {
  const sub = '11111111-2222-3333-4444-555555555555';
  const base = { strategy: 'per-region' as const, prefix: 'adeap', subscriptionId: sub, location: 'westeurope' };
  it('the salt changes every name; without salt and attempt the name is the unsalted first choice', () => {
    expect(vaultName({ ...base, salt: 'deploy-salt-1' })).not.toBe(vaultName(base));
    expect(vaultName({ ...base, salt: 'deploy-salt-1' })).not.toBe(vaultName({ ...base, salt: 'deploy-salt-2' }));
    expect(vaultName({ ...base, attempt: 0 })).toBe(vaultName(base));
  });
  it.each([
    ['per-region', { strategy: 'per-region' as const, namePrefix: 'adeap', nameSalt: 'deploy-salt-1' }],
    ['per-vm', { strategy: 'per-vm' as const, namePrefix: 'adeap', nameSalt: 'deploy-salt-1' }],
  ])('%s: %s distinct valid names, first choice first, stable', (_what, vault) => {
    const vm = {
      id: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1`,
      subscriptionId: sub,
      location: 'westeurope',
    };
    const names = vaultNamesFor(vault, vm);
    expect(names).toHaveLength(VAULT_NAME_ATTEMPTS);
    expect(new Set(names).size).toBe(VAULT_NAME_ATTEMPTS);
    for (const n of names) expect(isValidVaultName(n)).toBe(true);
    expect(names).toEqual(vaultNamesFor(vault, { ...vm, location: 'West Europe' }));
  });
  it('refuses an attempt outside the range', () => {
    expect(() => vaultName({ ...base, attempt: VAULT_NAME_ATTEMPTS })).toThrow(/attempt must be an integer/);
  });
});
