import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type EncryptionStateInput,
  interpretDisks,
  interpretEncryptionState,
  parseLinuxSubstatus,
  readVmEncryption,
  stripBuildPrefix,
} from '../../core/encryption-state';
import type { VmSnapshot } from '../../core/vm';
import { adeModeOfVersion } from '../../core/extension-settings';

const DIR = join(__dirname, '..', 'fixtures', 'extension-status');

interface Fixture {
  source: string;
  input: EncryptionStateInput;
  /** `kind` plus any top-level state field (phase, reason, missing, …) or detail field (os, data, mode, …). */
  expected: Record<string, unknown> & { kind: string };
}

const fixtures: Array<[string, Fixture]> = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Fixture]);

const DETAIL_FIELDS = new Set(['os', 'data', 'mode', 'message', 'restartPending', 'secretUrl', 'typeHandlerVersion']);

describe('interpretEncryptionState fixtures', () => {
  it('has a fixture for every state kind', () => {
    const kinds = new Set(fixtures.map(([, f]) => f.expected.kind));
    expect([...kinds].sort()).toEqual([
      'bek-missing',
      'encrypted',
      'failed',
      'in-progress',
      'not-started',
      'partially-encrypted',
      'unknown',
    ]);
  });

  it.each(fixtures)('%s', (_name, fixture) => {
    const state = interpretEncryptionState(fixture.input) as unknown as Record<string, unknown> & { detail: Record<string, unknown> };
    for (const [key, value] of Object.entries(fixture.expected)) {
      const actual = DETAIL_FIELDS.has(key) ? state.detail[key] : state[key];
      expect({ [key]: actual }).toEqual({ [key]: value });
    }
  });
});

