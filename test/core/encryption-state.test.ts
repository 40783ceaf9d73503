import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type EncryptionStateInput,
  interpretDisks,
  interpretEncryptionState,
  modeFromTypeHandlerVersion,
  parseLinuxSubstatus,
  stripBuildPrefix,
} from '../../core/encryption-state';

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
    ['Linux', undefined, undefined],
    ['Linux', 'x', undefined],
  ] as const)('modeFromTypeHandlerVersion(%s, %s) = %s', (os, version, mode) => {
    expect(modeFromTypeHandlerVersion(os, version)).toBe(mode);
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
