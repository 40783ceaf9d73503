import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { ClientCertificateCredential, ManagedIdentityCredential } from '@azure/identity';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWithNode } from '../../../local/azure-sim/front/ca';
import type { Simulator } from '../../../local/azure-sim/index';
import { control, createPrincipal, decodeJwt, startSimForTest } from '../front/sim-helpers';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimForTest();
});
afterAll(async () => {
  await sim?.stop();
});

function selfSignedCertificate(notAfter: Date): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = randomBytes(8)
    .toString('hex')
    .replace(/^[89a-f]/, '1');
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = notAfter;
  const subject = [{ name: 'commonName', value: 'ade-autopilot-test' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  signWithNode(cert, keyPem);
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

describe('ClientCertificateCredential (certificate assertion)', () => {
  it('signs in with a certificate registered on the application', async () => {
    const { certPem, keyPem } = selfSignedCertificate(new Date(Date.now() + 365 * 86_400_000));
    const sp = await createPrincipal(sim, 'cert-app', { secret: false, certificate: certPem });
    const token = await new ClientCertificateCredential(sim.seed.tenantId, sp.appId, { certificate: `${certPem}\n${keyPem}` }).getToken(
      'https://management.azure.com/.default',
    );
    expect(decodeJwt(token.token)).toMatchObject({ oid: sp.objectId, appid: sp.appId, aud: 'https://management.azure.com' });
  });

  it('rejects a certificate the application does not know (AADSTS700027)', async () => {
    const registered = selfSignedCertificate(new Date(Date.now() + 365 * 86_400_000));
    const other = selfSignedCertificate(new Date(Date.now() + 365 * 86_400_000));
    const sp = await createPrincipal(sim, 'cert-app-2', { secret: false, certificate: registered.certPem });
    await expect(
      new ClientCertificateCredential(sim.seed.tenantId, sp.appId, { certificate: `${other.certPem}\n${other.keyPem}` }).getToken(
        'https://management.azure.com/.default',
      ),
    ).rejects.toThrow(/AADSTS700027/);
  });

  it('rejects a registered certificate past its end date (real time)', async () => {
    const notAfter = new Date(Date.now() + 3_000);
    const { certPem, keyPem } = selfSignedCertificate(notAfter);
    const sp = await createPrincipal(sim, 'cert-app-3', { secret: false, certificate: certPem });
    await new Promise((resolve) => setTimeout(resolve, notAfter.getTime() - Date.now() + 1_000));
    await expect(
      new ClientCertificateCredential(sim.seed.tenantId, sp.appId, { certificate: `${certPem}\n${keyPem}` }).getToken(
        'https://management.azure.com/.default',
      ),
    ).rejects.toThrow(/AADSTS700027.*expired/s);
  });
});

describe('ManagedIdentityCredential (App Service identity endpoint)', () => {
  it("gets a token for the function app's system-assigned identity", async () => {
    const token = await new ManagedIdentityCredential().getToken('https://management.azure.com/.default');
    expect(decodeJwt(token.token)).toMatchObject({
      oid: sim.seed.managedIdentityObjectId,
      appid: sim.seed.managedIdentityClientId,
      aud: 'https://management.azure.com',
      tid: sim.seed.tenantId,
    });
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 50 * 60_000);
  });

  it('gets a token for a user-assigned identity by client id', async () => {
    const mi = (
      await control<{ clientId: string; principalId: string }>(sim, 'POST', '/_sim/managed-identities', { displayName: 'uami-ade' })
    ).body;
    const token = await new ManagedIdentityCredential({ clientId: mi.clientId }).getToken('https://vault.azure.net/.default');
    expect(decodeJwt(token.token)).toMatchObject({ oid: mi.principalId, appid: mi.clientId, aud: 'https://vault.azure.net' });
  });

  it('refuses a request without the identity header, as App Service does', async () => {
    const res = await fetch(`${sim.seed.identityEndpoint}?api-version=2019-08-01&resource=https://management.azure.com`);
    expect(res.status).toBe(401);
    const ok = await fetch(`${sim.seed.identityEndpoint}?api-version=2019-08-01&resource=https://management.azure.com`, {
      headers: { 'X-IDENTITY-HEADER': sim.seed.identityHeader },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      token_type: 'Bearer',
      resource: 'https://management.azure.com',
      expires_on: expect.stringMatching(/^\d+$/),
    });
  });
});
