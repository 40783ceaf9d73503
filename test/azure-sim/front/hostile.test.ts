import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { control, createTestVault, proxiedFetch, startSimForTest } from './sim-helpers';

let sim: Simulator;
let pfetch: ReturnType<typeof proxiedFetch>;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  sim = await startSimForTest();
  pfetch = proxiedFetch(sim);
  await createTestVault(sim, 'kvhostile01');
  const cred = new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, sim.seed.clientSecret);
  tokens.vault = (await cred.getToken('https://vault.azure.net/.default')).token;
  tokens.graph = (await cred.getToken('https://graph.microsoft.com/.default')).token;
  tokens.arm = (await cred.getToken('https://management.azure.com/.default')).token;
});
afterAll(async () => {
  await pfetch?.close();
  await sim?.stop();
});

const KV = 'https://kvhostile01.vault.azure.net';

describe('bad input gets service-shaped 4xx answers and never crashes the simulator', () => {
  it.each([
    ['malformed JSON to Key Vault', `${KV}/secrets/x?api-version=7.5`, 'PUT', 'vault', '{"value": ', 400, 'BadParameter'],
    ['missing api-version on Key Vault', `${KV}/secrets/x`, 'GET', 'vault', undefined, 400, 'BadParameter'],
    ['unknown Key Vault route', `${KV}/certificates/x/y/z?api-version=7.5`, 'GET', 'vault', undefined, 400, 'BadParameter'],
    ['malformed percent-encoding', `${KV}/secrets/%E0%A4%A?api-version=7.5`, 'GET', 'vault', undefined, 400, 'BadRequest'],
    ['a Graph token sent to Key Vault', `${KV}/secrets/x?api-version=7.5`, 'GET', 'graph', undefined, 401, 'Unauthorized'],
    [
      'a Key Vault token sent to Graph',
      'https://graph.microsoft.com/v1.0/applications',
      'GET',
      'vault',
      undefined,
      401,
      'InvalidAuthenticationToken',
    ],
    ['malformed JSON to Graph', 'https://graph.microsoft.com/v1.0/applications', 'POST', 'graph', '{', 400, 'BadRequest'],
    ['unknown Graph segment', 'https://graph.microsoft.com/v1.0/nothingHere', 'GET', 'graph', undefined, 400, 'BadRequest'],
    [
      'a secret name of 10,000 characters',
      `${KV}/secrets/${'a'.repeat(10_000)}?api-version=7.5`,
      'PUT',
      'vault',
      '{"value":"x"}',
      400,
      'BadParameter',
    ],
  ])('%s', async (_label, url, method, token, body, status, code) => {
    const res = await pfetch(url, {
      method,
      headers: { authorization: `Bearer ${tokens[token]}`, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe(code);
    expect(json.error.message.length).toBeGreaterThan(0);
    expect(res.headers.get('x-ms-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a forged token (wrong signature) is rejected with 401', async () => {
    const [h, p] = tokens.vault!.split('.');
    const res = await pfetch(`${KV}/secrets/x?api-version=7.5`, {
      headers: { authorization: `Bearer ${h}.${p}.${Buffer.from('forged').toString('base64url')}` },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /authorization="https:\/\/login\.microsoftonline\.com\/.+", resource="https:\/\/vault\.azure\.net"/,
    );
  });

  it('a body over the size limit gets 413 and the simulator keeps serving', async () => {
    const res = await pfetch(`${KV}/secrets/x?api-version=7.5`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.vault}`, 'content-type': 'application/json' },
      body: Buffer.alloc(9 * 1024 * 1024, 0x61),
    });
    expect(res.status).toBe(413);
    expect((await control<{ status: string }>(sim, 'GET', '/_sim/health')).body.status).toBe('ok');
  });

  it.each([
    ['missing grant_type', 'client_id=x', 400, 'invalid_request', /AADSTS900144/],
    ['unsupported grant', 'grant_type=password&client_id=x', 400, 'unsupported_grant_type', /AADSTS70003/],
    [
      'scope without /.default',
      'grant_type=client_credentials&client_id=x&client_secret=y&scope=https://vault.azure.net/user_impersonation',
      400,
      'invalid_scope',
      /AADSTS1002012/,
    ],
  ])('the token endpoint answers %s with an OAuth error', async (_label, form, status, error, description) => {
    const res = await pfetch(`https://login.microsoftonline.com/${sim.seed.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: string; error_description: string; error_codes: number[]; trace_id: string };
    expect(json.error).toBe(error);
    expect(json.error_description).toMatch(description);
    expect(json.error_codes).toHaveLength(1);
  });

  it('serves OpenID metadata and instance discovery like Entra', async () => {
    const meta = (await (
      await pfetch(`https://login.microsoftonline.com/${sim.seed.tenantId}/v2.0/.well-known/openid-configuration`)
    ).json()) as Record<string, string>;
    expect(meta.token_endpoint).toBe(`https://login.microsoftonline.com/${sim.seed.tenantId}/oauth2/v2.0/token`);
    expect(meta.issuer).toBe(`https://login.microsoftonline.com/${sim.seed.tenantId}/v2.0`);
    const keys = (await (await pfetch(meta.jwks_uri!)).json()) as { keys: { kid: string }[] };
    expect(keys.keys[0]!.kid).toBe(JSON.parse(Buffer.from(tokens.vault!.split('.')[0]!, 'base64url').toString()).kid);
    const disco = (await (
      await pfetch(
        `https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&` +
          `authorization_endpoint=https://login.microsoftonline.com/${sim.seed.tenantId}/oauth2/v2.0/` +
          `authorize`,
      )
    ).json()) as { tenant_discovery_endpoint: string };
    expect(disco.tenant_discovery_endpoint).toBe(
      `https://login.microsoftonline.com/${sim.seed.tenantId}/v2.0/.well-known/openid-configuration`,
    );
    const unknown = await pfetch(
      'https://login.microsoftonline.com/00000000-0000-0000-0000-00000000dead/v2.0/.well-known/openid-configuration',
    );
    expect(unknown.status).toBe(400);
  });
});
