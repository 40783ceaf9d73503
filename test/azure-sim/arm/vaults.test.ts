import { KeyVaultManagementClient, type VaultCreateOrUpdateParameters } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { control, createPrincipal } from '../front/sim-helpers';
import { FAST_POLL, startArmSim } from './arm-helpers';

let sim: Simulator;
let credential: ClientSecretCredential;
let kv: KeyVaultManagementClient;
const RG = 'rg-vaults';

function vaultBody(
  overrides: Partial<VaultCreateOrUpdateParameters['properties']> = {},
  location = 'westeurope',
): VaultCreateOrUpdateParameters {
  return {
    location,
    tags: { purpose: 'ade' },
    properties: {
      tenantId: sim.seed.tenantId,
      sku: { family: 'A', name: 'standard' },
      accessPolicies: [
        {
          tenantId: sim.seed.tenantId,
          objectId: sim.seed.clientObjectId,
          permissions: { secrets: ['get', 'list', 'set', 'delete', 'recover', 'purge'] },
        },
      ],
      enabledForDiskEncryption: true,
      softDeleteRetentionInDays: 7,
      ...overrides,
    },
  };
}

beforeAll(async () => {
  ({ sim, credential } = await startArmSim());
  kv = new KeyVaultManagementClient(credential, sim.seed.subscriptionId);
  await new ResourceManagementClient(credential, sim.seed.subscriptionId).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
});
afterAll(async () => {
  await sim?.stop();
});

