import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import {
  SKIP_REASONS,
  UNSUPPORTED_REASONS,
  assessVm,
  describeAssessment,
  memoryGiBOf,
  parseVmSize,
  reasonText,
  type Assessment,
  type SkipReason,
  type UnsupportedReason,
} from '../../core/eligibility';
import type { InstanceViewStatus, VirtualMachine } from '@azure/arm-compute';
import type { EncryptionPolicy } from '../../core/policy';
import { parseVmId } from '../../core/resource-ids';
import { isAdeExtension } from '../../core/extension-settings';
import { findAdeExtension, powerStateOf, type InstanceViewStatus as VmStatus, type VmSnapshot } from '../../core/vm';
import { merge } from '../remediation/helpers';
import { SCALE_SET_CASES } from '../fixtures/vms/scale-sets';

const FIXTURES = join(__dirname, '..', 'fixtures', 'vms');

function loadVm(name: string): VmSnapshot {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as VmSnapshot;
}

interface Case {
  name: string;
  base: string;
  vm?: unknown;
  policy?: unknown;
  expect: Partial<Assessment> & { detailContains?: string };
}

const cases = JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as Case[];
const basePolicy: EncryptionPolicy = toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: '0b1f6471-1bf0-4dda-aec3-111122223333' }));

describe('assessVm (fixtures)', () => {
  it.each(cases)('$name', ({ base, vm, policy, expect: expected }) => {
    const snapshot = merge(loadVm(base), vm);
    const effectivePolicy = merge(basePolicy, policy);
    const result = assessVm(snapshot, effectivePolicy);
    const { detailContains, ...shape } = expected;
    expect(result).toMatchObject(shape);
    if (detailContains !== undefined) expect((result as { detail?: string }).detail).toContain(detailContains);
    // Every result explains itself in one line.
    expect(describeAssessment(result).length).toBeGreaterThan(10);
  });

  it('every enumerated reason is exercised by at least one fixture', () => {
    const covered = new Set([...cases, ...SCALE_SET_CASES].map((c) => (c.expect as { reason?: string }).reason).filter(Boolean));
    const all = [...Object.keys(SKIP_REASONS), ...Object.keys(UNSUPPORTED_REASONS)];
    expect(all.filter((r) => !covered.has(r))).toEqual([]);
  });

  it('is pure: the same input gives the same result and inputs are not mutated', () => {
    const vm = loadVm('dual-pass-encrypted-windows');
    const before = JSON.stringify(vm);
    const policyBefore = JSON.stringify(basePolicy);
    expect(assessVm(vm, basePolicy)).toEqual(assessVm(vm, basePolicy));
    expect(JSON.stringify(vm)).toBe(before);
    expect(JSON.stringify(basePolicy)).toBe(policyBefore);
  });

  it('scope checks come before state: an excluded VM being deleted is reported as excluded', () => {
    const vm = merge(loadVm('windows-base'), { provisioningState: 'Deleting', tags: { 'ade-autopilot': 'skip' } });
    expect(assessVm(vm, basePolicy)).toMatchObject({ decision: 'skip', reason: 'exclusion-tag' });
  });
});

describe('reason texts', () => {
  it.each([...Object.entries(SKIP_REASONS), ...Object.entries(UNSUPPORTED_REASONS)])('%s has a sentence', (reason, info) => {
    expect(reasonText(reason as SkipReason | UnsupportedReason)).toBe(info.text);
    expect(info.text).toMatch(/^[A-Z].{15,}\.$/);
  });

  it('transient reasons are exactly the state-dependent ones', () => {
    const transient = Object.entries(SKIP_REASONS)
      .filter(([, i]) => i.transient)
      .map(([r]) => r)
      .sort();
    expect(transient).toEqual(['vm-busy', 'vm-not-running', 'vm-provisioning-failed']);
    expect(Object.values(UNSUPPORTED_REASONS).some((i) => i.transient)).toBe(false);
  });

  it('describeAssessment reads like a sentence for each decision', () => {
    expect(describeAssessment({ decision: 'encrypt', mode: 'single-pass' })).toBe('Encrypt (single-pass).');
    expect(
      describeAssessment({ decision: 'encrypt', mode: 'aad', existingExtension: { name: 'diskEncryption', typeHandlerVersion: '1.1' } }),
    ).toBe('Encrypt (dual-pass with an Entra app), reusing extension "diskEncryption".');
    expect(describeAssessment({ decision: 'skip', reason: 'vm-deleting', detail: 'Provisioning state Deleting.' })).toBe(
      'Skipped: The VM is being deleted. Provisioning state Deleting.',
    );
    expect(describeAssessment({ decision: 'already-encrypted', mode: 'dual-pass', evidence: 'model-encryption-settings' })).toContain(
      'dual-pass',
    );
  });
});

