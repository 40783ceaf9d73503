/**
 * The encryptVm activities re-check what they write against the app's own configuration, never their input: a
 * foreign vault or KEK in an extension or VM model, a vault outside the computed names or the vault group, a KEK size
 * or volume type the app is not configured for, or any write under the app's ADE_DRY_RUN is refused with the reason,
 * before any call to Azure.
 */
import { describe, expect, it } from 'vitest';
import type { AzurePorts } from '../../azure/ports';
import { buildAdeExtension } from '../../core/extension-settings';
import { vaultNamesFor } from '../../core/names';
import { formatKeyVaultResourceId } from '../../core/resource-ids';
import { createActivities } from '../../orchestrations/activities';
import type { ActivityResult } from '../../orchestrations/contracts';
import { basePolicy, SUB } from '../remediation/helpers';

const VM = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm1`;
const LOCATION = 'westeurope';

/** Ports that record every call and succeed (the guards must refuse before any of them runs). */
function recordingPorts(calls: string[]): AzurePorts {
  const record = (service: string) =>
    new Proxy(
      {},
      {
        get: (_t, name) => async () => {
          calls.push(`${service}.${String(name)}`);
          return { extensionId: 'x', vault: { id: '', name: '', vaultUri: '' }, action: 'created', versionedId: 'k', created: true };
        },
      },
    );
  return {
    compute: record('compute'),
    vaults: record('vaults'),
    keyVault: record('keyVault'),
    directory: record('directory'),
    eventSubscriptions: record('eventSubscriptions'),
  } as unknown as AzurePorts;
}

function activities(env: Record<string, string> = {}) {
  const calls: string[] = [];
  const policy = basePolicy(env);
  const acts = createActivities({
    ...recordingPorts(calls),
    identity: async () => ({ tenantId: 'tenant-1', objectId: 'automation' }),
    log: () => undefined,
    now: () => Date.now(),
    policy,
  });
  const own = vaultNamesFor(policy.vault, { id: VM, subscriptionId: SUB, location: LOCATION })[0]!;
  const ownId = formatKeyVaultResourceId(SUB, policy.vault.resourceGroup, own);
  return { acts, calls, policy, own, ownId, ownUrl: `https://${own}.vault.azure.net` };
}

const extensionFor = (vault: { url: string; resourceId: string }, kekUrl?: string, volumeType: 'All' | 'OS' = 'All') =>
  buildAdeExtension({
    os: 'Linux',
    mode: 'single-pass',
    vault,
    ...(kekUrl ? { kek: { url: kekUrl, vaultResourceId: vault.resourceId } } : {}),
    volumeType,
    sequenceVersion: '11111111-2222-3333-4444-555555555555',
  });

function refused(result: ActivityResult<unknown>): string {
  expect(result.ok).toBe(false);
  return result.ok ? '' : result.error.message;
}

describe('encryptVm activities refuse what the app is not configured for', () => {
  it.each([
    [
      'a vault in another resource group',
      (o: string) => formatKeyVaultResourceId(SUB, 'rg-app', o),
      (o: string) => `https://${o}.vault.azure.net`,
    ],
    [
      'a vault with another name',
      () => formatKeyVaultResourceId(SUB, 'rg-ade-autopilot-vaults', 'evil-kv-0001'),
      () => 'https://evil-kv-0001.vault.azure.net',
    ],
  ])('deploySinglePassExtension with %s → refused, nothing deployed', async (_what, id, url) => {
    const { acts, calls, own } = activities();
    const message = refused(
      await acts.deploySinglePassExtension({
        vmId: VM,
        location: LOCATION,
        extension: extensionFor({ url: url(own), resourceId: id(own) }),
      }),
    );
    expect(message).toMatch(/^Refused to point VM vm1 at a vault that is not the app's own: /);
    expect(calls).toEqual([]);
  });

  it('a KEK in another vault, or a volume type the app is not configured for → refused', async () => {
    const { acts, calls, ownId, ownUrl } = activities();
    // Settings as a forged activity input could carry them (the extension builder itself refuses a mismatched pair).
    const forged = extensionFor({ url: ownUrl, resourceId: ownId });
    forged.settings.KeyEncryptionKeyURL = 'https://evil-kv-0001.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef';
    const kek = refused(await acts.deploySinglePassExtension({ vmId: VM, location: LOCATION, extension: forged }));
    expect(kek).toMatch(/KEK .* is not in vault/);
    const volume = refused(
      await acts.deploySinglePassExtension({
        vmId: VM,
        location: LOCATION,
        extension: extensionFor({ url: ownUrl, resourceId: ownId }, undefined, 'OS'),
      }),
    );
    expect(volume).toMatch(/Refused volume type OS: the app is configured for All/);
    expect(calls).toEqual([]);
  });

  it('ensureDiskEncryptionVault for a name that is not computed for the VM → refused; the own name goes through', async () => {
    const { acts, calls, own, policy } = activities();
    const base = {
      vmId: VM,
      subscriptionId: SUB,
      resourceGroup: policy.vault.resourceGroup,
      location: LOCATION,
      softDeleteRetentionDays: 90,
      purgeProtection: true,
      automation: { tenantId: 'tenant-1', objectId: 'automation' },
    };
    expect(refused(await acts.ensureDiskEncryptionVault({ ...base, name: 'evil-kv-0001' }))).toMatch(/is not the app's vault for VM vm1/);
    expect(refused(await acts.ensureDiskEncryptionVault({ ...base, name: own, resourceGroup: 'rg-app' }))).toMatch(
      /is not the app's vault/,
    );
    expect(calls).toEqual([]);
    expect((await acts.ensureDiskEncryptionVault({ ...base, name: own })).ok).toBe(true);
    expect(calls).toEqual(['vaults.ensureVault']);
  });

  it("every write is refused under the app's ADE_DRY_RUN, whatever the run's input says", async () => {
    const { acts, calls, ownId, ownUrl } = activities({ ADE_DRY_RUN: 'true' });
    const results = [
      await acts.deploySinglePassExtension({ vmId: VM, location: LOCATION, extension: extensionFor({ url: ownUrl, resourceId: ownId }) }),
      await acts.ensureKek({ vaultId: ownId, vaultUrl: ownUrl, keyName: 'ade-kek', keySize: 4096 }),
      await acts.tagVm({ vmId: VM, tags: { a: 'b' } }),
      await acts.ensureEntraApp({ vaultName: 'adeap-weu-0123456789abcd' }),
    ];
    for (const r of results) expect(refused(r)).toMatch(/^ADE_DRY_RUN is on in the app's configuration: refused to /);
    expect(calls).toEqual([]);
  });
});
