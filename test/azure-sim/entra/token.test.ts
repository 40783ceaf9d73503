import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { decodeJwt, startSimForTest } from '../front/sim-helpers';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimForTest();
});
afterAll(async () => {
  await sim?.stop();
});

describe('Entra token endpoint via ClientSecretCredential over the proxy', () => {
  it.each([
    ['https://management.azure.com/.default', 'https://management.azure.com'],
    ['https://vault.azure.net/.default', 'https://vault.azure.net'],
    ['https://graph.microsoft.com/.default', 'https://graph.microsoft.com'],
  ])('issues a token for %s carrying tenant, object id, app id and audience', async (scope, audience) => {
    const cred = new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, sim.seed.clientSecret);
    const token = await cred.getToken(scope);
    const claims = decodeJwt(token.token);
    expect(claims).toMatchObject({ aud: audience, tid: sim.seed.tenantId, oid: sim.seed.clientObjectId, appid: sim.seed.clientId });
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 50 * 60_000);
  });

  it('rejects a wrong secret with AADSTS7000215', async () => {
    const cred = new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, 'not-the-secret');
    await expect(cred.getToken('https://management.azure.com/.default')).rejects.toThrow(/AADSTS7000215/);
  });

  it('rejects an unknown client id with AADSTS700016', async () => {
    const cred = new ClientSecretCredential(sim.seed.tenantId, '11111111-2222-3333-4444-555555555555', 'x');
    await expect(cred.getToken('https://management.azure.com/.default')).rejects.toThrow(/AADSTS700016/);
  });
});
