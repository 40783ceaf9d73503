/**
 * Event Grid through @azure/arm-eventgrid (system topics, custom topics, event subscriptions) and
 * @azure/eventgrid (publishing), with a loopback webhook that records what Event Grid delivers.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ComputeManagementClient } from '@azure/arm-compute';
import { EventGridManagementClient, type EventSubscription } from '@azure/arm-eventgrid';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import { AzureKeyCredential, AzureSASCredential, EventGridPublisherClient, generateSharedAccessSignature } from '@azure/eventgrid';
import type { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { FAST_POLL, control, startArmSim, until } from '../arm/arm-helpers';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: any[];
}

let sim: Simulator;
let credential: ClientSecretCredential;
let eg: EventGridManagementClient;
let compute: ComputeManagementClient;
let webhook: Server;
let hookBase: string;
const received: Received[] = [];
const failuresLeft = new Map<string, number>();
const RG = 'rg-events';

function startWebhook(): Promise<void> {
  webhook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]') as any[];
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, body });
      if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
        if (path.startsWith('/novalidate')) return void res.writeHead(200).end('');
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ validationResponse: body[0].data.validationCode }));
      }
      if (path.startsWith('/bad')) return void res.writeHead(400).end('no thanks');
      const left = failuresLeft.get(path) ?? 0;
      if (left > 0) {
        failuresLeft.set(path, left - 1);
        return void res.writeHead(503).end('busy');
      }
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

const notifications = (path: string) => received.filter((r) => r.path.startsWith(path) && r.headers['aeg-event-type'] === 'Notification');

function webhookSubscription(path: string, extra: Partial<EventSubscription> = {}): EventSubscription {
  return { destination: { endpointType: 'WebHook', endpointUrl: `${hookBase}${path}`, maxEventsPerBatch: 10 }, ...extra };
}

beforeAll(async () => {
  await startWebhook();
  ({ sim, credential } = await startArmSim());
  eg = new EventGridManagementClient(credential, sim.seed.subscriptionId);
  compute = new ComputeManagementClient(credential, sim.seed.subscriptionId);
  await new ResourceManagementClient(credential, sim.seed.subscriptionId).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  await eg.systemTopics.beginCreateOrUpdateAndWait(
    RG,
    'sub-topic',
    { location: 'global', source: `/subscriptions/${sim.seed.subscriptionId}`, topicType: 'Microsoft.Resources.Subscriptions' },
    FAST_POLL,
  );
});
afterAll(async () => {
  await sim?.stop();
  await new Promise((r) => webhook?.close(r));
});

describe('Resource Manager events on a subscription system topic', () => {
  it('handshakes, filters (event type + advanced filter), and delivers the VM write events with aeg-* headers', async () => {
    const sub = await eg.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
      RG,
      'sub-topic',
      'vm-writes',
      webhookSubscription('/vm', {
        filter: {
          includedEventTypes: ['Microsoft.Resources.ResourceWriteSuccess'],
          advancedFilters: [{ operatorType: 'StringIn', key: 'data.operationName', values: ['Microsoft.Compute/virtualMachines/write'] }],
        },
      }),
      FAST_POLL,
    );
    expect(sub.provisioningState).toBe('Succeeded');
    expect(received.some((r) => r.path === '/vm' && r.headers['aeg-event-type'] === 'SubscriptionValidation')).toBe(true);
    expect(JSON.stringify(sub.destination)).not.toContain('endpointUrl');
    const full = await eg.systemTopicEventSubscriptions.getFullUrl(RG, 'sub-topic', 'vm-writes');
    expect(full.endpointUrl).toBe(`${hookBase}/vm`);

    const vm = await compute.virtualMachines.beginCreateOrUpdateAndWait(
      RG,
      'evt-vm',
      {
        location: 'westeurope',
        hardwareProfile: { vmSize: 'Standard_B2s' },
        storageProfile: { osDisk: { createOption: 'FromImage', osType: 'Linux' } },
        osProfile: { computerName: 'evt', adminUsername: 'u', linuxConfiguration: {} },
      },
      FAST_POLL,
    );
    const events = await until('two VM write events', () => {
      const all = notifications('/vm').flatMap((r) => r.body);
      return all.length >= 2 ? all : undefined;
    });
    for (const e of events) {
      expect(e).toMatchObject({
        topic: `/subscriptions/${sim.seed.subscriptionId}`,
        subject: vm.id,
        eventType: 'Microsoft.Resources.ResourceWriteSuccess',
        dataVersion: '2',
        metadataVersion: '1',
        data: {
          operationName: 'Microsoft.Compute/virtualMachines/write',
          status: 'Succeeded',
          resourceProvider: 'Microsoft.Compute',
          resourceUri: vm.id,
          subscriptionId: sim.seed.subscriptionId,
          tenantId: sim.seed.tenantId,
        },
      });
      expect(typeof e.data.authorization).toBe('object');
      expect(e.data.claims.appid).toBe(sim.seed.clientId);
    }
    expect(events[0].data.correlationId).toBe(events[1].data.correlationId);
    const first = notifications('/vm')[0]!;
    expect(first.headers).toMatchObject({
      'aeg-subscription-name': 'VM-WRITES',
      'aeg-delivery-count': '0',
      'aeg-data-version': '2',
      'aeg-metadata-version': '1',
    });
    expect(first.headers['content-type']).toMatch(/^application\/json/);
    // Disk writes were filtered out by the advanced filter.
    expect(events.every((e) => !String(e.data.operationName).startsWith('Microsoft.Compute/disks'))).toBe(true);
  });

  it('retries a failing endpoint on the Azure schedule (back-off sped up) and counts deliveries', async () => {
    failuresLeft.set('/flaky', 2);
    await eg.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
      RG,
      'sub-topic',
      'flaky',
      webhookSubscription('/flaky', { filter: { includedEventTypes: ['Microsoft.Resources.ResourceActionSuccess'] } }),
      FAST_POLL,
    );
    await control(sim, 'POST', '/_sim/arm/eventgrid/publish', {
      source: `/subscriptions/${sim.seed.subscriptionId}`,
      events: [
        {
          id: 'a1',
          topic: `/subscriptions/${sim.seed.subscriptionId}`,
          subject: '/x',
          eventType: 'Microsoft.Resources.ResourceActionSuccess',
          eventTime: new Date().toISOString(),
          data: {},
          dataVersion: '2',
          metadataVersion: '1',
        },
      ],
    });
    const attempts = await until('a successful third attempt', () => {
      const n = notifications('/flaky');
      return n.length >= 3 ? n : undefined;
    });
    expect(attempts.map((a) => a.headers['aeg-delivery-count'])).toEqual(['0', '1', '2']);
  });

  it('delivers every event `copies` times when asked (at-least-once duplicates), once again after copies=1', async () => {
    await eg.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
      RG,
      'sub-topic',
      'copies',
      webhookSubscription('/copies', { filter: { includedEventTypes: ['Microsoft.Resources.ResourceWriteFailure'] } }),
      FAST_POLL,
    );
    expect((await control(sim, 'PUT', '/_sim/arm/eventgrid/copies', { copies: 0 })).status).toBe(400);
    expect((await control(sim, 'PUT', '/_sim/arm/eventgrid/copies', { copies: 3 })).status).toBe(200);
    const event = {
      id: 'dup1',
      topic: `/subscriptions/${sim.seed.subscriptionId}`,
      subject: '/dup',
      eventType: 'Microsoft.Resources.ResourceWriteFailure',
      eventTime: new Date().toISOString(),
      data: {},
      dataVersion: '2',
      metadataVersion: '1',
    };
    try {
      await control(sim, 'POST', '/_sim/arm/eventgrid/publish', { source: `/subscriptions/${sim.seed.subscriptionId}`, events: [event] });
      const copies = await until('three deliveries', () => (notifications('/copies').length >= 3 ? notifications('/copies') : undefined));
      expect(copies.map((c) => (c.body as Array<{ id: string }>)[0]!.id)).toEqual(['dup1', 'dup1', 'dup1']);
    } finally {
      await control(sim, 'PUT', '/_sim/arm/eventgrid/copies', { copies: 1 });
    }
  });

  it("dead-letters on 400 without retrying into the subscription's dead-letter container, visible through the control API", async () => {
    const storageAccountId =
      `/subscriptions/${sim.seed.subscriptionId}/resourceGroups/${RG}` + '/providers/Microsoft.Storage/storageAccounts/stdeadletters';
    await eg.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
      RG,
      'sub-topic',
      'rejecting',
      webhookSubscription('/bad', {
        filter: { includedEventTypes: ['Microsoft.Resources.ResourceDeleteSuccess'] },
        deadLetterDestination: { endpointType: 'StorageBlob', resourceId: storageAccountId, blobContainerName: 'eventgrid-deadletter' },
      } as Partial<EventSubscription>),
      FAST_POLL,
    );
    await control(sim, 'POST', '/_sim/arm/eventgrid/publish', {
      source: `/subscriptions/${sim.seed.subscriptionId}`,
      events: [
        {
          id: 'd1',
          topic: '',
          subject: '/y',
          eventType: 'Microsoft.Resources.ResourceDeleteSuccess',
          eventTime: new Date().toISOString(),
          data: {},
          dataVersion: '2',
          metadataVersion: '1',
        },
      ],
    });
    let report:
      | { deadLetters: { eventSubscriptionId: string; deadLetterReason: string; deliveryAttempts: number; lastHttpStatus: number }[] }
      | undefined;
    for (let i = 0; i < 200 && !report?.deadLetters.length; i++) {
      report = (await control<typeof report>(sim, 'GET', '/_sim/arm/eventgrid/deliveries')).body;
      if (!report?.deadLetters.length) await new Promise((r) => setTimeout(r, 25));
    }
    expect(report!.deadLetters).toEqual([
      expect.objectContaining({
        eventSubscriptionId: expect.stringMatching(/eventSubscriptions\/rejecting$/),
        deadLetterReason: 'NonRetriableError',
        deliveryAttempts: 1,
        lastHttpStatus: 400,
        destination: `${storageAccountId}/eventgrid-deadletter`,
      }),
    ]);
    expect(notifications('/bad')).toHaveLength(1);
  });

  it('fails the subscription when the webhook does not echo the validation code', async () => {
    await expect(
      eg.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
        RG,
        'sub-topic',
        'no-echo',
        webhookSubscription('/novalidate'),
        FAST_POLL,
      ),
    ).rejects.toThrow(/validation handshake failed/i);
  });

  it('delivers to an AzureFunction endpoint through the configured local function host, without a handshake', async () => {
    const fn = `/subscriptions/${sim.seed.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/sites/ade-func/functions/onArmEvent`;
    expect(
      (await control(sim, 'PUT', '/_sim/arm/eventgrid/functionApps', { name: 'ade-func', url: hookBase, code: 'system-key' })).status,
    ).toBe(200);
    await eg.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
      RG,
      'sub-topic',
      'to-function',
      {
        destination: { endpointType: 'AzureFunction', resourceId: fn, maxEventsPerBatch: 1 },
        filter: { subjectBeginsWith: '/fn-subject' },
      },
      FAST_POLL,
    );
    expect(received.filter((r) => r.path.startsWith('/runtime/webhooks/eventgrid'))).toHaveLength(0);
    await control(sim, 'POST', '/_sim/arm/eventgrid/publish', {
      source: `/subscriptions/${sim.seed.subscriptionId}`,
      events: [1, 2].map((i) => ({
        id: `f${i}`,
        topic: '',
        subject: `/fn-subject/${i}`,
        eventType: 'Microsoft.Resources.ResourceWriteSuccess',
        eventTime: new Date().toISOString(),
        data: {},
        dataVersion: '2',
        metadataVersion: '1',
      })),
    });
    const batches = await until('two single-event batches', () => {
      const n = notifications('/runtime/webhooks/eventgrid?functionName=onArmEvent&code=system-key');
      return n.length >= 2 ? n : undefined;
    });
    expect(batches.map((b) => b.body.length)).toEqual([1, 1]);
  });

  it.each([
    [
      'an http endpoint that is not loopback',
      () => webhookSubscription('/x', { destination: { endpointType: 'WebHook', endpointUrl: 'http://example.com/hook' } }),
    ],
    [
      'an unknown advanced filter operator',
      () => webhookSubscription('/x', { filter: { advancedFilters: [{ operatorType: 'StringLike' as never, key: 'subject' }] } }),
    ],
    [
      'an out-of-range batch size',
      () => webhookSubscription('/x', { destination: { endpointType: 'WebHook', endpointUrl: `${hookBase}/x`, maxEventsPerBatch: 6000 } }),
    ],
  ])('rejects %s with 400', async (_label, body) => {
    await expect(
      eg.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(RG, 'sub-topic', 'invalid', body(), FAST_POLL),
    ).rejects.toMatchObject({ statusCode: 400 });
  });
});

describe('Resource Manager events on a resource-group system topic', () => {
  it("receives the group's write events with the group as topic", async () => {
    const groupId = `/subscriptions/${sim.seed.subscriptionId}/resourceGroups/${RG}`;
    await eg.systemTopics.beginCreateOrUpdateAndWait(
      RG,
      'rg-topic',
      { location: 'global', source: groupId, topicType: 'Microsoft.Resources.ResourceGroups' },
      FAST_POLL,
    );
    await eg.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
      RG,
      'rg-topic',
      'rg-writes',
      webhookSubscription('/rg', { filter: { subjectEndsWith: `/resourceGroups/${RG}` } }),
      FAST_POLL,
    );
    await new ResourceManagementClient(credential, sim.seed.subscriptionId).resourceGroups.update(RG, { tags: { touched: 'yes' } });
    const [event] = await until('the group write event', () => notifications('/rg')[0]?.body);
    expect(event).toMatchObject({
      topic: groupId,
      subject: groupId,
      eventType: 'Microsoft.Resources.ResourceWriteSuccess',
      data: { operationName: 'Microsoft.Resources/subscriptions/resourceGroups/write', httpRequest: { method: 'PATCH' } },
    });
  });
});

describe('Key Vault events on a vault system topic', () => {
  it('delivers SecretNewVersionCreated with PascalCase data when a secret is set', async () => {
    const kv = new KeyVaultManagementClient(credential, sim.seed.subscriptionId);
    const vault = await kv.vaults.beginCreateOrUpdateAndWait(
      RG,
      'kv-events',
      {
        location: 'westeurope',
        properties: {
          tenantId: sim.seed.tenantId,
          sku: { family: 'A', name: 'standard' },
          accessPolicies: [{ tenantId: sim.seed.tenantId, objectId: sim.seed.clientObjectId, permissions: { secrets: ['set', 'get'] } }],
        },
      },
      FAST_POLL,
    );
    await eg.systemTopics.beginCreateOrUpdateAndWait(
      RG,
      'kv-topic',
      { location: 'westeurope', source: vault.id, topicType: 'Microsoft.KeyVault.vaults' },
      FAST_POLL,
    );
    await eg.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
      RG,
      'kv-topic',
      'secrets',
      webhookSubscription('/kv', { filter: { includedEventTypes: ['Microsoft.KeyVault.SecretNewVersionCreated'] } }),
      FAST_POLL,
    );
    const secret = await new SecretClient('https://kv-events.vault.azure.net', credential).setSecret('bek-evt', 'value');
    const [event] = await until('the secret event', () => notifications('/kv')[0]?.body);
    expect(event).toMatchObject({
      topic: vault.id,
      subject: 'bek-evt',
      eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
      data: {
        Id: secret.properties.id,
        VaultName: 'kv-events',
        ObjectType: 'Secret',
        ObjectName: 'bek-evt',
        Version: secret.properties.version,
      },
    });
    // Deleting the vault deletes its Event Grid subscriptions.
    await kv.vaults.delete(RG, 'kv-events');
    await expect(eg.systemTopicEventSubscriptions.get(RG, 'kv-topic', 'secrets')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('custom topics and EventGridPublisherClient', () => {
  it("publishes with a key and with a SAS token, and delivers to the topic's subscription", async () => {
    const topic = await eg.topics.beginCreateOrUpdateAndWait(RG, 'orders', { location: 'westeurope' }, FAST_POLL);
    expect(topic.endpoint).toBe('https://orders.westeurope-1.eventgrid.azure.net/api/events');
    await eg.topicEventSubscriptions.beginCreateOrUpdateAndWait(RG, 'orders', 'all-orders', webhookSubscription('/orders'), FAST_POLL);
    const keys = await eg.topics.listSharedAccessKeys(RG, 'orders');
    const byKey = new EventGridPublisherClient(topic.endpoint!, 'EventGrid', new AzureKeyCredential(keys.key1!));
    await byKey.send([{ eventType: 'Contoso.Order.Created', subject: 'orders/1', dataVersion: '1.0', data: { id: 1 } }]);
    const sas = await generateSharedAccessSignature(topic.endpoint!, new AzureKeyCredential(keys.key2!), new Date(Date.now() + 600_000));
    const bySas = new EventGridPublisherClient(topic.endpoint!, 'EventGrid', new AzureSASCredential(sas));
    await bySas.send([{ eventType: 'Contoso.Order.Created', subject: 'orders/2', dataVersion: '1.0', data: { id: 2 } }]);
    const subjects = await until('both custom events', () => {
      const s = notifications('/orders').flatMap((r) => r.body.map((e: { subject: string }) => e.subject));
      return s.length >= 2 ? s : undefined;
    });
    expect(subjects.sort()).toEqual(['orders/1', 'orders/2']);
    const wrongKey = new EventGridPublisherClient(topic.endpoint!, 'EventGrid', new AzureKeyCredential('d3Jvbmc='));
    await expect(wrongKey.send([{ eventType: 'x', subject: 'y', dataVersion: '1', data: {} }])).rejects.toMatchObject({ statusCode: 401 });
  });
});
