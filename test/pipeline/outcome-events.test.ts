/**
 * Outcome events for every encryptVm run, on the host + simulator with a custom Event Grid topic
 * configured (ADE_OUTCOME_TOPIC_ENDPOINT): exactly one AdeAutopilot.VmEncrypted per encrypted VM and
 * one AdeAutopilot.EncryptionFailed per failed run go to the outcome-publishing activity — whether
 * vmWritten started the run or remediateVm ran it as a sub-orchestration (no second event from
 * remediateVm) — and skips publish nothing.
 *
 * Two records are checked: the publishing activity's own log of each event it sends ("outcome <type>
 * for <subject>"), and what actually arrives at a loopback webhook subscribed to the custom topic (the
 * app publishes with its managed identity's Entra token, which the simulator's Event Grid data plane
 * validates): each outcome is delivered exactly once, with an id no other run reuses.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId, remediationInstanceId } from '../../core/names';
import { EVENTS_RG, eventually, HUB_KEYS, startPipeline, VAULT_RG, type Pipeline, messageOf } from './harness';
import { expectEncrypted, publishedOutcomes } from './checks';

const TOPIC = 'ade-outcomes';
const TOPIC_ENDPOINT = `https://${TOPIC}.westeurope-1.eventgrid.azure.net/api/events`;

let p: Pipeline;
let webhook: Server;

interface DeliveredEvent {
  id: string;
  eventType: string;
  subject: string;
  data: { orchestration: string; reason: string };
}
/** Every event the topic's webhook subscription delivered, in arrival order. */
const delivered: DeliveredEvent[] = [];