describe('VM sizes', () => {
  it.each([
    ['Standard_D2s_v3', { tier: 'Standard', family: 'D', number: 2, features: 's', version: 3 }],
    ['Standard_E64-16ds_v4', { tier: 'Standard', family: 'E', number: 64, features: 'ds', version: 4 }],
    ['Basic_A0', { tier: 'Basic', family: 'A', number: 0, features: '', version: 1 }],
    ['Standard_A2m_v2', { tier: 'Standard', family: 'A', number: 2, features: 'm', version: 2 }],
    ['Standard_NC24ads_A100_v4', { tier: 'Standard', family: 'NC', number: 24, features: 'ads', version: 4 }],
    ['Standard_DC2s_v2', { tier: 'Standard', family: 'DC', number: 2, features: 's', version: 2 }],
    ['Standard_D2_v2_Promo', { tier: 'Standard', family: 'D', number: 2, features: '', version: 2 }],
    ['Standard_DS2_v2', { tier: 'Standard', family: 'D', number: 2, features: 's', version: 2 }],
    ['Standard_HB120rs_v3', { tier: 'Standard', family: 'HB', number: 120, features: 'rs', version: 3 }],
  ])('parses %s', (size, expected) => {
    expect(parseVmSize(size)).toEqual(expected);
  });

  it.each(['', 'D2s_v3', 'Standard-D2', 'Standard_'])('does not parse %j', (size) => {
    expect(parseVmSize(size)).toBeUndefined();
  });

  it.each([
    ['Standard_B1ls', 0.5],
    ['Standard_B1s', 1],
    ['Standard_B2s', 4],
    ['Standard_B2ts_v2', 1],
    ['Standard_B2ls_v2', 4],
    ['Standard_B2s_v2', 8],
    ['Standard_A1_v2', 2],
    ['Standard_A2m_v2', 16],
    ['Standard_D1_v2', 3.5],
    ['Standard_DS11_v2', 14],
    ['Standard_D2s_v3', 8],
    ['Standard_D4ls_v5', 8],
    ['Standard_E2s_v5', 16],
    ['Standard_F2s_v2', 4],
    ['Standard_M128ms', undefined],
    ['Standard_Unknown2', undefined],
  ] as const)('memory of %s is %s GiB', (vmSize, gib) => {
    expect(memoryGiBOf({ vmSize })).toBe(gib);
  });
});

describe('VmSnapshot helpers', () => {
  it('finds the ADE extension by publisher + type whatever its name, case-insensitively', () => {
    const vm = loadVm('dual-pass-encrypted-windows');
    expect(findAdeExtension(vm)?.name).toBe('diskEncryption');
    expect(findAdeExtension(loadVm('windows-base'))).toBeUndefined();
  });

  it('ignores extensions named like ADE from another publisher, and the old OSTC preview', () => {
    const vm = merge(loadVm('linux-base'), {
      extensions: [
        {
          name: 'AzureDiskEncryptionForLinux',
          publisher: 'Microsoft.OSTCExtensions',
          type: 'AzureDiskEncryptionForLinux',
          typeHandlerVersion: '0.1',
        },
        { name: 'AzureDiskEncryption', publisher: 'Contoso', type: 'AzureDiskEncryption', typeHandlerVersion: '1.0' },
      ],
    });
    expect(findAdeExtension(vm)).toBeUndefined();
    expect(isAdeExtension({ publisher: 'MICROSOFT.AZURE.SECURITY', type: 'AZUREDISKENCRYPTIONFORLINUX' })).toBe(true);
  });

  it('prefers the type matching the OS when both are present', () => {
    const vm = merge(loadVm('linux-base'), {
      extensions: [
        { name: 'a', publisher: 'Microsoft.Azure.Security', type: 'AzureDiskEncryption', typeHandlerVersion: '2.2' },
        { name: 'b', publisher: 'Microsoft.Azure.Security', type: 'AzureDiskEncryptionForLinux', typeHandlerVersion: '1.1' },
      ],
    });
    expect(findAdeExtension(vm)?.name).toBe('b');
  });

  it.each([
    [[{ code: 'ProvisioningState/succeeded' }, { code: 'PowerState/running' }], 'running'],
    [[{ code: 'PowerState/deallocated' }], 'deallocated'],
    [[{ code: 'PowerState/Stopped' }], 'stopped'],
    [[{ code: 'PowerState/hibernated' }], 'unknown'],
    [[], 'unknown'],
    [undefined, 'unknown'],
  ] as const)('power state of %j is %s', (statuses, expected) => {
    expect(powerStateOf(statuses as never)).toBe(expected);
  });
});

