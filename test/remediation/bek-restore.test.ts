import { describe, expect, it } from 'vitest';
import { bekHealthOf, expectedBekSecrets, isBekSweepCandidate, type BekSecretRef } from '../../core/remediation/bek';
import { planBekRestore, type RestoreInput, type SecretFinding } from '../../core/remediation/restore';
import { vaultDrift, isManagedVault } from '../../core/remediation/vault-drift';
import { basePolicy, loadVm, withExtensionFailure } from './helpers';

const win = loadVm('win-sp-encrypted');
const lnx = loadVm('lnx-sp-encrypted');

describe('expectedBekSecrets', () => {
  it('single-pass Windows: one secret shared by both disks, with its KEK', () => {
    const refs = expectedBekSecrets(win);
    expect(refs).toHaveLength(1);
    expect(refs[0]).toMatchObject({
      vaultName: 'adeap-weu-0123456789abcd',
      secretName: '7d1b2c3e-4f50-4617-8a9b-0c1d2e3f4a5b',
      secretVersion: '11112222333344445555666677778888',
      keyUrl: 'https://adeap-weu-0123456789abcd.vault.azure.net/keys/ade-kek/00112233445566778899aabbccddeeff',
      disks: ['win-enc-01_OsDisk_1', 'win-enc-01-data0'],
      source: 'disk-instance-view',
    });
    expect(refs[0].vaultResourceId).toMatch(/\/vaults\/adeap-weu-0123456789abcd$/);
  });

  it('dual-pass: from the VM model', () => {
    const vm = structuredClone(win);
    vm.osDisk.encryptionSettings = {
      enabled: true,
      diskEncryptionKey: {
        secretUrl: 'https://kv-legacy.vault.azure.net/secrets/abc/0123',
        sourceVault: { id: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-legacy' },
      },
    };
    delete vm.instanceView;
    expect(expectedBekSecrets(vm).map((r) => [r.source, r.vaultName, r.secretName])).toEqual([['vm-model', 'kv-legacy', 'abc']]);
  });

  it('falls back to the disk resources and de-duplicates case-insensitively', () => {
    const vm = structuredClone(lnx);
    delete vm.instanceView;
    const url = 'https://adeap-neu-0123456789abcd.vault.azure.net/secrets/S1/AAAA';
    const refs = expectedBekSecrets(vm, [
      { name: 'd1', encryptionSettingsCollection: { enabled: true, encryptionSettings: [{ diskEncryptionKey: { secretUrl: url } }] } },
      {
        name: 'd2',
        encryptionSettingsCollection: { enabled: true, encryptionSettings: [{ diskEncryptionKey: { secretUrl: url.toLowerCase() } }] },
      },
      {
        name: 'd3',
        encryptionSettingsCollection: {
          enabled: false,
          encryptionSettings: [{ diskEncryptionKey: { secretUrl: 'https://other.vault.azure.net/secrets/x/1' } }],
        },
      },
      {
        name: 'd4',
        encryptionSettingsCollection: { enabled: true, encryptionSettings: [{ diskEncryptionKey: { secretUrl: 'not a url' } }] },
      },
    ]);
    expect(refs.map((r) => [r.secretName, r.disks])).toEqual([['S1', ['d1', 'd2']]]);
  });

  it('an unencrypted VM references nothing', () => {
    const vm = structuredClone(lnx);
    vm.instanceView!.disks = [{ name: 'x', statuses: [] }];
    expect(expectedBekSecrets(vm)).toEqual([]);
  });
});

describe('bekHealthOf', () => {
  it.each([
    ['windows healthy', win, 'healthy'],
    ['linux healthy', lnx, 'healthy'],
    [
      'linux exit 52',
      withExtensionFailure(lnx, 'BEK disk is missing or not initialized. Please make sure the VM has a BEK volume attached.'),
      'bek-missing',
    ],
    [
      'linux passphrase file',
      withExtensionFailure(
        lnx,
        'Cannot find current passphrase file. This could happen if BEK volume is not mounted or ' +
          'LinuxPassPhrase file is missing from BEK volume.',
      ),
      'bek-missing',
    ],
    ['windows BEK file', withExtensionFailure(win, '[2.2.0.48] BEK file not found on the BEK volume'), 'bek-missing'],
    ['other failure is not BEK-missing', withExtensionFailure(win, 'Failed to send DiskEncryptionData'), 'healthy'],
  ])('%s → %s', (_name, vm, status) => {
    expect(bekHealthOf(vm).status).toBe(status);
  });

  it('no ADE at all', () => {
    const vm = structuredClone(win);
    vm.extensions = [];
    vm.instanceView!.disks = [];
    expect(bekHealthOf(vm)).toMatchObject({ status: 'no-ade' });
    expect(isBekSweepCandidate(vm)).toBe(false);
  });

  it('needs the instance view', () => {
    const vm = structuredClone(win);
    delete vm.instanceView;
    expect(bekHealthOf(vm)).toMatchObject({ status: 'not-assessable' });
    expect(isBekSweepCandidate(vm)).toBe(true);
  });
});

const ref: BekSecretRef = expectedBekSecrets(win)[0];
const vaultId = ref.vaultResourceId!;
const present = (over: Partial<SecretFinding> = {}): SecretFinding => ({ ref, secret: 'present', kek: 'present', ...over });
const input = (over: Partial<RestoreInput>): RestoreInput => ({
  findings: [present()],
  vaults: [{ vaultName: ref.vaultName, vaultResourceId: vaultId, exists: true, enabledForDiskEncryption: true }],
  bekMissing: true,
  powerState: 'running',
  healAction: 'restart',
  ...over,
});

describe('planBekRestore', () => {
  it.each([
    ['BEK missing, secret present → deallocate + start', input({}), 'restore', ['reprovision']],
    ['deallocated VM → start only', input({ powerState: 'deallocated' }), 'restore', ['reprovision']],
    [
      'secret soft-deleted → recover, then re-provision',
      input({ findings: [present({ secret: 'soft-deleted' })] }),
      'restore',
      ['recover-secret', 'reprovision'],
    ],
    [
      'KEK and secret soft-deleted → KEK first',
      input({ findings: [present({ secret: 'soft-deleted', kek: 'soft-deleted' })] }),
      'restore',
      ['recover-kek', 'recover-secret', 'reprovision'],
    ],
    [
      'vault flag off → repair before re-provision',
      input({ vaults: [{ vaultName: ref.vaultName, vaultResourceId: vaultId, exists: true, enabledForDiskEncryption: false }] }),
      'restore',
      ['repair-vault', 'reprovision'],
    ],
    [
      'secret deleted but guest fine → recover only',
      input({ bekMissing: false, findings: [present({ secret: 'soft-deleted' })] }),
      'restore',
      ['recover-secret'],
    ],
    ['all healthy → nothing', input({ bekMissing: false }), 'nothing', []],
    ['purged → unrecoverable', input({ findings: [present({ secret: 'purged' })] }), 'unrecoverable', []],
    ['KEK purged → unrecoverable', input({ findings: [present({ kek: 'purged' })] }), 'unrecoverable', []],
    ['secret disabled → unrecoverable (operator)', input({ findings: [present({ secret: 'disabled' })] }), 'unrecoverable', []],
    ['vault gone → unrecoverable', input({ vaults: [{ vaultName: ref.vaultName, exists: false }] }), 'unrecoverable', []],
  ])('%s', (_name, restoreInput, kind, steps) => {
    const plan = planBekRestore(restoreInput);
    expect(plan.kind).toBe(kind);
    if (plan.kind === 'restore') expect(plan.steps.map((s) => s.step)).toEqual(steps);
  });

  it('re-provisions the way the docs prescribe, gated by the heal action', () => {
    for (const healAction of ['restart', 'maintenance-window', 'notify-only'] as const) {
      const plan = planBekRestore(input({ healAction }));
      expect(plan.kind === 'restore' && plan.steps.at(-1)).toEqual({ step: 'reprovision', method: 'deallocate-start', gate: healAction });
    }
  });

  it('an unrecoverable plan names the secret, the vault and what an operator can do', () => {
    const plan = planBekRestore(input({ findings: [present({ secret: 'purged' })] }));
    if (plan.kind !== 'unrecoverable') throw new Error(plan.kind);
    expect(plan.problems).toHaveLength(1);
    const [p] = plan.problems;
    expect(p.secretName).toBe(ref.secretName);
    expect(p.vaultName).toBe(ref.vaultName);
    expect(p.what).toContain(ref.secretName);
    expect(p.what).toContain(ref.vaultName);
    expect(p.operatorAction).toMatch(/Azure Backup/);
    expect(p.operatorAction).toMatch(/do not stop/i);
  });
});

describe('vaultDrift', () => {
  const healthy = {
    name: 'adeap-weu-0123456789abcd',
    enabledForDiskEncryption: true,
    enableSoftDelete: true,
    enablePurgeProtection: true,
    enableRbacAuthorization: false,
    accessPolicies: [{ tenantId: 't', objectId: 'APP', permissions: { keys: ['Get', 'Create'], secrets: ['List', 'Recover'] } }],
  };
  const required = [{ tenantId: 't', objectId: 'app', permissions: { keys: ['get', 'create'], secrets: ['list', 'recover'] } }];
  it.each([
    ['healthy', {}, []],
    ['flag off', { enabledForDiskEncryption: false }, ['disk-encryption-disabled']],
    [
      'soft delete and purge protection off',
      { enableSoftDelete: false, enablePurgeProtection: false },
      ['soft-delete-disabled', 'purge-protection-disabled'],
    ],
    ['principal removed', { accessPolicies: [] }, ['access-policy-missing']],
    [
      'principal lost a permission',
      { accessPolicies: [{ tenantId: 't', objectId: 'app', permissions: { keys: ['get'], secrets: ['list', 'recover'] } }] },
      ['access-policy-missing'],
    ],
    [
      '"all" covers everything needed, but secrets/all reads keys',
      { accessPolicies: [{ tenantId: 't', objectId: 'app', permissions: { keys: ['all'], secrets: ['all'] } }] },
      ['secret-read-grant'],
    ],
    ['switched to RBAC', { enableRbacAuthorization: true }, ['rbac-authorization']],
  ])('%s', (_name, patch, kinds) => {
    const issues = vaultDrift({ ...healthy, ...patch }, required, { listAllowedFor: ['app'] });
    expect(issues.map((i) => i.kind)).toEqual(kinds);
    for (const issue of issues) expect(issue.detail).toContain(healthy.name);
  });

  it.each([
    ['an operator granted secrets/get', { tenantId: 't', objectId: 'op', permissions: { secrets: ['Get', 'Set'] } }, ['set']],
    ['someone holds secrets/list', { tenantId: 't', objectId: 'x', permissions: { keys: ['get'], secrets: ['list'] } }, []],
    [
      'secrets/all is narrowed to the non-reading permissions',
      { tenantId: 't', objectId: 'x', permissions: { secrets: ['all'] } },
      ['set', 'delete', 'recover', 'backup', 'restore', 'purge'],
    ],
    [
      "the ADE app's principal widened to get (and its set taken away)",
      { tenantId: 't', objectId: 'sp', permissions: { keys: ['wrapKey'], secrets: ['get'] } },
      ['set'],
    ],
  ])('%s → secret-read-grant, narrowed to %j', (_what, entry, secrets) => {
    const issues = vaultDrift({ ...healthy, accessPolicies: [...healthy.accessPolicies, entry] }, required, { listAllowedFor: ['app'] });
    expect(issues.map((i) => i.kind)).toEqual(['secret-read-grant']);
    expect(issues[0]!.repairable).toBe(true);
    expect(issues[0]!.detail).toContain(entry.objectId);
    expect(issues[0]!.narrowed?.permissions.secrets).toEqual(secrets);
    expect(issues[0]!.narrowed?.permissions.keys).toEqual((entry.permissions as { keys?: string[] }).keys);
  });

  it('the app itself keeps secrets/list (properties, never values) but not get', () => {
    expect(vaultDrift(healthy, required, { listAllowedFor: ['app'] })).toEqual([]);
    const widened = {
      ...healthy,
      accessPolicies: [{ ...healthy.accessPolicies[0]!, permissions: { keys: ['get', 'create'], secrets: ['list', 'recover', 'get'] } }],
    };
    const issues = vaultDrift(widened, required, { listAllowedFor: ['app'] });
    expect(issues.map((i) => [i.kind, i.narrowed?.permissions.secrets])).toEqual([['secret-read-grant', ['list', 'recover']]]);
  });

  it('RBAC drift is not repaired automatically', () => {
    expect(vaultDrift({ ...healthy, enableRbacAuthorization: true })[0].repairable).toBe(false);
  });

  it.each([
    [vaultId, true],
    [vaultId.toUpperCase().replace('/SUBSCRIPTIONS/', '/subscriptions/'), true],
    [
      '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg-team/providers/' +
        'Microsoft.KeyVault/vaults/adeap-weu-0123456789abcd',
      false,
    ],
    [
      '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg-ade-autopilot-vaults/' +
        'providers/Microsoft.KeyVault/vaults/kv-other',
      false,
    ],
    [
      '/subscriptions/99999999-1bf0-4dda-aec3-111122223333/resourceGroups/rg-ade-autopilot-vaults/' +
        'providers/Microsoft.KeyVault/vaults/adeap-weu-0123456789abcd',
      false,
    ],
    ['garbage', false],
  ])('isManagedVault(%s) → %s', (id, expected) => {
    expect(isManagedVault(id, basePolicy())).toBe(expected);
  });
});
