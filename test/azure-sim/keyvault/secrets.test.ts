import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { control, createPrincipal, createTestVault, startSimForTest } from '../front/sim-helpers';

let sim: Simulator;
let client: SecretClient;
const VAULT = 'kvsecrets01';

beforeAll(async () => {
  sim = await startSimForTest();
  const { vaultUrl } = await createTestVault(sim, VAULT, { softDeleteRetentionInDays: 7 });
  client = new SecretClient(vaultUrl, new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, sim.seed.clientSecret));
});
afterAll(async () => {
  await sim?.stop();
});

describe('Key Vault secrets through @azure/keyvault-secrets', () => {
  it('sets a secret with tags and content type, then reads it back by name and by version', async () => {
    const tags = { DiskEncryptionKeyFileName: 'abc.BEK', MachineName: 'vm1' };
    const set = await client.setSecret('bek-1', 'c2VjcmV0LXZhbHVl', { tags, contentType: 'BEK' });
    expect(set.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(set.properties.id).toBe(`https://${VAULT}.vault.azure.net/secrets/bek-1/${set.properties.version}`);
    const latest = await client.getSecret('bek-1');
    expect(latest).toMatchObject({
      value: 'c2VjcmV0LXZhbHVl',
      properties: { tags, contentType: 'BEK', enabled: true, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 7 },
    });
    await client.setSecret('bek-1', 'second');
    expect((await client.getSecret('bek-1')).value).toBe('second');
    expect((await client.getSecret('bek-1', { version: set.properties.version! })).value).toBe('c2VjcmV0LXZhbHVl');
  });

  it('lists properties and versions across pages', async () => {
    for (let i = 0; i < 30; i++) await client.setSecret(`many-${i}`, `v${i}`);
    const names: string[] = [];
    for await (const p of client.listPropertiesOfSecrets()) names.push(p.name);
    expect(names.filter((n) => n.startsWith('many-'))).toHaveLength(30);
    const versions: string[] = [];
    for await (const p of client.listPropertiesOfSecretVersions('bek-1')) versions.push(p.version!);
    expect(versions).toHaveLength(2);
  });

  it('updates properties (disable) and a disabled secret cannot be read', async () => {
    const s = await client.setSecret('to-disable', 'x');
    const updated = await client.updateSecretProperties('to-disable', s.properties.version!, { enabled: false, tags: { a: 'b' } });
    expect(updated).toMatchObject({ enabled: false, tags: { a: 'b' } });
    await expect(client.getSecret('to-disable')).rejects.toMatchObject({
      statusCode: 403,
      message: expect.stringMatching(/disabled secret/),
    });
  });

  it('soft-deletes, lists and gets the deleted secret, recovers it, deletes and purges it', async () => {
    await client.setSecret('sd-1', 'keep-me');
    const poller = await client.beginDeleteSecret('sd-1');
    const deleted = await poller.pollUntilDone();
    expect(deleted.recoveryId).toBe(`https://${VAULT}.vault.azure.net/deletedsecrets/sd-1`);
    expect(deleted.scheduledPurgeDate!.getTime() - deleted.deletedOn!.getTime()).toBe(7 * 86_400_000);
    await expect(client.getSecret('sd-1')).rejects.toMatchObject({ statusCode: 404, code: 'SecretNotFound' });
    await expect(client.setSecret('sd-1', 'reuse')).rejects.toMatchObject({ statusCode: 409 });
    const deletedNames: string[] = [];
    for await (const d of client.listDeletedSecrets()) deletedNames.push(d.name);
    expect(deletedNames).toContain('sd-1');
    await (await client.beginRecoverDeletedSecret('sd-1')).pollUntilDone();
    expect((await client.getSecret('sd-1')).value).toBe('keep-me');
    await (await client.beginDeleteSecret('sd-1')).pollUntilDone();
    await client.purgeDeletedSecret('sd-1');
    await expect(client.getDeletedSecret('sd-1')).rejects.toMatchObject({ statusCode: 404 });
    await client.setSecret('sd-1', 'new life');
  });

  it.each([
    ['invalid name', () => client.setSecret('bad_name!', 'x'), 400, 'BadParameter'],
    ['value over 25 KB', () => client.setSecret('too-big', 'x'.repeat(25 * 1024 + 1)), 400, 'BadParameter'],
    ['unknown secret', () => client.getSecret('does-not-exist'), 404, 'SecretNotFound'],
    ['unknown version', () => client.getSecret('bek-1', { version: '0'.repeat(32) }), 404, 'SecretNotFound'],
  ])("answers %s with Key Vault's error envelope", async (_label, call, status, code) => {
    await expect(call()).rejects.toMatchObject({ statusCode: status, code });
  });
});

describe('vault purge', () => {
  it('forgetVault (called by Resource Manager when a vault is purged) drops every object of the vault', async () => {
    await client.setSecret('to-forget', 'x');
    sim.ctx.keyVaultPlatform.forgetVault?.(VAULT.toUpperCase());
    await expect(client.getSecret('to-forget')).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.getSecret('bek-1')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('access policies', () => {
  it('a principal with only secrets/set + keys/wrapKey may set but gets 403 on get and list', async () => {
    const sp = await createPrincipal(sim, 'ade-dual-pass-app');
    await createTestVault(sim, 'kvpolicy01', {
      accessPolicies: [
        { tenantId: sim.seed.tenantId, objectId: sim.seed.clientObjectId, permissions: { secrets: ['all'], keys: ['all'] } },
        { tenantId: sim.seed.tenantId, objectId: sp.objectId, permissions: { secrets: ['set'], keys: ['wrapKey'] } },
      ],
    });
    const limited = new SecretClient(
      'https://kvpolicy01.vault.azure.net',
      new ClientSecretCredential(sim.seed.tenantId, sp.appId, sp.clientSecret),
    );
    await limited.setSecret('written', 'ok');
    const err = (await limited.getSecret('written').then(
      () => undefined,
      (e: unknown) => e,
    )) as { statusCode: number; code: string; message: string };
    expect(err).toMatchObject({ statusCode: 403, code: 'Forbidden' });
    expect(err.message).toContain(`oid=${sp.objectId}`);
    expect(err.message).toContain('does not have secrets get permission on key vault');
    await expect(limited.listPropertiesOfSecrets().next()).rejects.toMatchObject({ statusCode: 403 });
    await expect(limited.beginDeleteSecret('written')).rejects.toMatchObject({ statusCode: 403 });
    const stranger = await createPrincipal(sim, 'no-policy');
    const none = new SecretClient(
      'https://kvpolicy01.vault.azure.net',
      new ClientSecretCredential(sim.seed.tenantId, stranger.appId, stranger.clientSecret),
    );
    await expect(none.setSecret('x', 'y')).rejects.toMatchObject({ statusCode: 403 });
  });

  it('logs data-plane operations with the calling principal', async () => {
    const log = await control<{ value: { operation: string; principal: string; status: number }[] }>(
      sim,
      'GET',
      '/_sim/requests?service=keyvault&operation=SecretGet',
    );
    expect(log.body.value.some((e) => e.principal === sim.seed.clientObjectId && e.status === 200)).toBe(true);
    expect(log.body.value.some((e) => e.status === 403)).toBe(true);
  });
});
