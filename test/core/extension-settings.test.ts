import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsupportedError, ValidationError } from '../../core/errors';
import {
  type AdeExtensionInput,
  type AdeMode,
  type AdeOs,
  adeExtensionSpec,
  buildAdeExtension,
  buildDualPassEncryptionSettings,
  isAdeExtension,
} from '../../core/extension-settings';

const GOLDEN = join(__dirname, '..', 'fixtures', 'golden');
// Golden files are reviewed by hand against the extension references and the previous-release (dual-pass) page;
// set UPDATE_GOLDEN=1 to rewrite.
// https://learn.microsoft.com/azure/virtual-machines/extensions/azure-disk-enc-windows
// https://learn.microsoft.com/azure/virtual-machines/extensions/azure-disk-enc-linux
// https://learn.microsoft.com/azure/virtual-machines/windows/disk-encryption-windows-aad
function golden(name: string, actual: unknown): void {
  const file = join(GOLDEN, name);
  const text = JSON.stringify(actual, null, 2) + '\n';
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, text);
  }
  expect(existsSync(file), `golden file ${name} is missing (run with UPDATE_GOLDEN=1 and review it)`).toBe(true);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

const SUB = '11111111-2222-3333-4444-555555555555';
const VAULT_ID = `/subscriptions/${SUB}/resourceGroups/rg-ade/providers/Microsoft.KeyVault/vaults/kv-ade-weu-1a2b`;
const KEK_VAULT_ID = `/subscriptions/${SUB}/resourceGroups/rg-ade/providers/Microsoft.KeyVault/vaults/kv-kek-weu-9z8y`;
const KEK_URL = 'https://kv-kek-weu-9z8y.vault.azure.net/keys/ade-kek/0123456789abcdef0123456789abcdef';
const CLIENT_ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const SECRET = 'S3cr3t~value.that-must-not-leak';

function input(os: AdeOs, mode: AdeMode, withKek: boolean): AdeExtensionInput {
  return {
    os,
    mode,
    vault: { url: 'https://kv-ade-weu-1a2b.vault.azure.net/', resourceId: VAULT_ID },
    ...(withKek ? { kek: { url: KEK_URL, vaultResourceId: KEK_VAULT_ID } } : {}),
    volumeType: 'All',
    sequenceVersion: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
    ...(mode === 'aad' ? { aadClientId: CLIENT_ID } : {}),
  };
}

const COMBINATIONS = (['Windows', 'Linux'] as const).flatMap((os) =>
  (['single-pass', 'aad'] as const).flatMap((mode) => [true, false].map((kek) => [os, mode, kek] as const)),
);

describe('buildAdeExtension golden files', () => {
  it.each(COMBINATIONS)('%s %s kek=%s', (os, mode, kek) => {
    // The public extension resource: what durable history holds. The dual-pass client secret is added by the
    // compute adapter alone, as a SecretValue (test/azure/compute.sim.test.ts).
    const extension = buildAdeExtension(input(os, mode, kek));
    golden(`extension-${os.toLowerCase()}-${mode}-${kek ? 'kek' : 'nokek'}.json`, extension);
  });

  it.each([
    ['Windows', 'single-pass', 'AzureDiskEncryption', '2.2'],
    ['Windows', 'aad', 'AzureDiskEncryption', '1.1'],
    ['Linux', 'single-pass', 'AzureDiskEncryptionForLinux', '1.1'],
    ['Linux', 'aad', 'AzureDiskEncryptionForLinux', '0.1'],
  ] as const)('%s %s → %s %s', (os, mode, type, version) => {
    const extension = buildAdeExtension(input(os, mode, false));
    expect(extension).toMatchObject({
      publisher: 'Microsoft.Azure.Security',
      type,
      name: type,
      typeHandlerVersion: version,
      autoUpgradeMinorVersion: true,
    });
  });

  it('single-pass never carries AADClientID (pitfall 1) and aad always does', () => {
    for (const [os, mode, kek] of COMBINATIONS) {
      const settings = buildAdeExtension(input(os, mode, kek)).settings;
      expect('AADClientID' in settings).toBe(mode === 'aad');
    }
  });

  it('KEK keys appear together or not at all', () => {
    for (const [os, mode, kek] of COMBINATIONS) {
      const settings = buildAdeExtension(input(os, mode, kek)).settings;
      const present = ['KeyEncryptionKeyURL', 'KekVaultResourceId', 'KeyEncryptionAlgorithm'].filter((k) => k in settings);
      expect(present).toHaveLength(kek ? 3 : 0);
    }
  });

  it.each([
    ['ALL', 'All'],
    ['data', 'Data'],
    ['Os', 'OS'],
  ])('normalises volume type %s to the documented %s (pitfall 19)', (given, sent) => {
    const extension = buildAdeExtension({ ...input('Linux', 'single-pass', false), volumeType: given as never });
    expect(extension.settings.VolumeType).toBe(sent);
  });

  it('passes a chosen KEK algorithm and encryption operation through', () => {
    const base = input('Linux', 'single-pass', true);
    const extension = buildAdeExtension({
      ...base,
      kek: { ...base.kek!, algorithm: 'RSA-OAEP-256' },
      encryptionOperation: 'EnableEncryptionFormatAll',
    });
    expect(extension.settings).toMatchObject({ KeyEncryptionAlgorithm: 'RSA-OAEP-256', EncryptionOperation: 'EnableEncryptionFormatAll' });
  });
});