describe('VmSnapshot maps from @azure/arm-compute VirtualMachine field by field', () => {
  // The adapter lives in azure/; this shows the mapping is a flat copy (types checked by tsc) and that
  // an SDK-shaped VM assesses the same as its fixture.
  const statusToJson = (s: InstanceViewStatus): VmStatus => ({ ...s, time: s.time?.toISOString() });

  function fromArm(vm: VirtualMachine): VmSnapshot {
    const id = parseVmId(vm.id);
    const osDisk = vm.storageProfile?.osDisk;
    return {
      id: vm.id ?? '',
      name: vm.name ?? id.name,
      resourceGroup: id.resourceGroup,
      subscriptionId: id.subscriptionId,
      location: vm.location,
      osType: osDisk?.osType === 'Windows' ? 'Windows' : 'Linux',
      vmSize: vm.hardwareProfile?.vmSize ?? '',
      provisioningState: vm.provisioningState ?? '',
      powerState: powerStateOf(vm.instanceView?.statuses),
      tags: vm.tags ?? {},
      securityProfile: { encryptionAtHost: vm.securityProfile?.encryptionAtHost },
      imageReference: vm.storageProfile?.imageReference,
      osDisk: {
        name: osDisk?.name ?? '',
        id: osDisk?.managedDisk?.id,
        storageAccountType: osDisk?.managedDisk?.storageAccountType,
        diskEncryptionSetId: osDisk?.managedDisk?.diskEncryptionSet?.id,
        ephemeral: osDisk?.diffDiskSettings?.option === 'Local',
        encryptionSettings: osDisk?.encryptionSettings,
      },
      dataDisks: (vm.storageProfile?.dataDisks ?? []).map((d) => ({
        lun: d.lun,
        name: d.name ?? '',
        storageAccountType: d.managedDisk?.storageAccountType,
      })),
      extensions: (vm.resources ?? []).map((e) => ({
        name: e.name ?? '',
        publisher: e.publisher ?? '',
        type: e.typePropertiesType ?? '',
        typeHandlerVersion: e.typeHandlerVersion ?? '',
        provisioningState: e.provisioningState,
        settings: e.settings as Record<string, unknown> | undefined,
      })),
      instanceView: {
        statuses: vm.instanceView?.statuses?.map(statusToJson),
        disks: vm.instanceView?.disks?.map((d) => ({
          name: d.name,
          encryptionSettings: d.encryptionSettings,
          statuses: d.statuses?.map(statusToJson),
        })),
        extensions: vm.instanceView?.extensions?.map((e) => ({
          ...e,
          statuses: e.statuses?.map(statusToJson),
          substatuses: e.substatuses?.map(statusToJson),
        })),
      },
    };
  }

  it('a dual-pass Windows VM from the SDK assesses like its fixture', () => {
    const fixture = loadVm('dual-pass-encrypted-windows');
    const sdkVm: VirtualMachine = {
      id: fixture.id,
      name: fixture.name,
      location: fixture.location,
      tags: {},
      hardwareProfile: { vmSize: fixture.vmSize },
      provisioningState: 'Succeeded',
      storageProfile: {
        osDisk: {
          osType: 'Windows',
          name: fixture.osDisk.name,
          createOption: 'FromImage',
          managedDisk: { storageAccountType: 'Premium_LRS' },
          encryptionSettings: fixture.osDisk.encryptionSettings,
        },
        dataDisks: [],
      },
      resources: [
        {
          location: fixture.location,
          name: 'diskEncryption',
          publisher: 'microsoft.azure.security',
          typePropertiesType: 'azurediskencryption',
          typeHandlerVersion: '1.1',
          provisioningState: 'Succeeded',
          settings: { EncryptionOperation: 'EnableEncryption', VolumeType: 'OS' },
        },
      ],
      instanceView: { statuses: [{ code: 'PowerState/running', level: 'Info', time: new Date('2026-01-01T00:00:00Z') }] },
    } as VirtualMachine;
    const snapshot = fromArm(sdkVm);
    expect(snapshot.powerState).toBe('running');
    expect(snapshot.instanceView?.statuses?.[0].time).toBe('2026-01-01T00:00:00.000Z');
    expect(assessVm(snapshot, basePolicy)).toEqual(assessVm(fixture, basePolicy));
  });
});
