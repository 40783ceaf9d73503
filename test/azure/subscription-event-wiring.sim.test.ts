/**
 * The event wiring of discovered subscriptions (ADE_EVENT_WIRING=auto) over the simulator, through the official SDKs
 * and the `ensureSubscriptionEvents` activity, with the app identity holding exactly what the templates grant: the event
 * wiring role of infra/management-group-roles.json at the group and Managed Identity Operator on its own identity
 * (infra/main.json eventWiring=auto).
 */
import { randomUUID } from 'node:crypto';
import { ClientSecretCredential } from '@azure/identity';
import { EventGridManagementClient } from '@azure/arm-eventgrid';
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameSubscription, SubscriptionEventWiringAdapter } from '../../azure/subscription-event-wiring';
import { RESOURCE_EVENTS_TOPIC_NAME, resourceEventSubscriptions } from '../../core/events/subscription-wiring';
import { createEventWiringActivities } from '../../orchestrations/event-wiring-activities';
import { grantManagementGroupRoles } from './management-group-grants';
import { startSimHarness, type SimHarness } from './sim-harness';

const GROUP = 'mg-wiring';
const VAULT_RG = 'rg-ade-vaults';
let h: SimHarness;
let home: string;
let admin: ClientSecretCredential;
let identityId: string;
const subs: string[] = [];
const logs: Array<{ level: string; message: string }> = [];

interface Principal {
  tenantId: string;
  clientId: string;
  objectId: string;
  clientSecret: string;
}

async function principal(name: string, roles: Array<{ roleName: string; scope: string }> = []): Promise<Principal> {
  return h.control<Principal>('POST', '/_sim/principals', { displayName: name, roles });
}

const credentialOf = (p: Principal) => new ClientSecretCredential(p.tenantId, p.clientId, p.clientSecret);

function settings(extra: Partial<{ identityResourceId: string }> = {}) {
  return {
    functionAppResourceId: `/subscriptions/${home}/resourceGroups/rg-app/providers/Microsoft.Web/sites/func-ade`,
    identityResourceId: identityId,
    deadLetter: {
      storageAccountId: `/subscriptions/${home}/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stadeapp`,
      containerName: 'eventgrid-deadletter',
    },
    vaultResourceGroup: VAULT_RG,
    policyDefinitionIds: [],
    resourceGroup: VAULT_RG,
    location: 'westeurope',
    ...extra,
  };
}

function activityFor(p: Principal, options: { dryRun?: boolean } = {}) {
  return createEventWiringActivities({
    subscriptionEvents: new SubscriptionEventWiringAdapter(credentialOf(p), { pollIntervalMs: 50 }),
    settings: settings(),
    discovered: () => subs,
    dryRun: options.dryRun ?? false,
    log: (level, message) => logs.push({ level, message }),
  }).ensureSubscriptionEvents;
}

async function topicsIn(subscriptionId: string) {
  const out = [];
  for await (const t of new EventGridManagementClient(admin, subscriptionId).systemTopics.listBySubscription()) out.push(t);
  return out;
}

async function groupExists(subscriptionId: string, name: string): Promise<boolean> {
  return (await new ResourceManagementClient(admin, subscriptionId).resourceGroups.checkExistence(name)).body;
}

/** An app identity with the event wiring role at the group and, unless told otherwise, Managed Identity Operator on itself. */
async function appPrincipal(options: { eventWiringRole: boolean; identityOperator: boolean }): Promise<Principal> {
  const p = await principal(
    `app-${randomUUID().slice(0, 8)}`,
    options.identityOperator ? [{ roleName: 'Managed Identity Operator', scope: identityId }] : [],
  );
  if (options.eventWiringRole)
    await grantManagementGroupRoles({ admin, subscriptionId: home, group: GROUP, principalId: p.objectId, roles: ['eventWiringRoleName'] });
  return p;
}

