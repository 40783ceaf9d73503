/**
 * Publishing to a custom topic with a Microsoft Entra bearer token (EventGridPublisherClient with a
 * TokenCredential, as the app's outcome publisher does with its managed identity), over the proxy:
 * the front end validates the token; keys and SAS keep working; bad tokens are 401.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { EventGridManagementClient } from '@azure/arm-eventgrid';
import { ResourceManagementClient } from '@azure/arm-resources';
import { AzureKeyCredential, EventGridPublisherClient } from '@azure/eventgrid';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { FAST_POLL, startArmSim, until } from '../arm/arm-helpers';
import { createPrincipal } from '../front/sim-helpers';

const EVENTGRID_DATA_SENDER = 'd5a91429-5739-47e2-a06b-3470a27159e7';

let sim: Simulator;
let credential: ClientSecretCredential;
let eg: EventGridManagementClient;
let webhook: Server;
let hookBase: string;
const delivered: Array<{ path: string; subject: string }> = [];
const RG = 'rg-bearer';

/** A credential that hands out a fixed token, or asks the real credential for another audience. */
function tokenFrom(get: () => Promise<string>): TokenCredential {
  return { getToken: async (): Promise<AccessToken> => ({ token: await get(), expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

function startWebhook(): Promise<void> {
  webhook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]') as Array<{
        subject: string;
        data: { validationCode?: string };
      }>;
      if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ validationResponse: body[0]!.data.validationCode }));
      }
      for (const e of body) delivered.push({ path: req.url ?? '', subject: e.subject });
      res.writeHead(200).end();
    });
  });
  return new Promise((resolve) =>
    webhook.listen(0, '127.0.0.1', () => {
      hookBase = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

async function topicWithSubscription(name: string, disableLocalAuth: boolean): Promise<string> {
  const topic = await eg.topics.beginCreateOrUpdateAndWait(RG, name, { location: 'westeurope', disableLocalAuth }, FAST_POLL);
  await eg.topicEventSubscriptions.beginCreateOrUpdateAndWait(
    RG,
    name,
    'all',
    { destination: { endpointType: 'WebHook', endpointUrl: `${hookBase}/${name}` } },
    FAST_POLL,
  );
  return topic.endpoint!;
}

const event = (subject: string) => [{ eventType: 'AdeAutopilot.VmEncrypted', subject, dataVersion: '1.0', data: { reason: 'test' } }];

beforeAll(async () => {
  await startWebhook();
  ({ sim, credential } = await startArmSim());
  eg = new EventGridManagementClient(credential, sim.seed.subscriptionId);
  await new ResourceManagementClient(credential, sim.seed.subscriptionId).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  // Owner has no data actions: publishing with a token needs EventGrid Data Sender (here on the group, inherited by its topics).
  await grantDataSender(sim.seed.clientObjectId, `/subscriptions/${sim.seed.subscriptionId}/resourceGroups/${RG}`);
});

async function grantDataSender(principalId: string, scope: string): Promise<void> {
  await new AuthorizationManagementClient(credential, sim.seed.subscriptionId).roleAssignments.create(scope, crypto.randomUUID(), {
    roleDefinitionId:
      `/subscriptions/${sim.seed.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/` + EVENTGRID_DATA_SENDER,
    principalId,
    principalType: 'ServicePrincipal',
  });
}
afterAll(async () => {
  await sim?.stop();
  await new Promise((r) => webhook?.close(r));
});

describe('Event Grid data plane with Microsoft Entra tokens', () => {
  it('accepts a ClientSecretCredential token (audience https://eventgrid.azure.net) and delivers the events', async () => {
    const endpoint = await topicWithSubscription('outcomes', false);
    await new EventGridPublisherClient(endpoint, 'EventGrid', credential).send(event('vm-bearer'));
    // Keys still work on the same topic.
    const keys = await eg.topics.listSharedAccessKeys(RG, 'outcomes');
    await new EventGridPublisherClient(endpoint, 'EventGrid', new AzureKeyCredential(keys.key1!)).send(event('vm-key'));
    const subjects = await until('both events', () => {
      const s = delivered.filter((d) => d.path === '/outcomes').map((d) => d.subject);
      return s.length >= 2 ? s : undefined;
    });
    expect(subjects.sort()).toEqual(['vm-bearer', 'vm-key']);
  });

  it('accepts only Entra tokens on a topic with local auth disabled', async () => {
    const endpoint = await topicWithSubscription('entra-only', true);
    await new EventGridPublisherClient(endpoint, 'EventGrid', credential).send(event('vm-entra-only'));
    const keys = await eg.topics.listSharedAccessKeys(RG, 'entra-only');
    await expect(
      new EventGridPublisherClient(endpoint, 'EventGrid', new AzureKeyCredential(keys.key1!)).send(event('vm-refused')),
    ).rejects.toMatchObject({ statusCode: 401 });
    await until('the Entra-published event', () =>
      delivered.some((d) => d.path === '/entra-only' && d.subject === 'vm-entra-only') ? true : undefined,
    );
    expect(delivered.filter((d) => d.path === '/entra-only').map((d) => d.subject)).toEqual(['vm-entra-only']);
  });

  it('refuses a valid token whose principal lacks EventGrid Data Sender (401), and accepts it once granted on the topic', async () => {
    const endpoint = (await eg.topics.get(RG, 'outcomes')).endpoint!;
    // An Owner of the subscription still cannot publish: Owner grants no data actions.
    const owner = await createPrincipal(sim, 'eventgrid-owner-only');
    const ownerCredential = new ClientSecretCredential(owner.tenantId, owner.appId, owner.clientSecret);
    const before = delivered.length;
    await expect(new EventGridPublisherClient(endpoint, 'EventGrid', ownerCredential).send(event('vm-denied'))).rejects.toMatchObject({
      statusCode: 401,
      message: expect.stringContaining("'Microsoft.EventGrid/events/send/action'"),
    });
    const topicId = (await eg.topics.get(RG, 'outcomes')).id!;
    await grantDataSender(owner.objectId, topicId);
    await new EventGridPublisherClient(endpoint, 'EventGrid', ownerCredential).send(event('vm-granted'));
    await until('the granted publish', () => (delivered.length > before ? true : undefined));
    expect(delivered.slice(before).map((d) => d.subject)).toEqual(['vm-granted']);
  });

  it.each([
    ['a malformed token', async () => 'not-a-jwt'],
    [
      'a token with a forged signature',
      async () => {
        const real = (await credential.getToken('https://eventgrid.azure.net/.default'))!.token;
        const [h, p] = real.split('.');
        return `${h}.${p}.${Buffer.from('forged').toString('base64url')}`;
      },
    ],
    [
      'a token for another audience (Resource Manager)',
      async () => (await credential.getToken('https://management.azure.com/.default'))!.token,
    ],
  ])('refuses %s with 401 and publishes nothing', async (_what, get) => {
    const endpoint = (await eg.topics.get(RG, 'outcomes')).endpoint!;
    const before = delivered.length;
    await expect(new EventGridPublisherClient(endpoint, 'EventGrid', tokenFrom(get)).send(event('vm-bad-token'))).rejects.toMatchObject({
      statusCode: 401,
    });
    // A later good publish arrives alone: the refused one was never queued.
    await new EventGridPublisherClient(endpoint, 'EventGrid', credential).send(event('vm-after'));
    await until('the follow-up event', () => (delivered.length > before ? true : undefined));
    expect(delivered.slice(before).map((d) => d.subject)).toEqual(['vm-after']);
  });
});
