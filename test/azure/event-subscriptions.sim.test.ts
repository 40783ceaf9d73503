/**
 * EventSubscriptionPort against the simulator: the vault's system topic and the subscription that
 * routes its secret events to the app. A loopback webhook answers Event Grid's validation handshake.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzurePorts } from '../../azure/clients';
import { systemTopicNameFor } from '../../azure/event-subscriptions';
import type { AzurePorts, VaultInfo } from '../../azure/ports';
import { startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
let ports: AzurePorts;
let webhook: Server;
let webhookUrl: string;
const received: unknown[] = [];
const SECRET_EVENTS = ['Microsoft.KeyVault.SecretNewVersionCreated'];

async function newVault(): Promise<VaultInfo> {
  const sub = h.sim.seed.subscriptionId;
  const { vault } = await ports.vaults.ensureVault({
    subscriptionId: sub,
    resourceGroup: 'rg-ade-vaults',
    name: `kve${randomUUID().replace(/-/g, '').slice(0, 12)}`,
    location: 'westeurope',
    tenantId: h.sim.seed.tenantId,
    softDeleteRetentionInDays: 7,
    enablePurgeProtection: true,
  });
  return vault;
}

beforeAll(async () => {
  webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const events = JSON.parse(body || '[]') as Array<{ eventType?: string; data?: { validationCode?: string } }>;
      received.push(...events);
      const validation = events.find((e) => e.eventType === 'Microsoft.EventGrid.SubscriptionValidationEvent');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(validation ? JSON.stringify({ validationResponse: validation.data?.validationCode }) : '');
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const port = (webhook.address() as AddressInfo).port;
  webhookUrl = `http://127.0.0.1:${port}/runtime/webhooks/EventGrid?functionName=secretEvents&code=sim-key`;

  h = await startSimHarness();
  await h.fastDurations(100);
  await h.control('POST', '/_sim/arm/resourcegroups', {
    subscriptionId: h.sim.seed.subscriptionId,
    name: 'rg-ade-vaults',
    location: 'westeurope',
  });
  ports = createAzurePorts({ auth: { mode: 'environment' } }, { pollIntervalMs: 100 });
});

afterAll(async () => {
  await h?.stop();
  await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
});

describe('EventSubscriptionPort on the simulator', () => {
  it('creates the vault system topic once and reuses it', async () => {
    const vault = await newVault();
    const topic = await ports.eventSubscriptions.ensureVaultSystemTopic(vault);
    expect(topic).toMatchObject({
      name: systemTopicNameFor(vault.name),
      resourceGroup: vault.resourceGroup,
      location: 'westeurope',
      topicType: 'Microsoft.KeyVault.vaults',
    });
    expect(topic.source.toLowerCase()).toBe(vault.id.toLowerCase());

    const before = await h.requests({ service: 'arm' });
    const again = await ports.eventSubscriptions.ensureVaultSystemTopic(vault);
    expect(again.id.toLowerCase()).toBe(topic.id.toLowerCase());
    const calls = (await h.requests({ service: 'arm', sinceSeq: before.lastSeq })).value.filter(
      (e) => e.principal === h.sim.seed.clientObjectId,
    );
    expect(calls.map((e) => e.method)).toEqual(['GET']);
  });

  it('reuses a system topic someone else created for the vault under another name', async () => {
    const vault = await newVault();
    const { EventGridManagementClient } = await import('@azure/arm-eventgrid');
    const { DefaultAzureCredential } = await import('@azure/identity');
    const client = new EventGridManagementClient(new DefaultAzureCredential(), vault.subscriptionId);
    await client.systemTopics.beginCreateOrUpdateAndWait(
      vault.resourceGroup,
      'portal-made-topic',
      { location: vault.location, source: vault.id, topicType: 'Microsoft.KeyVault.vaults' },
      { updateIntervalInMs: 100 },
    );
    const topic = await ports.eventSubscriptions.ensureVaultSystemTopic(vault);
    expect(topic.name).toBe('portal-made-topic');
  });

  it('creates the webhook subscription (passing validation), leaves it unchanged, updates it when the filter changes', async () => {
    const vault = await newVault();
    const topic = await ports.eventSubscriptions.ensureVaultSystemTopic(vault);
    const spec = {
      name: 'ade-secret-events',
      destination: { kind: 'webhook' as const, endpointUrl: webhookUrl },
      includedEventTypes: SECRET_EVENTS,
    };

    const created = await ports.eventSubscriptions.ensureEventSubscription(topic, spec);
    expect(created).toMatchObject({
      name: 'ade-secret-events',
      action: 'created',
      provisioningState: 'Succeeded',
      destinationKind: 'webhook',
      includedEventTypes: SECRET_EVENTS,
    });
    expect(received.some((e) => (e as { eventType?: string }).eventType === 'Microsoft.EventGrid.SubscriptionValidationEvent')).toBe(true);

    const same = await ports.eventSubscriptions.ensureEventSubscription(topic, spec);
    expect(same.action).toBe('unchanged');

    const wider = await ports.eventSubscriptions.ensureEventSubscription(topic, {
      ...spec,
      includedEventTypes: [...SECRET_EVENTS, 'Microsoft.KeyVault.KeyNewVersionCreated'],
    });
    expect(wider.action).toBe('updated');
    expect(new Set(wider.includedEventTypes)).toEqual(new Set([...SECRET_EVENTS, 'Microsoft.KeyVault.KeyNewVersionCreated']));
  });

  it('sets the dead-letter container, adds it where missing, and the simulator refuses a malformed one', async () => {
    const vault = await newVault();
    const topic = await ports.eventSubscriptions.ensureVaultSystemTopic(vault);
    const storageAccountId =
      `/subscriptions/${vault.subscriptionId}/resourceGroups/rg-app` + '/providers/Microsoft.Storage/storageAccounts/stadeapp';
    const spec = {
      name: 'ade-secret-events-dl',
      destination: { kind: 'webhook' as const, endpointUrl: webhookUrl },
      includedEventTypes: SECRET_EVENTS,
    };
    expect((await ports.eventSubscriptions.ensureEventSubscription(topic, spec)).action).toBe('created');
    const withDeadLetter = { ...spec, deadLetter: { storageAccountId, containerName: 'eventgrid-deadletter' } };
    expect((await ports.eventSubscriptions.ensureEventSubscription(topic, withDeadLetter)).action).toBe('updated');
    expect((await ports.eventSubscriptions.ensureEventSubscription(topic, withDeadLetter)).action).toBe('unchanged');

    const { EventGridManagementClient } = await import('@azure/arm-eventgrid');
    const { DefaultAzureCredential } = await import('@azure/identity');
    const client = new EventGridManagementClient(new DefaultAzureCredential(), vault.subscriptionId);
    const live = await client.systemTopicEventSubscriptions.get(topic.resourceGroup, topic.name, spec.name);
    expect(live.deadLetterDestination).toEqual({
      endpointType: 'StorageBlob',
      resourceId: storageAccountId,
      blobContainerName: 'eventgrid-deadletter',
    });

    const refused = await client.systemTopicEventSubscriptions
      .beginCreateOrUpdateAndWait(
        topic.resourceGroup,
        topic.name,
        'bad-dead-letter',
        {
          destination: { endpointType: 'WebHook', endpointUrl: webhookUrl },
          deadLetterDestination: { endpointType: 'StorageBlob', resourceId: '/not/a/storage/account', blobContainerName: 'x' },
        } as never,
        { updateIntervalInMs: 100 },
      )
      .then(
        () => undefined,
        (e: { statusCode?: number; code?: string; message?: string }) => e,
      );
    expect(refused).toMatchObject({ statusCode: 400, code: 'InvalidRequest' });
    expect(refused?.message).toContain('deadLetterDestination.properties.resourceId');
  });

  it('rejects destinations Event Grid would refuse before calling Azure', async () => {
    const topic = { name: 't', resourceGroup: 'rg', subscriptionId: h.sim.seed.subscriptionId };
    await expect(
      ports.eventSubscriptions.ensureEventSubscription(topic, {
        name: 'x1x',
        destination: { kind: 'webhook', endpointUrl: 'http://example.com/hook' },
        includedEventTypes: SECRET_EVENTS,
      }),
    ).rejects.toMatchObject({ kind: 'validation' });
    await expect(
      ports.eventSubscriptions.ensureEventSubscription(topic, {
        name: 'x1x',
        destination: {
          kind: 'azure-function',
          resourceId: `/subscriptions/${h.sim.seed.subscriptionId}/resourceGroups/rg/providers/Microsoft.Web/sites/app`,
        },
        includedEventTypes: SECRET_EVENTS,
      }),
    ).rejects.toMatchObject({ kind: 'validation' });
    await expect(
      ports.eventSubscriptions.ensureEventSubscription(topic, {
        name: 'x1x',
        destination: { kind: 'webhook', endpointUrl: webhookUrl },
        includedEventTypes: [],
      }),
    ).rejects.toMatchObject({ kind: 'validation' });
  });
});