beforeAll(async () => {
  h = await startSimHarness();
  await h.fastDurations(50);
  home = h.sim.seed.subscriptionId;
  identityId = `/subscriptions/${home}/resourceGroups/rg-app/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-ade`;
  for (let i = 0; i < 4; i++) {
    const subscriptionId = randomUUID();
    await h.control('POST', '/_sim/arm/subscriptions', { subscriptionId, tenantId: h.sim.seed.tenantId });
    subs.push(subscriptionId);
  }
  await h.control('POST', '/_sim/arm/managementgroups', { name: GROUP, subscriptions: subs });
  // The destination function app exists (Event Grid refuses an AzureFunction endpoint that does not); nothing is delivered here.
  await h.control('PUT', '/_sim/arm/eventgrid/functionApps', { name: settings().functionAppResourceId, url: 'http://127.0.0.1:9' });
  const a = await principal('mg-admin', [{ roleName: 'Owner', scope: `/subscriptions/${home}` }]);
  await h.control('POST', '/_sim/arm/roleassignments', {
    principalId: a.objectId,
    roleName: 'Owner',
    scope: `/providers/Microsoft.Management/managementGroups/${GROUP}`,
  });
  admin = credentialOf(a);
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

describe('event wiring of a discovered subscription', () => {
  it('dry run: reports what it would create and writes nothing', async () => {
    const app = await appPrincipal({ eventWiringRole: true, identityOperator: true });
    const result = await activityFor(app, { dryRun: true })({ subscriptionId: subs[0]! });
    expect(result).toMatchObject({
      ok: true,
      value: {
        dryRun: true,
        resourceGroup: 'would-create',
        topic: { action: 'would-create' },
        subscriptions: [
          { name: 'vm-written', action: 'would-create' },
          { name: 'arm-drift', action: 'would-create' },
        ],
      },
    });
    expect(await topicsIn(subs[0]!)).toEqual([]);
    expect(await groupExists(subs[0]!, VAULT_RG)).toBe(false);
  });

  it('without the event wiring role: refused with the reason, nothing created', async () => {
    const app = await appPrincipal({ eventWiringRole: false, identityOperator: true });
    logs.length = 0;
    const result = await activityFor(app)({ subscriptionId: subs[0]! });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.kind).toBe('permission');
    expect(result.error.message).toMatch(/lacks the event wiring role/);
    expect(result.error.message).toMatch(/AuthorizationFailed|Microsoft\.EventGrid\/systemTopics\/read/);
    expect(logs.some((l) => l.level === 'error' && l.message.includes('event wiring role'))).toBe(true);
    expect(await topicsIn(subs[0]!)).toEqual([]);
    expect(await groupExists(subs[0]!, VAULT_RG)).toBe(false);
  });

  it("creates the group, the topic with the app's identity and the template's subscriptions; a second run changes nothing", async () => {
    const app = await appPrincipal({ eventWiringRole: true, identityOperator: true });
    const ensure = activityFor(app);
    const first = await ensure({ subscriptionId: subs[0]! });
    expect(first).toMatchObject({
      ok: true,
      value: {
        resourceGroup: 'created',
        topic: { action: 'created' },
        subscriptions: [
          { name: 'vm-written', action: 'created' },
          { name: 'arm-drift', action: 'created' },
        ],
      },
    });
    const topics = await topicsIn(subs[0]!);
    expect(topics.map((t) => t.name)).toEqual([RESOURCE_EVENTS_TOPIC_NAME]);
    expect(topics[0]!.id!.toLowerCase()).toContain(`/resourcegroups/${VAULT_RG}/`.toLowerCase());
    expect(Object.keys(topics[0]!.identity?.userAssignedIdentities ?? {})).toEqual([identityId]);
    const client = new EventGridManagementClient(admin, subs[0]!);
    for (const planned of resourceEventSubscriptions(settings())) {
      const live = await client.systemTopicEventSubscriptions.get(VAULT_RG, RESOURCE_EVENTS_TOPIC_NAME, planned.name);
      expect(sameSubscription(live, planned.properties), planned.name).toBe(true);
    }
    const second = await ensure({ subscriptionId: subs[0]! });
    expect(second).toMatchObject({
      ok: true,
      value: {
        topic: { action: 'reused' },
        subscriptions: [
          { name: 'vm-written', action: 'unchanged' },
          { name: 'arm-drift', action: 'unchanged' },
        ],
      },
    });
    expect(second.ok && second.value.resourceGroup).toBeFalsy();
    expect(second.ok && second.value.topic.identity).toBeUndefined();
  });

  it("reuses the subscription's topic in another group, adds the app's identity and puts the subscriptions there", async () => {
    const sub = subs[1]!;
    await new ResourceManagementClient(admin, sub).resourceGroups.createOrUpdate('rg-platform', { location: 'westeurope' });
    await new EventGridManagementClient(admin, sub).systemTopics.beginCreateOrUpdateAndWait(
      'rg-platform',
      'platform-arm-events',
      { location: 'global', source: `/subscriptions/${sub}`, topicType: 'Microsoft.Resources.Subscriptions' },
      { updateIntervalInMs: 50 },
    );
    const app = await appPrincipal({ eventWiringRole: true, identityOperator: true });
    const result = await activityFor(app)({ subscriptionId: sub });
    expect(result).toMatchObject({
      ok: true,
      value: { topic: { action: 'reused', identity: 'added' }, subscriptions: [{ action: 'created' }, { action: 'created' }] },
    });
    expect(result.ok && result.value.topic.id).toMatch(
      /\/resourceGroups\/rg-platform\/providers\/Microsoft\.EventGrid\/systemTopics\/platform-arm-events$/,
    );
    expect((await topicsIn(sub)).map((t) => t.name)).toEqual(['platform-arm-events']);
    expect(await groupExists(sub, VAULT_RG)).toBe(false);
    const live = await new EventGridManagementClient(admin, sub).systemTopicEventSubscriptions.get(
      'rg-platform',
      'platform-arm-events',
      'vm-written',
    );
    expect(sameSubscription(live, resourceEventSubscriptions(settings())[0]!.properties)).toBe(true);
  });

  it('without Managed Identity Operator on its identity the topic is refused (assign/action); once granted, it completes', async () => {
    const sub = subs[2]!;
    const app = await appPrincipal({ eventWiringRole: true, identityOperator: false });
    const refused = await activityFor(app)({ subscriptionId: sub });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.message).toMatch(/Microsoft\.ManagedIdentity\/userAssignedIdentities\/assign\/action/);
    expect(await topicsIn(sub)).toEqual([]);
    await h.control('POST', '/_sim/arm/roleassignments', {
      principalId: app.objectId,
      roleName: 'Managed Identity Operator',
      scope: identityId,
    });
    const retried = await activityFor(app)({ subscriptionId: sub });
    expect(retried).toMatchObject({ ok: true, value: { topic: { action: 'created' } } });
  });

  it('refuses a subscription the app did not discover, and does nothing with the option off', async () => {
    const app = await appPrincipal({ eventWiringRole: true, identityOperator: true });
    const notDiscovered = await activityFor(app)({ subscriptionId: home });
    expect(notDiscovered).toMatchObject({ ok: false, error: { kind: 'validation' } });
    expect(!notDiscovered.ok && notDiscovered.error.message).toMatch(/not one the app discovered/);
    const off = await createEventWiringActivities({ discovered: () => subs, dryRun: false, log: () => undefined }).ensureSubscriptionEvents(
      {
        subscriptionId: subs[3]!,
      },
    );
    expect(off).toMatchObject({ ok: false, error: { kind: 'validation' } });
    expect(await topicsIn(subs[3]!)).toEqual([]);
  });
});
