import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { ClientSecretCredential } from '@azure/identity';
import { AuthenticationHandler, Client, type Context, type Middleware } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { ProxyAgent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { control, createPrincipal, proxiedFetch, startSimForTest } from '../front/sim-helpers';

let sim: Simulator;
let graph: Client;
let dispatcher: ProxyAgent;

/** Last middleware: sends the request with undici through the simulator's proxy. */
class ProxyFetchHandler implements Middleware {
  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const init = context.options ?? {};
    context.response = (await undiciFetch(url, { ...(init as object), dispatcher } as never)) as unknown as Response;
  }
}

function graphClient(credential: ClientSecretCredential): Client {
  const auth = new AuthenticationHandler(
    new TokenCredentialAuthenticationProvider(credential, { scopes: ['https://graph.microsoft.com/.default'] }),
  );
  auth.setNext(new ProxyFetchHandler());
  return Client.initWithMiddleware({ middleware: auth });
}

beforeAll(async () => {
  sim = await startSimForTest();
  dispatcher = new ProxyAgent({ uri: sim.url, requestTls: { ca: [...tls.rootCertificates, readFileSync(sim.caCertPath, 'utf8')] } });
  graph = graphClient(new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, sim.seed.clientSecret));
});
afterAll(async () => {
  await dispatcher?.close();
  await sim?.stop();
});

interface App {
  id: string;
  appId: string;
  displayName: string;
  passwordCredentials: { keyId: string; endDateTime: string; hint: string; secretText: string | null }[];
}

