/**
 * VaultManagementPort and KeyVaultDataPort against the Azure simulator (ARM + Key Vault data plane).
 */
import { randomUUID } from 'node:crypto';
import { DefaultAzureCredential } from '@azure/identity';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzurePorts } from '../../azure/clients';
import type { AccessPolicy, AzurePorts, VaultSpec } from '../../azure/ports';
import { startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
let ports: AzurePorts;
let sub: string;
let tenantId: string;
let automation: string;
const RG = 'rg-ade-vaults';

/** What the automation itself needs on a dedicated vault: never secrets/get. */
const automationPolicy = (): AccessPolicy => ({
  tenantId,
  objectId: automation,
  permissions: { keys: ['get', 'create', 'list', 'recover'], secrets: ['list', 'recover'] },
});

function spec(name: string, overrides: Partial<VaultSpec> = {}): VaultSpec {
  return {
    subscriptionId: sub,
    resourceGroup: RG,
    name,
    location: 'westeurope',
    tenantId,
    softDeleteRetentionInDays: 7,
    enablePurgeProtection: true,
    tags: { 'managed-by': 'ade-autopilot' },
    accessPolicies: [automationPolicy()],
    ...overrides,
  };
}

const uniqueName = (prefix: string) => `${prefix}${randomUUID().replace(/-/g, '').slice(0, 10)}`;

beforeAll(async () => {
  h = await startSimHarness();
  await h.fastDurations(100);
  sub = h.sim.seed.subscriptionId;
  tenantId = h.sim.seed.tenantId;
  automation = h.sim.seed.clientObjectId;
  await h.control('POST', '/_sim/arm/resourcegroups', { subscriptionId: sub, name: RG, location: 'westeurope' });
  ports = createAzurePorts({ auth: { mode: 'environment' } }, { pollIntervalMs: 100 });
});

afterAll(async () => {
  await h?.stop();
});

describe('VaultManagementPort.ensureVault', () => {
  it('creates a vault with network rules (trusted Azure services bypass them); the simulator refuses a malformed rule', async () => {
    const name = uniqueName('kvn');
    await ports.vaults.ensureVault(spec(name, { networkRules: { defaultAction: 'Deny', ipRules: ['20.1.2.3', '20.1.4.0/24'] } }));
    const { KeyVaultManagementClient } = await import('@azure/arm-keyvault');
    const { DefaultAzureCredential } = await import('@azure/identity');
    const client = new KeyVaultManagementClient(new DefaultAzureCredential(), sub);
    const live = await client.vaults.get(RG, name);
    expect(live.properties.networkAcls).toMatchObject({
      bypass: 'AzureServices',
      defaultAction: 'Deny',
      ipRules: [{ value: '20.1.2.3' }, { value: '20.1.4.0/24' }],
    });
    const refused = await ports.vaults
      .ensureVault(spec(uniqueName('kvn'), { networkRules: { defaultAction: 'Deny', ipRules: ['not-an-ip'] } }))
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(refused?.message).toContain("Invalid IP address or range 'not-an-ip'");
  });

  it('creates a vault for ADE, then leaves it alone on the next call', async () => {
    const name = uniqueName('kva');
    const first = await ports.vaults.ensureVault(spec(name));
    expect(first.action).toBe('created');
    expect(first.vault).toMatchObject({
      name,
      location: 'westeurope',
      tenantId,
      skuName: 'standard',
      enabledForDiskEncryption: true,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 7,
      enablePurgeProtection: true,
      enableRbacAuthorization: false,
      tags: { 'managed-by': 'ade-autopilot' },
    });
    expect(first.vault.vaultUri).toBe(`https://${name}.vault.azure.net/`);
    expect(first.vault.accessPolicies).toEqual([expect.objectContaining({ objectId: automation })]);

    const before = await h.requests({ service: 'arm' });
    const second = await ports.vaults.ensureVault(spec(name));
    expect(second.action).toBe('unchanged');
    const calls = (await h.requests({ service: 'arm', sinceSeq: before.lastSeq })).value.filter((e) => e.principal === automation);
    expect(calls.every((e) => e.method === 'GET')).toBe(true);
  });

  it('adds missing access policies without removing entries others added', async () => {
    const name = uniqueName('kvb');
    const { vault } = await ports.vaults.ensureVault(spec(name));
    const other: AccessPolicy = { tenantId, objectId: randomUUID(), permissions: { secrets: ['get'] } };
    await ports.vaults.setAccessPolicy(vault.id, other, 'add');
    const adeApp: AccessPolicy = { tenantId, objectId: randomUUID(), permissions: { keys: ['wrapKey'], secrets: ['set'] } };
    const result = await ports.vaults.ensureVault(spec(name, { accessPolicies: [automationPolicy(), adeApp] }));
    expect(result.action).toBe('updated');
    const ids = result.vault.accessPolicies.map((p) => p.objectId);
    expect(ids).toEqual(expect.arrayContaining([automation, other.objectId, adeApp.objectId]));
    // Permission names are case-insensitive (Azure may echo them in another casing).
    const granted = result.vault.accessPolicies.find((p) => p.objectId === adeApp.objectId)?.permissions;
    expect(granted?.keys?.map((k) => k.toLowerCase())).toEqual(['wrapkey']);
    expect(granted?.secrets?.map((k) => k.toLowerCase())).toEqual(['set']);

    await ports.vaults.setAccessPolicy(vault.id, { ...adeApp, permissions: { keys: ['wrapKey'] } }, 'replace');
    const replaced = await ports.vaults.getVault(vault.id);
    expect(replaced?.accessPolicies.find((p) => p.objectId === adeApp.objectId)?.permissions.secrets ?? []).toEqual([]);
    // Replace is per principal: ARM's whole-list replace would have dropped these.
    expect(replaced?.accessPolicies.map((p) => p.objectId)).toEqual(expect.arrayContaining([automation, other.objectId]));
    await ports.vaults.removeAccessPolicy(vault.id, adeApp);
    const afterRemove = (await ports.vaults.getVault(vault.id))?.accessPolicies.map((p) => p.objectId);
    expect(afterRemove).not.toContain(adeApp.objectId);
    expect(afterRemove).toEqual(expect.arrayContaining([automation, other.objectId]));
    await ports.vaults.removeAccessPolicy(vault.id, adeApp); // already gone: no error
  });

  it('converges when many runs ensure the same vault at once', async () => {
    const name = uniqueName('kvr');
    const results = await Promise.all(Array.from({ length: 8 }, () => ports.vaults.ensureVault(spec(name))));
    expect(new Set(results.map((r) => r.vault.id.toLowerCase())).size).toBe(1);
    expect(results.some((r) => r.action === 'created')).toBe(true);
    const vault = await ports.vaults.getVault(results[0]!.vault.id);
    expect(vault).toMatchObject({ enabledForDiskEncryption: true, enablePurgeProtection: true });
    expect(vault?.accessPolicies.map((p) => p.objectId)).toEqual([automation]);
  });

  it('refuses to use an existing vault in another region', async () => {
    const name = uniqueName('kvc');
    await ports.vaults.ensureVault(spec(name));
    await expect(ports.vaults.ensureVault(spec(name, { location: 'northeurope' }))).rejects.toMatchObject({
      kind: 'conflict',
      code: 'VaultLocationMismatch',
    });
  });

  it('validates the spec before calling Azure', async () => {
    await expect(ports.vaults.ensureVault(spec('x'))).rejects.toMatchObject({ kind: 'validation', field: 'name' });
    await expect(ports.vaults.ensureVault(spec(uniqueName('kvd'), { softDeleteRetentionInDays: 3 }))).rejects.toMatchObject({
      kind: 'validation',
      field: 'softDeleteRetentionInDays',
    });
  });

  it('checks name availability and finds nothing deleted for a live vault', async () => {
    const name = uniqueName('kve');
    expect(await ports.vaults.checkNameAvailability(name)).toEqual({ available: true });
    await ports.vaults.ensureVault(spec(name));
    const taken = await ports.vaults.checkNameAvailability(name);
    expect(taken.available).toBe(false);
    expect(taken.reason).toBe('AlreadyExists');
    expect(await ports.vaults.getDeletedVault(name, 'westeurope')).toBeUndefined();
    expect(
      await ports.vaults.getVault(`/subscriptions/${sub}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/${uniqueName('kvz')}`),
    ).toBeUndefined();
  });

  it('recovers a soft-deleted vault of the same name instead of failing', async () => {
    const name = uniqueName('kvf');
    const { vault } = await ports.vaults.ensureVault(spec(name));
    const arm = new KeyVaultManagementClient(new DefaultAzureCredential(), sub);
    await arm.vaults.delete(RG, name);
    const deleted = await ports.vaults.getDeletedVault(name, 'westeurope');
    expect(deleted?.vaultId?.toLowerCase()).toBe(vault.id.toLowerCase());
    const result = await ports.vaults.ensureVault(spec(name));
    expect(result.action).toBe('recovered');
    expect(result.vault.enabledForDiskEncryption).toBe(true);
    expect(await ports.vaults.getDeletedVault(name, 'westeurope')).toBeUndefined();
  });
});

describe('KeyVaultDataPort', () => {
  let vaultUrl: string;
  let vaultName: string;
  let vaultId: string;

  beforeAll(async () => {
    vaultName = uniqueName('kvd');
    const { vault } = await ports.vaults.ensureVault(spec(vaultName));
    vaultUrl = vault.vaultUri;
    vaultId = vault.id;
  });

  it('creates the KEK once and returns its versioned id', async () => {
    const first = await ports.keyVault.ensureKek(vaultUrl, 'ade-kek', { keySize: 3072 });
    expect(first).toMatchObject({ created: true, recovered: false, name: 'ade-kek', enabled: true });
    expect(first.keyType).toMatch(/^RSA/);
    expect(first.versionedId).toMatch(new RegExp(`^https://${vaultName}\\.vault\\.azure\\.net/keys/ade-kek/[0-9a-f]{32}$`));
    const second = await ports.keyVault.ensureKek(vaultUrl, 'ade-kek', { keySize: 3072 });
    expect(second).toMatchObject({ created: false, versionedId: first.versionedId });
    expect(await ports.keyVault.getKeyVersionedId(vaultUrl, 'ade-kek')).toBe(first.versionedId);
    expect(await ports.keyVault.getKeyVersionedId(vaultUrl, 'no-such-key')).toBeUndefined();
  });

  it('maps an access-policy denial to a non-retryable PermissionError', async () => {
    const name = uniqueName('kvp');
    const readOnly: AccessPolicy = { tenantId, objectId: automation, permissions: { keys: ['get'], secrets: ['list'] } };
    const { vault } = await ports.vaults.ensureVault(spec(name, { accessPolicies: [readOnly] }));
    const error = await ports.keyVault.ensureKek(vault.vaultUri, 'ade-kek', { keySize: 3072 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'permission', retryable: false });
    expect((error as Error).message).toContain('Create key ade-kek');
  });

  it("reads a secret version's tags and content type with list permission only, never its value", async () => {
    const secretName = randomUUID();
    const value = `bek-${randomUUID()}`;
    const tags = { DiskEncryptionKeyFileName: `${secretName}.BEK`, MachineName: 'lin1', VolumeLetter: 'C:\\' };
    const created = h.sim.ctx.keyVaultPlatform.setSecretAsPlatform(vaultName, secretName, value, tags, 'BEK');
    const before = await h.requests({ service: 'keyvault' });

    const props = await ports.keyVault.findSecretVersionProperties(created.id);
    expect(props).toMatchObject({ id: created.id, name: secretName, version: created.version, contentType: 'BEK', enabled: true, tags });
    expect(JSON.stringify(props)).not.toContain(value);
    expect(await ports.keyVault.findSecretVersionProperties(`${vaultUrl}secrets/${secretName}/${'0'.repeat(32)}`)).toBeUndefined();
    expect(await ports.keyVault.findSecretVersionProperties(`${vaultUrl}secrets/${randomUUID()}/${'0'.repeat(32)}`)).toBeUndefined();
    await expect(ports.keyVault.findSecretVersionProperties(`${vaultUrl}secrets/${secretName}`)).rejects.toMatchObject({
      kind: 'validation',
    });

    const calls = (await h.requests({ service: 'keyvault', sinceSeq: before.lastSeq })).value.filter((e) => e.principal === automation);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((e) => /\/versions$/i.test(e.path) && e.method === 'GET')).toBe(true);
  });

  it('finds and recovers a soft-deleted secret without ever reading a secret', async () => {
    const secretName = randomUUID();
    const created = h.sim.ctx.keyVaultPlatform.setSecretAsPlatform(
      vaultName,
      secretName,
      `bek-${randomUUID()}`,
      { DiskEncryptionKeyFileName: 'x.BEK' },
      'BEK',
    );
    // Test setup only: let the automation delete, then take the right away again.
    await ports.vaults.setAccessPolicy(
      vaultId,
      { ...automationPolicy(), permissions: { ...automationPolicy().permissions, secrets: ['list', 'recover', 'delete'] } },
      'replace',
    );
    const client = new SecretClient(vaultUrl, new DefaultAzureCredential());
    await client.beginDeleteSecret(secretName);
    await ports.vaults.setAccessPolicy(vaultId, automationPolicy(), 'replace');

    const deleted = await ports.keyVault.getDeletedSecret(vaultUrl, secretName);
    expect(deleted).toMatchObject({ name: secretName, tags: { DiskEncryptionKeyFileName: 'x.BEK' } });
    expect(await ports.keyVault.findSecretVersionProperties(created.id)).toBeUndefined();

    const before = await h.requests({ service: 'keyvault' });
    await ports.keyVault.recoverDeletedSecret(vaultUrl, secretName);
    expect(await ports.keyVault.findSecretVersionProperties(created.id)).toMatchObject({ version: created.version, contentType: 'BEK' });
    expect(await ports.keyVault.getDeletedSecret(vaultUrl, secretName)).toBeUndefined();

    const calls = (await h.requests({ service: 'keyvault', sinceSeq: before.lastSeq })).value.filter((e) => e.principal === automation);
    const secretReads = calls.filter((e) => e.method === 'GET' && /\/(deleted)?secrets\/[^/]+(\/[0-9a-f]{32})?$/i.test(e.path));
    expect(secretReads).toEqual([]);
    expect(calls.some((e) => e.method === 'POST' && /\/deletedsecrets\/[^/]+\/recover$/i.test(e.path))).toBe(true);
  });

  it('recovers a soft-deleted KEK when ensureKek meets its name', async () => {
    const first = await ports.keyVault.ensureKek(vaultUrl, 'kek-recover', { keySize: 2048 });
    await ports.vaults.setAccessPolicy(
      vaultId,
      { ...automationPolicy(), permissions: { ...automationPolicy().permissions, keys: ['get', 'create', 'list', 'recover', 'delete'] } },
      'replace',
    );
    const { KeyClient } = await import('@azure/keyvault-keys');
    await new KeyClient(vaultUrl, new DefaultAzureCredential()).beginDeleteKey('kek-recover');
    await ports.vaults.setAccessPolicy(vaultId, automationPolicy(), 'replace');
    expect(await ports.keyVault.getDeletedKey(vaultUrl, 'kek-recover')).toMatchObject({ name: 'kek-recover' });

    const again = await ports.keyVault.ensureKek(vaultUrl, 'kek-recover', { keySize: 2048 });
    expect(again).toMatchObject({ created: false, recovered: true, versionedId: first.versionedId });
    expect(await ports.keyVault.getDeletedKey(vaultUrl, 'kek-recover')).toBeUndefined();
  });
});