/** Loopback subscriber: answers the validation handshake, records notifications. */
function startWebhook(): Promise<string> {
  webhook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]') as Array<
        DeliveredEvent & { data: { validationCode?: string } }
      >;
      if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ validationResponse: body[0]!.data.validationCode }));
      }
      delivered.push(...body);
      res.writeHead(200).end();
    });
  });
  return new Promise((resolve) =>
    webhook.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(webhook.address() as AddressInfo).port}/outcomes`)),
  );
}

/** Event types delivered for a VM, in arrival order. */
const deliveredFor = (vmId: string): string[] =>
  delivered.filter((e) => e.subject.toLowerCase() === vmId.toLowerCase()).map((e) => e.eventType);

/** Waits until the VM's outcome event arrived, then lets a duplicate (if any) arrive too. */
async function deliveriesFor(vmId: string): Promise<string[]> {
  await eventually(`an outcome event delivered for ${vmId}`, async () => (deliveredFor(vmId).length > 0 ? true : undefined), 30_000);
  await settle();
  return deliveredFor(vmId);
}

const publishedFor = (id: string) => publishedOutcomes(p, id);

/** Built-in role id (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#eventgrid-data-sender). */
const EVENTGRID_DATA_SENDER = 'd5a91429-5739-47e2-a06b-3470a27159e7';

beforeAll(async () => {
  p = await startPipeline({
    mode: 'single-pass',
    kek: false,
    settings: {
      ADE_OUTCOME_TOPIC_ENDPOINT: TOPIC_ENDPOINT,
      ADE_SECRET_EVENT_TIMEOUT_MINUTES: '5',
      ADE_ORCHESTRATION_TIMEOUT_MINUTES: '60',
    },
  });
  const topic = await p.eventGrid.topics.beginCreateOrUpdateAndWait(
    EVENTS_RG,
    TOPIC,
    { location: 'westeurope' },
    { updateIntervalInMs: 50 },
  );
  expect(topic.endpoint).toBe(TOPIC_ENDPOINT);
  // The operator's grant infra/README.md asks for (the template does not create the topic): EventGrid Data Sender on it.
  const credential = new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret);
  await new AuthorizationManagementClient(credential, p.subscriptionId).roleAssignments.create(topic.id!, crypto.randomUUID(), {
    roleDefinitionId: `/subscriptions/${p.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${EVENTGRID_DATA_SENDER}`,
    principalId: p.appObjectId,
    principalType: 'ServicePrincipal',
  });
  const endpointUrl = await startWebhook();
  await p.eventGrid.topicEventSubscriptions.beginCreateOrUpdateAndWait(
    EVENTS_RG,
    TOPIC,
    'outcomes-webhook',
    { destination: { endpointType: 'WebHook', endpointUrl } },
    { updateIntervalInMs: 50 },
  );
}, 180_000);
afterAll(async () => {
  await p?.stop();
  await new Promise((r) => webhook?.close(r));
});

/** Gives a duplicate publish (a second activity run right behind the first) time to show up. */
const settle = (ms = 750) => new Promise((r) => setTimeout(r, ms));

describe('outcome events of encryptVm (custom topic configured)', () => {
  let vaultName = '';
  let firstVmId = '';

  it('a VM encrypted through vmWritten → exactly one AdeAutopilot.VmEncrypted, sent by encryptVm', async () => {
    const vmId = (firstVmId = await p.createVm('outcome-ok', { os: 'Windows' }));
    const status = await expectEncrypted(p, { vmId, os: 'Windows', mode: 'single-pass', kek: false });
    vaultName = status.output.vaultName;
    expect(status.input).toMatchObject({ publishOutcome: true });
    expect(status.output.outcomeEvent).toMatchObject({ eventType: 'AdeAutopilot.VmEncrypted' });
    await settle();
    expect(publishedFor(vmId)).toEqual(['AdeAutopilot.VmEncrypted']);
    expect(await deliveriesFor(vmId)).toEqual(['AdeAutopilot.VmEncrypted']);
    expect(delivered.find((e) => e.subject === vmId)?.data).toMatchObject({
      orchestration: 'encryptVm',
      reason: expect.stringMatching(/^encrypted and verified/),
    });
    const line = p.host.logs.find((l) => messageOf(l).startsWith(`outcome AdeAutopilot.VmEncrypted for ${vmId}`));
    expect(line ? messageOf(line) : '').toMatch(
      /encrypted and verified \(single-pass, vault adeap-[a-z0-9-]+, secret seen by (event|polling)\)/,
    );
  }, 120_000);

  it('a failed run → exactly one AdeAutopilot.EncryptionFailed carrying the reason', async () => {
    const kv = new KeyVaultManagementClient(
      new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret),
      p.subscriptionId,
    );
    await kv.vaults.update(VAULT_RG, vaultName, { properties: { enabledForDiskEncryption: false } });
    try {
      const vmId = await p.createVm('outcome-fail', { os: 'Linux' });
      const instanceId = orchestrationInstanceId(vmId);
      await eventually('the run to start', () => p.getInstance(instanceId));
      const status = await p.waitForInstance(instanceId, 90_000);
      expect(status.output).toMatchObject({ vmId, outcome: 'failed', outcomeEvent: { eventType: 'AdeAutopilot.EncryptionFailed' } });
      await settle();
      expect(publishedFor(vmId)).toEqual(['AdeAutopilot.EncryptionFailed']);
      expect(await deliveriesFor(vmId)).toEqual(['AdeAutopilot.EncryptionFailed']);
      expect(delivered.find((e) => e.subject === vmId)?.data.reason).toBe(status.output.reason);
      expect(
        p.host.logs.some((l) => messageOf(l).startsWith(`outcome AdeAutopilot.EncryptionFailed for ${vmId}: ${status.output.reason}`)),
      ).toBe(true);
    } finally {
      await kv.vaults.update(VAULT_RG, vaultName, { properties: { enabledForDiskEncryption: true } });
    }
  }, 120_000);

  it('skips and already-encrypted runs publish nothing', async () => {
    const res = await p.host.fetch(`/api/vms/encrypt?code=${HUB_KEYS.function}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vmId: firstVmId }),
    });
    expect(res.status).toBe(202);
    const status = await eventually(
      'the re-run to finish',
      async () => {
        const s = await p.getInstance(orchestrationInstanceId(firstVmId));
        return s && s.runtimeStatus === 'Completed' && s.output?.outcome === 'already-encrypted' ? s : undefined;
      },
      60_000,
    );
    expect(status.input).toMatchObject({ publishOutcome: true });
    expect(status.output.outcomeEvent).toBeUndefined();
    await settle();
    expect(publishedFor(firstVmId)).toEqual(['AdeAutopilot.VmEncrypted']); // still only the first run's
    expect(deliveredFor(firstVmId)).toEqual(['AdeAutopilot.VmEncrypted']);
  }, 120_000);

  it('remediateVm running encryptVm as its sub-orchestration → one VmEncrypted (from encryptVm), none from remediateVm', async () => {
    // Without the Resource Manager subscription vmWritten stays quiet: only the heal request starts work.
    await p.eventGrid.systemTopicEventSubscriptions.beginDeleteAndWait(EVENTS_RG, 'subscription-events', 'vm-written', {
      updateIntervalInMs: 50,
    });
    const vmId = await p.createVm('outcome-heal', { os: 'Linux' });
    const res = await p.host.fetch(`/api/vms/heal?code=${HUB_KEYS.function}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vmId }),
    });
    expect(res.status).toBe(202);
    const remediation = await p.waitForInstance(remediationInstanceId(vmId), 90_000);
    expect(remediation.output).toMatchObject({ action: 'encrypt', result: 'succeeded' });
    const sub = (await p.listInstances()).find((i) => i.name === 'encryptVm' && i.input?.vmId === vmId);
    expect(sub?.input).toMatchObject({ publishOutcome: true });
    expect(sub?.output).toMatchObject({ outcome: 'encrypted', outcomeEvent: { eventType: 'AdeAutopilot.VmEncrypted' } });
    await settle();
    expect(publishedFor(vmId)).toEqual(['AdeAutopilot.VmEncrypted']);
    expect(await deliveriesFor(vmId)).toEqual(['AdeAutopilot.VmEncrypted']);
    expect(delivered.find((e) => e.subject === vmId)?.data.orchestration).toBe('encryptVm');
  }, 120_000);

  it('every delivered outcome event has its own id (subscribers that de-duplicate on it drop nothing)', () => {
    expect(delivered.length).toBe(3);
    expect(new Set(delivered.map((e) => e.id)).size).toBe(delivered.length);
  });
});