describe('Microsoft Graph v1.0 applications and service principals', () => {
  it('creates an application, reads it by id and by appId, and lists it with $filter', async () => {
    const app = (await graph
      .api('/applications')
      .post({ displayName: 'ade-vm-app-1', signInAudience: 'AzureADMyOrg', tags: ['ade-autopilot'], notes: 'for vm1' })) as App;
    expect(app).toMatchObject({
      displayName: 'ade-vm-app-1',
      passwordCredentials: [],
      tags: ['ade-autopilot'],
      notes: 'for vm1',
      signInAudience: 'AzureADMyOrg',
    });
    const selected = (await graph
      .api('/applications')
      .filter("displayName eq 'ade-vm-app-1'")
      .select(['id', 'appId', 'tags', 'createdDateTime'])
      .get()) as { value: Record<string, unknown>[] };
    expect(Object.keys(selected.value[0]!).sort()).toEqual(['appId', 'createdDateTime', 'id', 'tags']);
    expect(app.appId).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await graph.api(`/applications/${app.id}`).get()) as App).appId).toBe(app.appId);
    expect(((await graph.api(`/applications(appId='${app.appId}')`).get()) as App).id).toBe(app.id);
    for (const filter of [`appId eq '${app.appId}'`, "displayName eq 'ade-vm-app-1'", "startswith(displayName,'ade-vm-app-1')"]) {
      const res = (await graph.api('/applications').filter(filter).get()) as { value: App[] };
      expect(res.value.map((a) => a.id)).toEqual([app.id]);
    }
  });

  it('pages with $top and @odata.nextLink', async () => {
    for (let i = 0; i < 5; i++) await graph.api('/applications').post({ displayName: `paged-${i}` });
    const seen: string[] = [];
    let page = (await graph.api('/applications').filter("startswith(displayName,'paged-')").top(2).get()) as {
      value: App[];
      '@odata.nextLink'?: string;
    };
    seen.push(...page.value.map((a) => a.displayName));
    while (page['@odata.nextLink']) {
      page = (await graph.api(page['@odata.nextLink']).get()) as typeof page;
      seen.push(...page.value.map((a) => a.displayName));
    }
    expect(seen.sort()).toEqual(['paged-0', 'paged-1', 'paged-2', 'paged-3', 'paged-4']);
  });

  it('a new service principal signs in with an addPassword secret until removePassword', async () => {
    const app = (await graph.api('/applications').post({ displayName: 'signin-app' })) as App;
    const sp = (await graph.api('/servicePrincipals').post({ appId: app.appId })) as { id: string; appId: string };
    const pwd = (await graph.api(`/applications/${app.id}/addPassword`).post({ passwordCredential: { displayName: 'ade' } })) as {
      keyId: string;
      secretText: string;
      hint: string;
      endDateTime: string;
    };
    expect(pwd.secretText).toHaveLength(40);
    expect(pwd.hint).toBe(pwd.secretText.slice(0, 3));
    const listed = (await graph.api(`/applications/${app.id}`).get()) as App;
    expect(listed.passwordCredentials).toEqual([expect.objectContaining({ keyId: pwd.keyId, secretText: null })]);
    const token = await new ClientSecretCredential(sim.seed.tenantId, app.appId, pwd.secretText).getToken(
      'https://vault.azure.net/.default',
    );
    expect(JSON.parse(Buffer.from(token.token.split('.')[1]!, 'base64url').toString()).oid).toBe(sp.id);
    await graph.api(`/applications/${app.id}/removePassword`).post({ keyId: pwd.keyId });
    await expect(
      new ClientSecretCredential(sim.seed.tenantId, app.appId, pwd.secretText).getToken('https://vault.azure.net/.default'),
    ).rejects.toThrow(/AADSTS7000215/);
  });

  it('an expired password stops working (AADSTS7000222) once its end date passes in real time', async () => {
    const app = (await graph.api('/applications').post({ displayName: 'expiring-app' })) as App;
    await graph.api('/servicePrincipals').post({ appId: app.appId });
    // The app's own clock decides the end date, as with Azure: two seconds from now, then wait them out.
    const endDateTime = new Date(Date.now() + 2_000).toISOString();
    const pwd = (await graph.api(`/applications/${app.id}/addPassword`).post({ passwordCredential: { endDateTime } })) as {
      secretText: string;
      endDateTime: string;
    };
    expect(pwd.endDateTime).toBe(endDateTime);
    await new ClientSecretCredential(sim.seed.tenantId, app.appId, pwd.secretText).getToken('https://management.azure.com/.default');
    await new Promise((resolve) => setTimeout(resolve, Date.parse(endDateTime) - Date.now() + 500));
    await expect(
      new ClientSecretCredential(sim.seed.tenantId, app.appId, pwd.secretText).getToken('https://management.azure.com/.default'),
    ).rejects.toThrow(/AADSTS7000222/);
  });

  it('an application without a service principal cannot sign in (AADSTS7000229)', async () => {
    const app = (await graph.api('/applications').post({ displayName: 'no-sp' })) as App;
    const pwd = (await graph.api(`/applications/${app.id}/addPassword`).post({})) as { secretText: string };
    await expect(
      new ClientSecretCredential(sim.seed.tenantId, app.appId, pwd.secretText).getToken('https://management.azure.com/.default'),
    ).rejects.toThrow(/AADSTS7000229/);
  });

  it('makes the app-only creator an owner; adds, lists and removes owners', async () => {
    const app = (await graph.api('/applications').post({ displayName: 'owned-app' })) as App;
    const other = await createPrincipal(sim, 'second-owner');
    await graph
      .api(`/applications/${app.id}/owners/$ref`)
      .post({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${other.objectId}` });
    const owners = (await graph.api(`/applications/${app.id}/owners`).get()) as { value: { id: string; '@odata.type': string }[] };
    expect(owners.value.map((o) => o.id).sort()).toEqual([sim.seed.clientObjectId, other.objectId].sort());
    expect(owners.value[0]).toMatchObject({ '@odata.type': '#microsoft.graph.servicePrincipal' });
    await graph.api(`/applications/${app.id}/owners/${other.objectId}/$ref`).delete();
    expect(((await graph.api(`/applications/${app.id}/owners`).get()) as { value: { id: string }[] }).value.map((o) => o.id)).toEqual([
      sim.seed.clientObjectId,
    ]);
  });

  it("lists a principal's ownedObjects (typed, castable to applications); OwnedBy reads only its own, else 403", async () => {
    const owner = await createPrincipal(sim, 'owned-objects-owner', { graphPermissions: ['Application.ReadWrite.OwnedBy'] });
    const other = await createPrincipal(sim, 'owned-objects-other', { graphPermissions: ['Application.ReadWrite.OwnedBy'] });
    const asOwner = graphClient(new ClientSecretCredential(owner.tenantId, owner.appId, owner.clientSecret));
    const app = (await asOwner.api('/applications').post({ displayName: 'owned-1', tags: ['ade-autopilot'] })) as App;
    const all = (await asOwner.api(`/servicePrincipals/${owner.objectId}/ownedObjects`).get()) as { value: Array<Record<string, unknown>> };
    expect(all.value).toEqual([
      expect.objectContaining({ '@odata.type': '#microsoft.graph.application', id: app.id, displayName: 'owned-1' }),
    ]);
    const apps = (await asOwner
      .api(`/servicePrincipals/${owner.objectId}/ownedObjects/microsoft.graph.application`)
      .select(['id', 'displayName'])
      .get()) as { value: Array<Record<string, unknown>> };
    expect(apps.value.map((o) => o.id)).toEqual([app.id]);
    // Another principal with only OwnedBy cannot look at someone else's owned objects.
    const asOther = graphClient(new ClientSecretCredential(other.tenantId, other.appId, other.clientSecret));
    await expect(asOther.api(`/servicePrincipals/${owner.objectId}/ownedObjects`).get()).rejects.toMatchObject({
      statusCode: 403,
      code: 'Authorization_RequestDenied',
    });
    expect(((await asOther.api(`/servicePrincipals/${other.objectId}/ownedObjects`).get()) as { value: unknown[] }).value).toEqual([]);
  });

  it('deleting an application deletes its service principal; a missing object gives the Graph 404 envelope', async () => {
    const app = (await graph.api('/applications').post({ displayName: 'to-delete' })) as App;
    const sp = (await graph.api('/servicePrincipals').post({ appId: app.appId })) as { id: string };
    await graph.api(`/applications/${app.id}`).delete();
    const err = (await graph
      .api(`/servicePrincipals/${sp.id}`)
      .get()
      .then(
        () => undefined,
        (e: unknown) => e,
      )) as { statusCode: number; code: string; body: string };
    expect(err).toMatchObject({ statusCode: 404, code: 'Request_ResourceNotFound' });
    const body = JSON.parse(err.body) as { innerError?: { 'request-id'?: string } };
    expect(body.innerError?.['request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['an unsupported $filter', () => graph.api('/applications').filter("tags/any(t:t eq 'x')").get(), 400, 'Request_UnsupportedQuery'],
    ['a missing displayName', () => graph.api('/applications').post({}), 400, 'Request_BadRequest'],
    [
      'a service principal for an unknown appId',
      () => graph.api('/servicePrincipals').post({ appId: '00000000-0000-0000-0000-000000000001' }),
      400,
      'Request_BadRequest',
    ],
    [
      'an unknown property in PATCH',
      () => graph.api(`/servicePrincipals/${sim.seed.clientObjectId}`).patch({ nope: 1 }),
      400,
      'Request_BadRequest',
    ],
  ])('answers %s with a Graph error', async (_label, call, status, code) => {
    await expect(call()).rejects.toMatchObject({ statusCode: status, code });
  });

  it('rejects requests without a token (401 InvalidAuthenticationToken)', async () => {
    const f = proxiedFetch(sim);
    const res = await f('https://graph.microsoft.com/v1.0/applications');
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('InvalidAuthenticationToken');
    await f.close();
  });

  it('throttles per app with 429 and Retry-After when the limit is exceeded', async () => {
    await control(sim, 'PUT', '/_sim/graph/limits', { requestsPerWindow: 3, windowMs: 60_000 });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      await graph
        .api('/applications')
        .top(1)
        .get()
        .then(
          () => statuses.push(200),
          (e: { statusCode: number; headers?: Headers }) => {
            statuses.push(e.statusCode);
            retryAfter = e.headers?.get('retry-after') ?? retryAfter;
          },
        );
    }
    await control(sim, 'PUT', '/_sim/graph/limits', { requestsPerWindow: 3500, windowMs: 10_000 });
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });
});