describe('failed and bek-missing states carry the extension message, not secrets', () => {
  it.each(fixtures.filter(([, f]) => f.expected.kind === 'failed' || f.expected.kind === 'bek-missing'))('%s', (_name, fixture) => {
    const state = interpretEncryptionState(fixture.input);
    if (state.kind !== 'failed' && state.kind !== 'bek-missing') throw new Error(`expected failure, got ${state.kind}`);
    expect(state.message.length).toBeGreaterThan(0);
    expect(state.message).not.toMatch(/^\[\d/);
  });
});

describe('helpers', () => {
  it.each([
    ['[2.2.0.36] Disable Encryption completed successfully', 'Disable Encryption completed successfully'],
    ['  [1.4.0.11]   OS disk encryption started', 'OS disk encryption started'],
    ['Provisioning succeeded', 'Provisioning succeeded'],
    ['[not a build] text', '[not a build] text'],
  ])('stripBuildPrefix(%j)', (input, expected) => {
    expect(stripBuildPrefix(input)).toBe(expected);
  });

  it.each([
    ['{"os": "Encrypted", "data": "NotMounted"}', { os: 'encrypted', data: 'not-mounted' }],
    ['{"os":"vmrestartpending","data":"encryptioninprogress"}', { os: 'restart-pending', data: 'in-progress' }],
    ['{"os":"NotEncrypted"}', { os: 'not-encrypted', data: 'unknown' }],
    ['{"os":"Weird","data":"Encrypted"}', { os: 'unknown', data: 'encrypted' }],
  ])('parseLinuxSubstatus(%s)', (message, expected) => {
    expect(parseLinuxSubstatus(message)).toMatchObject(expected);
  });

  it.each([undefined, '', 'Encryption succeeded', '[]', '{"other":1}', 'null'])('parseLinuxSubstatus(%j) is not a substatus', (message) => {
    expect(parseLinuxSubstatus(message)).toBeUndefined();
  });

  it.each([
    ['Windows', '2.2', 'single-pass'],
    ['Windows', '2.2.0.36', 'single-pass'],
    ['Windows', '1.1', 'dual-pass'],
    ['Linux', '1.1', 'single-pass'],
    ['Linux', '1.4.0.11', 'single-pass'],
    ['Linux', '0.1', 'dual-pass'],
    ['Linux', ' 0.1 ', 'dual-pass'],
    ['Linux', undefined, undefined],
    ['Linux', 'x', undefined],
    // A major part that is not a number tells nothing (one of the two old parsers read "2x" as 2).
    ['Windows', '2x.1', undefined],
    ['Windows', '', undefined],
  ] as const)('adeModeOfVersion(%s, %j) = %s (the one version parser eligibility and encryption state share)', (os, version, mode) => {
    expect(adeModeOfVersion(os, version)).toBe(mode);
  });

  it('takes the last EncryptionState code of a disk and finds the OS disk by name', () => {
    const disks = interpretDisks(
      [
        { name: 'data0', statuses: [{ code: 'EncryptionState/notEncrypted' }, { code: 'EncryptionState/encrypted' }] },
        {
          name: 'OSDISK',
          statuses: [{ code: 'EncryptionState/encrypted' }, { code: 'EncryptionState/notEncrypted' }],
          encryptionSettings: [{ enabled: true, keyEncryptionKey: { keyUrl: 'https://kv.vault.azure.net/keys/k/0123' } }],
        },
        { name: 'data1', statuses: [{ code: 'EncryptionState/somethingNew' }] },
      ],
      'osdisk',
    );
    expect(disks.map((d) => [d.name, d.role, d.encryption, d.stamped])).toEqual([
      ['data0', 'data', 'encrypted', false],
      ['OSDISK', 'os', 'not-encrypted', true],
      ['data1', 'data', 'unknown', false],
    ]);
    expect(disks[1]!.keyUrls).toEqual(['https://kv.vault.azure.net/keys/k/0123']);
  });

  it('an error-level status fails the extension even when the code says succeeded', () => {
    const state = interpretEncryptionState({
      os: 'Windows',
      extension: {
        typeHandlerVersion: '2.2',
        statuses: [{ code: 'ProvisioningState/succeeded', level: 'Error', message: 'Failed to send DiskEncryptionData' }],
      },
    });
    expect(state).toMatchObject({ kind: 'failed', reason: 'key-vault-write-failed' });
  });

  it('falls back to the resource provisioningState when the instance view has no status yet', () => {
    expect(
      interpretEncryptionState({ os: 'Linux', provisioningState: 'Creating', extension: { typeHandlerVersion: '1.1' } }),
    ).toMatchObject({ kind: 'in-progress', phase: 'provisioning' });
    expect(interpretEncryptionState({ os: 'Linux', extension: { typeHandlerVersion: '1.1' } }).kind).toBe('unknown');
  });
});

describe('readVmEncryption: the one reading of a VM snapshot (encryptVm, remediation and the BEK sweep share it)', () => {
  const vm = (extensionVolumeType?: string): VmSnapshot => ({
    id: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/win',
    name: 'win',
    resourceGroup: 'rg',
    subscriptionId: '00000000-0000-0000-0000-000000000001',
    location: 'westeurope',
    osType: 'Windows',
    vmSize: 'Standard_D2s_v5',
    provisioningState: 'Succeeded',
    powerState: 'running',
    tags: {},
    osDisk: { name: 'win-os' },
    dataDisks: [{ lun: 0, name: 'win-data' }],
    extensions: [
      {
        name: 'diskEncryption',
        publisher: 'Microsoft.Azure.Security',
        type: 'AzureDiskEncryption',
        typeHandlerVersion: '2.2',
        provisioningState: 'Succeeded',
        ...(extensionVolumeType ? { settings: { VolumeType: extensionVolumeType } } : {}),
      },
    ],
    instanceView: {
      extensions: [
        {
          name: 'diskEncryption',
          type: 'Microsoft.Azure.Security.AzureDiskEncryption',
          typeHandlerVersion: '2.2.0.36',
          statuses: [{ code: 'ProvisioningState/succeeded', level: 'Info', message: 'Encryption succeeded for OS volume' }],
        },
      ],
      // The OS volume is encrypted, the data volume is not.
      disks: [
        { name: 'win-os', statuses: [{ code: 'EncryptionState/encrypted' }] },
        { name: 'win-data', statuses: [{ code: 'EncryptionState/notEncrypted' }] },
      ],
    },
  });

  // The copies this replaced disagreed: the encryption run read the policy's volume type, the
  // remediation and the BEK sweep always read `All`, so an OS-only VM looked half-done to them.
  it.each([
    ['the deployed extension asked for OS', 'OS', 'All', 'encrypted'],
    ['the deployed extension asked for OS (no caller volume type)', 'os', undefined, 'encrypted'],
    ['the deployed extension asked for All, whatever the caller says', 'All', 'OS', 'partially-encrypted'],
    ['no VolumeType setting: what the caller asks for', undefined, 'OS', 'encrypted'],
    ['no VolumeType setting and none asked: all volumes', undefined, undefined, 'partially-encrypted'],
  ] as const)('%s → %s', (_name, extensionVolumeType, asked, kind) => {
    const reading = readVmEncryption(vm(extensionVolumeType), asked);
    expect(reading.state.kind).toBe(kind);
    expect(reading.provisioned).toBe(true);
    expect(reading.extension?.name).toBe('diskEncryption');
  });

  it('an extension without an instance view still tells the mode and its provisioning state', () => {
    const snapshot = vm('OS');
    snapshot.instanceView = { disks: snapshot.instanceView!.disks };
    const reading = readVmEncryption(snapshot);
    expect(reading.view).toBeUndefined();
    expect(reading.state.detail.mode).toBe('single-pass');
    expect(reading.provisioned).toBe(true);
  });
});
