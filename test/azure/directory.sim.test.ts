/**
 * DirectoryPort (Microsoft Graph) against the simulator, through the proxy like the Azure SDKs.
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzurePorts } from '../../azure/clients';
import { DirectoryAdapter } from '../../azure/directory';
import type { AzurePorts } from '../../azure/ports';
import { SecretValue } from '../../azure/secret-value';
import { startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
let ports: AzurePorts;

beforeAll(async () => {
  h = await startSimHarness();
  ports = createAzurePorts({ auth: { mode: 'environment' } });
});

afterAll(async () => {
  await h?.stop();
});

const appName = () => `ade-autopilot-kv-${randomUUID().slice(0, 8)}`;

describe('DirectoryPort on the simulator', () => {
  it('creates the application once (tagged, owned by the automation) and finds it again', async () => {
    const name = appName();
    const first = await ports.directory.ensureApplication(name, { notes: 'ADE dual-pass app for one vault' });
    expect(first).toMatchObject({ created: true, displayName: name });
    expect(first.appId).toMatch(/^[0-9a-f-]{36}$/);
    const second = await ports.directory.ensureApplication(name);
    expect(second).toEqual({ ...first, created: false });
  });

  it('converges on one application when several runs ensure it at the same moment', async () => {
    const name = appName();
    const results = await Promise.all(Array.from({ length: 5 }, () => ports.directory.ensureApplication(name)));
    expect(new Set(results.map((r) => r.objectId)).size).toBe(1);
    const again = await ports.directory.ensureApplication(name);
    expect(again.objectId).toBe(results[0]!.objectId);
    expect(again.created).toBe(false);
  });

  it('sends Graph traffic through HTTPS_PROXY (the simulator sees it, authenticated as the automation)', async () => {
    const before = await h.requests({ service: 'graph' });
    await ports.directory.ensureApplication(appName());
    const calls = (await h.requests({ service: 'graph', sinceSeq: before.lastSeq })).value;
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.every((c) => c.host === 'graph.microsoft.com' && c.principal === h.sim.seed.clientObjectId)).toBe(true);
  });

  it('creates the service principal once', async () => {
    const app = await ports.directory.ensureApplication(appName());
    const sp = await ports.directory.ensureServicePrincipal(app.appId);
    expect(sp.appId).toBe(app.appId);
    expect(sp.objectId).not.toBe(app.objectId);
    expect(await ports.directory.ensureServicePrincipal(app.appId)).toEqual(sp);
    await expect(ports.directory.ensureServicePrincipal('not-a-guid')).rejects.toMatchObject({ kind: 'validation' });
  });

  it('issues a short-lived password that works, prints redacted, and stops working once removed', async () => {
    const app = await ports.directory.ensureApplication(appName());
    await ports.directory.ensureServicePrincipal(app.appId);
    const started = Date.now();
    const credential = await ports.directory.addPassword(app.objectId, { lifetimeMs: 2 * 60 * 60 * 1000 });
    expect(credential.secret).toBeInstanceOf(SecretValue);
    const secretText = credential.secret.reveal();
    expect(secretText.length).toBeGreaterThan(10);
    for (const printed of [JSON.stringify(credential), inspect(credential, { depth: 5 }), `${credential.secret}`]) {
      expect(printed).not.toContain(secretText);
      expect(printed).toContain('[redacted]');
    }
    const end = Date.parse(credential.endDateTime);
    expect(end - started).toBeGreaterThan(2 * 60 * 60 * 1000 - 60_000);
    expect(end - started).toBeLessThan(2 * 60 * 60 * 1000 + 60_000);

    // The secret is real: the app can sign in with it (as the ADE extension would).
    const asApp = new ClientSecretCredential(h.sim.seed.tenantId, app.appId, secretText);
    await expect(asApp.getToken('https://vault.azure.net/.default')).resolves.toMatchObject({ token: expect.any(String) });

    await ports.directory.removePassword(app.objectId, credential.keyId);
    const afterRemoval = new ClientSecretCredential(h.sim.seed.tenantId, app.appId, secretText);
    await expect(afterRemoval.getToken('https://vault.azure.net/.default')).rejects.toThrow();
    await expect(ports.directory.removePassword(app.objectId, credential.keyId)).resolves.toBeUndefined();
  });

  it('deletes the service principal and the application; deleting again is not an error', async () => {
    const name = appName();
    const app = await ports.directory.ensureApplication(name);
    const sp = await ports.directory.ensureServicePrincipal(app.appId);
    await ports.directory.deleteServicePrincipal(sp.objectId);
    await ports.directory.deleteApplication(app.objectId);
    await expect(ports.directory.deleteApplication(app.objectId)).resolves.toBeUndefined();
    await expect(ports.directory.deleteServicePrincipal(sp.objectId)).resolves.toBeUndefined();
    const recreated = await ports.directory.ensureApplication(name);
    expect(recreated.created).toBe(true);
    expect(recreated.objectId).not.toBe(app.objectId);
  });

  it('retries a Graph 429 honouring Retry-After, and reports persistent throttling as ThrottledError', async () => {
    const brief = await h.control<{ id: string }>('POST', '/_sim/faults', {
      service: 'graph',
      status: 429,
      failNext: 1,
      errorRate: 0,
      retryAfterSeconds: 1,
    });
    const started = Date.now();
    const app = await ports.directory.ensureApplication(appName());
    expect(app.created).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await h.control('DELETE', `/_sim/faults/${brief.id}`);

    const persistent = await h.control<{ id: string }>('POST', '/_sim/faults', {
      service: 'graph',
      status: 429,
      failNext: 100,
      errorRate: 0,
      retryAfterSeconds: 1,
    });
    try {
      await expect(ports.directory.ensureApplication(appName())).rejects.toMatchObject({
        kind: 'throttled',
        retryable: true,
        retryAfterMs: 1000,
      });
    } finally {
      await h.control('DELETE', `/_sim/faults/${persistent.id}`);
    }
  });

  it('ignores a squatted application (same name and tag, older, owned by someone else) and creates its own', async () => {
    const name = appName();
    // Someone allowed to register applications plants the look-alike first, with Graph's own API.
    const squatter = await h.control<{ tenantId: string; clientId: string; clientSecret: string }>('POST', '/_sim/principals', {
      displayName: 'squatter',
      graphPermissions: ['Application.ReadWrite.OwnedBy'],
    });
    const squatterDirectory = new DirectoryAdapter(new ClientSecretCredential(squatter.tenantId, squatter.clientId, squatter.clientSecret));
    const planted = await squatterDirectory.ensureApplication(name);
    expect(planted.created).toBe(true);
    // This harness's automation may read every application (Application.ReadWrite.All), so a name filter would find the look-alike.
    const automation = h.sim.seed.clientObjectId;
    {
      const before = await h.requests({ service: 'graph' });
      const own = await ports.directory.ensureApplication(name);
      expect(own.created).toBe(true);
      expect(own.objectId).not.toBe(planted.objectId);
      expect(own.appId).not.toBe(planted.appId);
      expect((await ports.directory.ensureApplication(name)).objectId).toBe(own.objectId);
      // The look-alike was neither used nor touched (no write of the automation names it).
      const calls = (await h.requests({ service: 'graph', sinceSeq: before.lastSeq })).value;
      expect(calls.filter((c) => c.method !== 'GET' && c.path.includes(planted.objectId))).toEqual([]);
      expect(calls.some((c) => new RegExp(`/servicePrincipals/${automation}/ownedObjects`, 'i').test(c.path))).toBe(true);
      // ownsApplication: the own app with its client id only (the deploy activity's check before it adds a password).
      expect(await ports.directory.ownsApplication(own.objectId, own.appId)).toBe(true);
      expect(await ports.directory.ownsApplication(planted.objectId, planted.appId)).toBe(false);
      expect(await ports.directory.ownsApplication(own.objectId, planted.appId)).toBe(false);
    }
  });
});