describe('Microsoft.KeyVault/vaults through @azure/arm-keyvault', () => {
  it('creates a vault with access policies and flags, gets and lists it; the data plane honours it', async () => {
    const vault = await kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-create', vaultBody(), FAST_POLL);
    expect(vault).toMatchObject({
      name: 'kv-arm-create',
      location: 'westeurope',
      tags: { purpose: 'ade' },
      properties: {
        vaultUri: 'https://kv-arm-create.vault.azure.net/',
        enabledForDiskEncryption: true,
        enableSoftDelete: true,
        softDeleteRetentionInDays: 7,
        tenantId: sim.seed.tenantId,
      },
    });
    expect((await kv.vaults.get(RG, 'kv-arm-create')).properties.accessPolicies).toHaveLength(1);
    const names: string[] = [];
    for await (const v of kv.vaults.listByResourceGroup(RG)) names.push(v.name!);
    expect(names).toContain('kv-arm-create');
    const secrets = new SecretClient('https://kv-arm-create.vault.azure.net', credential);
    await secrets.setSecret('hello', 'world');
    expect((await secrets.getSecret('hello')).value).toBe('world');
  });

  it('adds, removes and replaces access policies (merging permissions per principal)', async () => {
    await kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-policy', vaultBody({ accessPolicies: [] }), FAST_POLL);
    const other = await createPrincipal(sim, 'policy-target');
    const entry = (perms: { keys?: string[]; secrets?: string[] }) => ({
      properties: { accessPolicies: [{ tenantId: sim.seed.tenantId, objectId: other.objectId, permissions: perms as never }] },
    });
    await kv.vaults.updateAccessPolicy(RG, 'kv-arm-policy', 'add', entry({ keys: ['wrapKey'] }));
    await kv.vaults.updateAccessPolicy(RG, 'kv-arm-policy', 'add', entry({ secrets: ['set'] }));
    let policies = (await kv.vaults.get(RG, 'kv-arm-policy')).properties.accessPolicies!;
    expect(policies).toHaveLength(1);
    expect(policies[0]!.permissions).toMatchObject({ keys: ['wrapkey'], secrets: ['set'] });
    await kv.vaults.updateAccessPolicy(RG, 'kv-arm-policy', 'remove', entry({ keys: ['wrapKey'] }));
    policies = (await kv.vaults.get(RG, 'kv-arm-policy')).properties.accessPolicies!;
    expect(policies[0]!.permissions.keys).toEqual([]);
    await kv.vaults.updateAccessPolicy(RG, 'kv-arm-policy', 'remove', entry({ secrets: ['set'] }));
    expect((await kv.vaults.get(RG, 'kv-arm-policy')).properties.accessPolicies).toEqual([]);
    await kv.vaults.updateAccessPolicy(RG, 'kv-arm-policy', 'replace', entry({ secrets: ['get', 'list'] }));
    expect((await kv.vaults.get(RG, 'kv-arm-policy')).properties.accessPolicies![0]!.permissions.secrets).toEqual(['get', 'list']);
  });

  it('PATCH updates flags without clobbering access policies', async () => {
    await kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-patch', vaultBody({ enabledForDiskEncryption: false }), FAST_POLL);
    const updated = await kv.vaults.update(RG, 'kv-arm-patch', { properties: { enabledForDiskEncryption: true } });
    expect(updated.properties.enabledForDiskEncryption).toBe(true);
    expect(updated.properties.accessPolicies).toHaveLength(1);
    await expect(kv.vaults.update(RG, 'kv-arm-patch', { properties: { enableSoftDelete: false } })).rejects.toMatchObject({
      statusCode: 400,
    });
  });

  it('checks name availability: taken, invalid, free', async () => {
    await kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-taken', vaultBody(), FAST_POLL);
    const check = (name: string) => kv.vaults.checkNameAvailability({ name, type: 'Microsoft.KeyVault/vaults' });
    expect(await check('kv-arm-taken')).toMatchObject({ nameAvailable: false, reason: 'AlreadyExists' });
    expect(await check('1-bad--name')).toMatchObject({ nameAvailable: false, reason: 'AccountNameInvalid' });
    expect(await check('kv-arm-free-name')).toMatchObject({ nameAvailable: true });
  });

  it('soft-deletes a vault: listed as deleted, name reserved, recoverable with createMode recover, then purged', async () => {
    await kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-sd', vaultBody(), FAST_POLL);
    await kv.vaults.delete(RG, 'kv-arm-sd');
    await expect(kv.vaults.get(RG, 'kv-arm-sd')).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
    const deleted = await kv.vaults.getDeleted('kv-arm-sd', 'westeurope');
    expect(deleted.properties).toMatchObject({ vaultId: expect.stringMatching(/\/vaults\/kv-arm-sd$/), location: 'westeurope' });
    expect(deleted.properties!.scheduledPurgeDate!.getTime() - deleted.properties!.deletionDate!.getTime()).toBe(7 * 86_400_000);
    const deletedNames: string[] = [];
    for await (const d of kv.vaults.listDeleted()) deletedNames.push(d.name!);
    expect(deletedNames).toContain('kv-arm-sd');
    expect(await kv.vaults.checkNameAvailability({ name: 'kv-arm-sd', type: 'Microsoft.KeyVault/vaults' })).toMatchObject({
      nameAvailable: false,
    });
    await expect(kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-sd', vaultBody(), FAST_POLL)).rejects.toMatchObject({ statusCode: 409 });
    const recovered = await kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-sd', vaultBody({ createMode: 'recover' }), FAST_POLL);
    expect(recovered.properties.accessPolicies).toHaveLength(1);
    await kv.vaults.delete(RG, 'kv-arm-sd');
    await kv.vaults.purgeDeleted('kv-arm-sd', 'westeurope', FAST_POLL).pollUntilDone();
    await expect(kv.vaults.getDeleted('kv-arm-sd', 'westeurope')).rejects.toMatchObject({ statusCode: 404 });
    await kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-sd', vaultBody(), FAST_POLL);
  });

  it('refuses to purge a vault with purge protection', async () => {
    await kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-pp', vaultBody({ enablePurgeProtection: true }), FAST_POLL);
    await kv.vaults.delete(RG, 'kv-arm-pp');
    await expect(kv.vaults.purgeDeleted('kv-arm-pp', 'westeurope', FAST_POLL).pollUntilDone()).rejects.toMatchObject({ statusCode: 409 });
  });

  it('purges a soft-deleted vault once its scheduled purge date passes (set through the control API; the clock never moves)', async () => {
    await kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-retention', vaultBody({ enablePurgeProtection: true }), FAST_POLL);
    await kv.vaults.delete(RG, 'kv-arm-retention');
    const inTwoSeconds = new Date(Date.now() + 2_000).toISOString();
    const set = await control<{ scheduledPurgeDate: string }>(sim, 'PATCH', '/_sim/arm/deletedVaults/kv-arm-retention', {
      scheduledPurgeDate: inTwoSeconds,
    });
    expect(set.status).toBe(200);
    expect(set.body.scheduledPurgeDate).toBe(inTwoSeconds);
    expect((await kv.vaults.getDeleted('kv-arm-retention', 'westeurope')).properties!.scheduledPurgeDate!.toISOString()).toBe(inTwoSeconds);
    // Still protected before the date, gone after it: the name is free again.
    await expect(kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-retention', vaultBody(), FAST_POLL)).rejects.toMatchObject({
      statusCode: 409,
    });
    await new Promise((r) => setTimeout(r, Date.parse(inTwoSeconds) - Date.now() + 200));
    await expect(kv.vaults.getDeleted('kv-arm-retention', 'westeurope')).rejects.toMatchObject({ statusCode: 404 });
    await kv.vaults.beginCreateOrUpdateAndWait(RG, 'kv-arm-retention', vaultBody(), FAST_POLL);
  });

  it.each([
    ['an unknown deleted vault', 'kv-never-existed', { scheduledPurgeDate: new Date().toISOString() }, 404],
    ['a date that is not a date', 'kv-arm-pp', { scheduledPurgeDate: 'tomorrow-ish' }, 400],
    ['no date', 'kv-arm-pp', {}, 400],
  ])('refuses to set a purge date for %s', async (_name, vault, body, status) => {
    expect((await control(sim, 'PATCH', `/_sim/arm/deletedVaults/${vault}`, body)).status).toBe(status);
    if (status === 400) expect((await kv.vaults.getDeleted('kv-arm-pp', 'westeurope')).name).toBe('kv-arm-pp');
  });

  it.each([
    ['an invalid vault name', 'kv_bad_name', () => vaultBody(), 400, 'VaultNameNotValid'],
    [
      'a bad permission',
      'kv-arm-bad-perm',
      () =>
        vaultBody({
          accessPolicies: [{ tenantId: '00000000-0000-0000-0000-000000000001', objectId: 'x', permissions: { secrets: ['fly'] as never } }],
        }),
      400,
      'BadRequest',
    ],
    ['an out-of-range retention', 'kv-arm-bad-ret', () => vaultBody({ softDeleteRetentionInDays: 3 }), 400, 'BadRequest'],
  ])('rejects %s', async (_label, name, body, status, code) => {
    await expect(kv.vaults.beginCreateOrUpdateAndWait(RG, name, body(), FAST_POLL)).rejects.toMatchObject({ statusCode: status, code });
  });
});