describe('buildAdeExtension rejects unsafe input', () => {
  const sp = input('Windows', 'single-pass', true);
  it.each<[string, AdeExtensionInput, string]>([
    ['vault URL with a port', { ...sp, vault: { ...sp.vault, url: 'https://kv-ade-weu-1a2b.vault.azure.net:443' } }, 'vault.url'],
    ['vault URL over http', { ...sp, vault: { ...sp.vault, url: 'http://kv-ade-weu-1a2b.vault.azure.net' } }, 'vault.url'],
    ['vault given by short name (pitfall 6)', { ...sp, vault: { ...sp.vault, resourceId: 'kv-ade-weu-1a2b' } }, 'vault.resourceId'],
    ['vault id of another vault', { ...sp, vault: { ...sp.vault, resourceId: KEK_VAULT_ID } }, 'vault.resourceId'],
    [
      'unversioned KEK URL (pitfall 7)',
      { ...sp, kek: { url: 'https://kv-kek-weu-9z8y.vault.azure.net/keys/ade-kek', vaultResourceId: KEK_VAULT_ID } },
      'kek.url',
    ],
    ['KEK URL with a port', { ...sp, kek: { url: KEK_URL.replace('.net/', '.net:443/'), vaultResourceId: KEK_VAULT_ID } }, 'kek.url'],
    ['KEK vault id not matching its URL', { ...sp, kek: { url: KEK_URL, vaultResourceId: VAULT_ID } }, 'kek.vaultResourceId'],
    [
      'unknown KEK algorithm',
      { ...sp, kek: { url: KEK_URL, vaultResourceId: KEK_VAULT_ID, algorithm: 'RSA-PSS' as never } },
      'kek.algorithm',
    ],
    ['unknown volume type', { ...sp, volumeType: 'Everything' as never }, 'volumeType'],
    ['empty sequence version', { ...sp, sequenceVersion: ' ' }, 'sequenceVersion'],
    ['single-pass with a client id (pitfall 1)', { ...sp, aadClientId: CLIENT_ID }, 'aadClientId'],
    ['aad without a client id', { ...input('Linux', 'aad', false), aadClientId: undefined }, 'aadClientId'],
    ['aad with a malformed client id', { ...input('Linux', 'aad', false), aadClientId: 'my-app' }, 'aadClientId'],
    ['unknown OS', { ...sp, os: 'FreeBSD' as never }, 'os'],
  ])('%s → ValidationError on %s', (_label, bad, field) => {
    let error: unknown;
    try {
      buildAdeExtension(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  });

  it('refuses data-only encryption on Windows and OS decryption on Linux', () => {
    expect(() => buildAdeExtension({ ...sp, volumeType: 'Data' })).toThrow(UnsupportedError);
    expect(() => buildAdeExtension({ ...input('Linux', 'single-pass', false), encryptionOperation: 'DisableEncryption' })).toThrow(
      UnsupportedError,
    );
    expect(
      buildAdeExtension({ ...input('Linux', 'single-pass', false), encryptionOperation: 'DisableEncryption', volumeType: 'Data' }).settings
        .EncryptionOperation,
    ).toBe('DisableEncryption');
  });
});

describe('the extension resource every deployment PUTs', () => {
  it('is the public extension at a location, with auto-upgrade on and no secret', () => {
    const aad = buildAdeExtension(input('Windows', 'aad', true));
    const spec = adeExtensionSpec(aad, 'westeurope');
    expect(spec).toEqual({
      publisher: aad.publisher,
      type: aad.type,
      typeHandlerVersion: aad.typeHandlerVersion,
      autoUpgradeMinorVersion: true,
      settings: aad.settings,
      location: 'westeurope',
    });
    expect(spec.settings).not.toBe(aad.settings);
    expect(JSON.stringify(spec)).not.toContain(SECRET);
  });
});

describe('dual-pass VM-model encryption settings', () => {
  const secretUrl = 'https://kv-ade-weu-1a2b.vault.azure.net/secrets/3f6d0c1e-8a2b-4c3d-9e8f-0a1b2c3d4e5f/0a1b2c3d4e5f60718293a4b5c6d7e8f9';
  const vault = { url: 'https://kv-ade-weu-1a2b.vault.azure.net', resourceId: VAULT_ID };

  it.each([true, false])('golden with kek=%s', (withKek) => {
    const settings = buildDualPassEncryptionSettings({
      secretUrl,
      vault,
      ...(withKek ? { kek: { url: KEK_URL, vaultResourceId: KEK_VAULT_ID } } : {}),
    });
    golden(`dual-pass-encryption-settings-${withKek ? 'kek' : 'nokek'}.json`, settings);
    expect('keyEncryptionKey' in settings).toBe(withKek);
  });

  it.each([
    ['an unversioned secret URL', 'https://kv-ade-weu-1a2b.vault.azure.net/secrets/abc'],
    ['a secret in another vault', secretUrl.replace('kv-ade-weu-1a2b', 'kv-other')],
    ['a status message that is not a URL', 'Encryption succeeded for all volumes'],
  ])('rejects %s', (_label, bad) => {
    expect(() => buildDualPassEncryptionSettings({ secretUrl: bad, vault })).toThrow(ValidationError);
  });
});

describe('finding the ADE extension by publisher and type (pitfall 10)', () => {
  it.each<[string, { publisher?: string; type?: string }, AdeOs | undefined, boolean]>([
    ['resource form, Windows', { publisher: 'Microsoft.Azure.Security', type: 'AzureDiskEncryption' }, undefined, true],
    ['resource form, other casing', { publisher: 'microsoft.azure.security', type: 'AZUREDISKENCRYPTIONFORLINUX' }, 'Linux', true],
    ['instance-view form', { type: 'Microsoft.Azure.Security.AzureDiskEncryptionForLinux' }, undefined, true],
    ['wrong OS', { publisher: 'Microsoft.Azure.Security', type: 'AzureDiskEncryption' }, 'Linux', false],
    ['deprecated preview publisher', { publisher: 'Microsoft.OSTCExtensions', type: 'AzureDiskEncryptionForLinux' }, undefined, false],
    ['another extension', { publisher: 'Microsoft.Azure.Monitor', type: 'AzureMonitorLinuxAgent' }, undefined, false],
    ['nothing', {}, undefined, false],
  ])('%s', (_label, extension, os, expected) => {
    expect(isAdeExtension(extension, os)).toBe(expected);
  });

  it('keeps the name of an existing instance', () => {
    expect(buildAdeExtension({ ...input('Windows', 'single-pass', false), existingName: 'diskEncryption' }).name).toBe('diskEncryption');
    expect(buildAdeExtension({ ...input('Windows', 'single-pass', false), existingName: ' ' }).name).toBe('AzureDiskEncryption');
  });
});
