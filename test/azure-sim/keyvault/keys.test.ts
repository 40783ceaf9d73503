import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { ClientSecretCredential } from '@azure/identity';
import { CryptographyClient, KeyClient } from '@azure/keyvault-keys';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GridEvent } from '../../../local/azure-sim/contract';
import type { Simulator } from '../../../local/azure-sim/index';
import { control, createPrincipal, createTestVault, startSimForTest } from '../front/sim-helpers';

let sim: Simulator;
let cred: ClientSecretCredential;
let keys: KeyClient;
const VAULT = 'kvkeys01';
const events: { source: string; event: GridEvent }[] = [];

beforeAll(async () => {
  sim = await startSimForTest();
  const bus = sim.ctx.events;
  sim.ctx.events = {
    publish: (source, list) => {
      for (const event of list) events.push({ source, event });
      bus.publish(source, list);
    },
  };
  const { vaultUrl } = await createTestVault(sim, VAULT, { enabledForDiskEncryption: true });
  cred = new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, sim.seed.clientSecret);
  keys = new KeyClient(vaultUrl, cred);
});
afterAll(async () => {
  await sim?.stop();
});

describe('Key Vault keys through @azure/keyvault-keys', () => {
  it.each([2048, 3072])('creates an RSA %i-bit key whose public part is a real RSA key of that size', async (size) => {
    const key = await keys.createRsaKey(`kek-${size}`, { keySize: size });
    expect(key.keyType).toBe('RSA');
    expect(key.id).toBe(`https://${VAULT}.vault.azure.net/keys/kek-${size}/${key.properties.version}`);
    const pub = createPublicKey({
      key: { kty: 'RSA', n: Buffer.from(key.key!.n!).toString('base64url'), e: Buffer.from(key.key!.e!).toString('base64url') },
      format: 'jwk',
    });
    expect(pub.asymmetricKeyDetails?.modulusLength).toBe(size);
  });

  it.each(['RSA-OAEP', 'RSA-OAEP-256', 'RSA1_5'] as const)('wraps and unwraps with %s using real cryptography', async (alg) => {
    const key = await keys.getKey('kek-2048');
    const crypto = new CryptographyClient(key.id!, cred);
    const plaintext = randomBytes(32);
    const wrapped = await crypto.wrapKey(alg, plaintext);
    expect(Buffer.from(wrapped.result)).not.toEqual(plaintext);
    expect(Buffer.from(wrapped.result)).toHaveLength(256);
    const unwrapped = await crypto.unwrapKey(alg, wrapped.result);
    expect(Buffer.from(unwrapped.result)).toEqual(plaintext);
  });

  it("unwraps a blob wrapped locally with the key's public part (RSA-OAEP)", async () => {
    const key = await keys.getKey('kek-3072');
    const pub = createPublicKey({
      key: { kty: 'RSA', n: Buffer.from(key.key!.n!).toString('base64url'), e: Buffer.from(key.key!.e!).toString('base64url') },
      format: 'jwk',
    });
    const plaintext = randomBytes(48);
    const wrapped = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, plaintext);
    const unwrapped = await new CryptographyClient(key.id!, cred).unwrapKey('RSA-OAEP', wrapped);
    expect(Buffer.from(unwrapped.result)).toEqual(plaintext);
  });

  it('a tampered blob fails to unwrap with a 400', async () => {
    const key = await keys.getKey('kek-2048');
    await expect(new CryptographyClient(key.id!, cred).unwrapKey('RSA-OAEP', randomBytes(256))).rejects.toMatchObject({ statusCode: 400 });
  });

  it('lists keys and versions, soft-deletes and recovers a key', async () => {
    await keys.createRsaKey('kek-2048', { keySize: 2048 });
    const versions: string[] = [];
    for await (const p of keys.listPropertiesOfKeyVersions('kek-2048')) versions.push(p.version!);
    expect(versions).toHaveLength(2);
    const names: string[] = [];
    for await (const p of keys.listPropertiesOfKeys()) names.push(p.name);
    expect(names.sort()).toEqual(['kek-2048', 'kek-3072']);
    await (await keys.beginDeleteKey('kek-3072')).pollUntilDone();
    await expect(keys.getKey('kek-3072')).rejects.toMatchObject({ statusCode: 404, code: 'KeyNotFound' });
    const deleted = await keys.getDeletedKey('kek-3072');
    expect(deleted.properties.recoveryId).toBe(`https://${VAULT}.vault.azure.net/deletedkeys/kek-3072`);
    await (await keys.beginRecoverDeletedKey('kek-3072')).pollUntilDone();
    expect((await keys.getKey('kek-3072')).name).toBe('kek-3072');
  });

  it('a disabled key cannot wrap (403) and re-enabling restores it', async () => {
    const key = await keys.createRsaKey('kek-disable', { keySize: 2048 });
    await keys.updateKeyProperties('kek-disable', key.properties.version!, { enabled: false });
    const crypto = new CryptographyClient(key.id!, cred);
    await expect(crypto.unwrapKey('RSA-OAEP', randomBytes(256))).rejects.toMatchObject({ statusCode: 403 });
    await keys.updateKeyProperties('kek-disable', key.properties.version!, { enabled: true });
    const wrapped = await crypto.wrapKey('RSA-OAEP', Buffer.from('abc'));
    expect(Buffer.from((await crypto.unwrapKey('RSA-OAEP', wrapped.result)).result).toString()).toBe('abc');
  });

  it('rejects unsupported key sizes and types with BadParameter', async () => {
    await expect(keys.createRsaKey('bad-size', { keySize: 1024 })).rejects.toMatchObject({ statusCode: 400, code: 'BadParameter' });
  });

  it("publishes KeyNewVersionCreated with PascalCase data to the vault's topic", () => {
    const e = events.find((x) => x.event.eventType === 'Microsoft.KeyVault.KeyNewVersionCreated' && x.event.subject === 'kek-3072');
    expect(e?.source).toMatch(/\/providers\/Microsoft\.KeyVault\/vaults\/kvkeys01$/i);
    expect(e?.event.data).toMatchObject({
      VaultName: VAULT,
      ObjectType: 'Key',
      ObjectName: 'kek-3072',
      Version: expect.stringMatching(/^[0-9a-f]{32}$/),
      Id: expect.stringContaining('/keys/kek-3072/'),
    });
  });
});

describe('access policies on keys', () => {
  it('wrapKey-only principal can wrap but not unwrap or get', async () => {
    const sp = await createPrincipal(sim, 'wrap-only');
    await createTestVault(sim, 'kvkeys02', {
      accessPolicies: [
        { tenantId: sim.seed.tenantId, objectId: sim.seed.clientObjectId, permissions: { keys: ['all'], secrets: ['all'] } },
        { tenantId: sim.seed.tenantId, objectId: sp.objectId, permissions: { keys: ['wrapKey'], secrets: ['set'] } },
      ],
    });
    const admin = new KeyClient('https://kvkeys02.vault.azure.net', cred);
    const key = await admin.createRsaKey('kek', { keySize: 2048 });
    const limitedCred = new ClientSecretCredential(sim.seed.tenantId, sp.appId, sp.clientSecret);
    const crypto = new CryptographyClient(key.id!, limitedCred);
    const wrapped = await crypto.wrapKey('RSA-OAEP', randomBytes(32));
    expect(wrapped.result).toHaveLength(256);
    await expect(crypto.unwrapKey('RSA-OAEP', wrapped.result)).rejects.toMatchObject({ statusCode: 403 });
    await expect(new KeyClient('https://kvkeys02.vault.azure.net', limitedCred).getKey('kek')).rejects.toMatchObject({ statusCode: 403 });
  });
});

describe('KeyVaultPlatform (single-pass ADE) and the enabledForDiskEncryption flag', () => {
  it('writes and reads disk secrets only in a vault enabled for disk encryption', async () => {
    await createTestVault(sim, 'kvnoade01', { enabledForDiskEncryption: false });
    expect(() => sim.ctx.keyVaultPlatform.setSecretAsPlatform('kvnoade01', 'bek', 'dmFsdWU=', {}, 'BEK')).toThrow(
      /not enabled for disk encryption/,
    );
    const written = sim.ctx.keyVaultPlatform.setSecretAsPlatform(
      VAULT,
      'bek-platform',
      'dmFsdWU=',
      { DiskEncryptionKeyFileName: 'x.BEK' },
      'BEK',
    );
    expect(written.id).toBe(`https://${VAULT}.vault.azure.net/secrets/bek-platform/${written.version}`);
    const viaSdk = await new SecretClient(`https://${VAULT}.vault.azure.net`, cred).getSecret('bek-platform');
    expect(viaSdk).toMatchObject({ value: 'dmFsdWU=', properties: { contentType: 'BEK', tags: { DiskEncryptionKeyFileName: 'x.BEK' } } });
    expect(sim.ctx.keyVaultPlatform.getSecretAsPlatform(written.id)).toEqual({
      value: 'dmFsdWU=',
      tags: { DiskEncryptionKeyFileName: 'x.BEK' },
    });
    expect(
      events.some((e) => e.event.eventType === 'Microsoft.KeyVault.SecretNewVersionCreated' && e.event.subject === 'bek-platform'),
    ).toBe(true);
  });

  it('wraps with a KEK by URL, and the SDK unwraps the result', async () => {
    const key = await keys.getKey('kek-2048');
    const bek = randomBytes(32);
    const wrapped = sim.ctx.keyVaultPlatform.wrapKeyAsPlatform(key.id!, 'RSA-OAEP', bek);
    expect(Buffer.from((await new CryptographyClient(key.id!, cred).unwrapKey('RSA-OAEP', wrapped)).result)).toEqual(bek);
    expect(sim.ctx.keyVaultPlatform.unwrapKeyAsPlatform(key.id!, 'RSA-OAEP', wrapped)).toEqual(bek);
    expect(() =>
      sim.ctx.keyVaultPlatform.wrapKeyAsPlatform(`https://${VAULT}.vault.azure.net/keys/missing/${'a'.repeat(32)}`, 'RSA-OAEP', bek),
    ).toThrow(/was not found/);
    expect(() => sim.ctx.keyVaultPlatform.wrapKeyAsPlatform(`https://${VAULT}.vault.azure.net:443/keys/kek-2048`, 'RSA-OAEP', bek)).toThrow(
      /not a Key Vault keys URL/,
    );
  });

  it('control API disables and deletes secrets out of band', async () => {
    const secrets = new SecretClient(`https://${VAULT}.vault.azure.net`, cred);
    await secrets.setSecret('oob', 'v');
    expect((await control(sim, 'PATCH', `/_sim/keyvault/vaults/${VAULT}/secrets/oob`, { enabled: false })).status).toBe(200);
    await expect(secrets.getSecret('oob')).rejects.toMatchObject({ statusCode: 403 });
    expect((await control(sim, 'DELETE', `/_sim/keyvault/vaults/${VAULT}/secrets/oob`)).status).toBe(204);
    await expect(secrets.getSecret('oob')).rejects.toMatchObject({ statusCode: 404 });
    await expect(secrets.getDeletedSecret('oob')).rejects.toMatchObject({ statusCode: 404 });
  });
});
