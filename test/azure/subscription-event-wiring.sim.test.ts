/**
 * The event wiring of discovered subscriptions (ADE_EVENT_WIRING=auto) over the simulator, through the official SDKs
 * and the `ensureSubscriptionEvents` activity, with the app identity holding exactly what the templates grant: the event
 * wiring role of infra/management-group-roles.json at the group and Managed Identity Operator on its own identity
 * (infra/main.json eventWiring=auto). Both topics: Resource Manager (`vm-written`, `arm-drift`) and Policy Insights
 * (`policy-states`, with policy definitions configured).
 */
import { randomUUID } from 'node:crypto';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ClientSecretCredential } from '@azure/identity';
import { EventGridManagementClient } from '@azure/arm-eventgrid';
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameSubscription, SubscriptionEventWiringAdapter } from '../../azure/subscription-event-wiring';
import {
  POLICY_EVENTS_TOPIC_NAME,
  policyEventSubscriptions,
  RESOURCE_EVENTS_TOPIC_NAME,
  resourceEventSubscriptions,
} from '../../core/events/subscription-wiring';
import { createEventWiringActivities } from '../../orchestrations/event-wiring-activities';
import { grantManagementGroupRoles, managementGroupRoles } from './management-group-grants';
import { startSimHarness, type SimHarness } from './sim-harness';

const GROUP = 'mg-wiring';
const POLICY_IDS = ['/providers/Microsoft.Authorization/policyDefinitions/3dc5edcd-002d-444c-b216-e123bbfa37c0'];
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

function settings(extra: Partial<{ identityResourceId: string; policyDefinitionIds: string[] }> = {}) {
  return {
    functionAppResourceId: `/subscriptions/${home}/resourceGroups/rg-app/providers/Microsoft.Web/sites/func-ade`,
    identityResourceId: identityId,
    deadLetter: {
      storageAccountId: `/subscriptions/${home}/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stadeapp`,
      containerName: 'eventgrid-deadletter',
    },
    vaultResourceGroup: VAULT_RG,
    policyDefinitionIds: POLICY_IDS,
    resourceGroup: VAULT_RG,
    location: 'westeurope',
    ...extra,
  };
}

function activityFor(p: Principal, options: { dryRun?: boolean; policyDefinitionIds?: string[] } = {}) {
  return createEventWiringActivities({
    subscriptionEvents: new SubscriptionEventWiringAdapter(credentialOf(p), { pollIntervalMs: 50 }),
    settings: settings(options.policyDefinitionIds ? { policyDefinitionIds: options.policyDefinitionIds } : {}),
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
  for (let i = 0; i < 6; i++) {
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
        policy: { topic: { action: 'would-create' }, subscriptions: [{ name: 'policy-states', action: 'would-create' }] },
      },
    });
    expect(result.ok && result.value.policy?.topic.id).toMatch(
      new RegExp(`/resourceGroups/${VAULT_RG}/providers/Microsoft\\.EventGrid/systemTopics/${POLICY_EVENTS_TOPIC_NAME}$`),
    );
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

  it("creates the group, both topics with the app's identity and the template's subscriptions; a second run changes nothing", async () => {
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
        policy: { topic: { action: 'created' }, subscriptions: [{ name: 'policy-states', action: 'created' }] },
      },
    });
    const topics = await topicsIn(subs[0]!);
    expect(topics.map((t) => [t.name, t.topicType]).sort()).toEqual([
      [POLICY_EVENTS_TOPIC_NAME, 'Microsoft.PolicyInsights.PolicyStates'],
      [RESOURCE_EVENTS_TOPIC_NAME, 'Microsoft.Resources.Subscriptions'],
    ]);
    for (const topic of topics) {
      expect(topic.id!.toLowerCase()).toContain(`/resourcegroups/${VAULT_RG}/`.toLowerCase());
      expect(Object.keys(topic.identity?.userAssignedIdentities ?? {})).toEqual([identityId]);
    }
    const client = new EventGridManagementClient(admin, subs[0]!);
    for (const [topicName, planned] of [
      ...resourceEventSubscriptions(settings()).map((s) => [RESOURCE_EVENTS_TOPIC_NAME, s] as const),
      ...policyEventSubscriptions(settings()).map((s) => [POLICY_EVENTS_TOPIC_NAME, s] as const),
    ]) {
      const live = await client.systemTopicEventSubscriptions.get(VAULT_RG, topicName, planned.name);
      expect(sameSubscription(live, planned.properties), planned.name).toBe(true);
    }
    const policyStates = await client.systemTopicEventSubscriptions.get(VAULT_RG, POLICY_EVENTS_TOPIC_NAME, 'policy-states');
    expect(policyStates.filter?.advancedFilters).toEqual(
      expect.arrayContaining([expect.objectContaining({ key: 'data.policyDefinitionId', values: POLICY_IDS })]),
    );
    const second = await ensure({ subscriptionId: subs[0]! });
    expect(second).toMatchObject({
      ok: true,
      value: {
        topic: { action: 'reused' },
        subscriptions: [
          { name: 'vm-written', action: 'unchanged' },
          { name: 'arm-drift', action: 'unchanged' },
        ],
        policy: { topic: { action: 'reused' }, subscriptions: [{ name: 'policy-states', action: 'unchanged' }] },
      },
    });
    expect(second.ok && second.value.resourceGroup).toBeFalsy();
    expect(second.ok && second.value.topic.identity).toBeUndefined();
    expect(second.ok && second.value.policy?.topic.identity).toBeUndefined();
  });

  it("reuses the subscription's topics in another group, adds the app's identity and puts the subscriptions there", async () => {
    const sub = subs[1]!;
    await new ResourceManagementClient(admin, sub).resourceGroups.createOrUpdate('rg-platform', { location: 'westeurope' });
    for (const [name, topicType] of [
      ['platform-arm-events', 'Microsoft.Resources.Subscriptions'],
      ['platform-policy-events', 'Microsoft.PolicyInsights.PolicyStates'],
    ] as const)
      await new EventGridManagementClient(admin, sub).systemTopics.beginCreateOrUpdateAndWait(
        'rg-platform',
        name,
        { location: 'global', source: `/subscriptions/${sub}`, topicType },
        { updateIntervalInMs: 50 },
      );
    const app = await appPrincipal({ eventWiringRole: true, identityOperator: true });
    const result = await activityFor(app)({ subscriptionId: sub });
    expect(result).toMatchObject({
      ok: true,
      value: {
        topic: { action: 'reused', identity: 'added' },
        subscriptions: [{ action: 'created' }, { action: 'created' }],
        policy: { topic: { action: 'reused', identity: 'added' }, subscriptions: [{ name: 'policy-states', action: 'created' }] },
      },
    });
    expect(result.ok && result.value.topic.id).toMatch(
      /\/resourceGroups\/rg-platform\/providers\/Microsoft\.EventGrid\/systemTopics\/platform-arm-events$/,
    );
    expect(result.ok && result.value.policy?.topic.id).toMatch(
      /\/resourceGroups\/rg-platform\/providers\/Microsoft\.EventGrid\/systemTopics\/platform-policy-events$/,
    );
    expect((await topicsIn(sub)).map((t) => t.name).sort()).toEqual(['platform-arm-events', 'platform-policy-events']);
    expect(await groupExists(sub, VAULT_RG)).toBe(false);
    const client = new EventGridManagementClient(admin, sub);
    const live = await client.systemTopicEventSubscriptions.get('rg-platform', 'platform-arm-events', 'vm-written');
    expect(sameSubscription(live, resourceEventSubscriptions(settings())[0]!.properties)).toBe(true);
    const policy = await client.systemTopicEventSubscriptions.get('rg-platform', 'platform-policy-events', 'policy-states');
    expect(sameSubscription(policy, policyEventSubscriptions(settings())[0]!.properties)).toBe(true);
    expect(
      Object.keys((await client.systemTopics.get('rg-platform', 'platform-policy-events')).identity?.userAssignedIdentities ?? {}),
    ).toEqual([identityId]);
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

  it('no policy definition configured: the Policy Insights topic is left alone', async () => {
    const sub = subs[4]!;
    const app = await appPrincipal({ eventWiringRole: true, identityOperator: true });
    const result = await activityFor(app, { policyDefinitionIds: [] })({ subscriptionId: sub });
    expect(result).toMatchObject({ ok: true, value: { topic: { action: 'created' } } });
    expect(result.ok && result.value.policy).toBeUndefined();
    expect((await topicsIn(sub)).map((t) => t.name)).toEqual([RESOURCE_EVENTS_TOPIC_NAME]);
  });

  it('without eventSubscriptions/write at the source (the subscription) the policy-states subscription is refused', async () => {
    const sub = subs[5]!;
    // Everything of the event wiring role but the action Event Grid checks at a system topic's source
    // (https://learn.microsoft.com/azure/event-grid/security-authorization#permissions-for-event-subscriptions).
    const role = managementGroupRoles().get('eventWiringRoleName')!;
    const actions = (role.properties.permissions as Array<{ actions: string[] }>)[0]!.actions;
    expect(actions).toContain('Microsoft.EventGrid/eventSubscriptions/write');
    const app = await appPrincipal({ eventWiringRole: false, identityOperator: true });
    const authz = new AuthorizationManagementClient(admin, sub);
    const roleId = randomUUID();
    await authz.roleDefinitions.createOrUpdate(`/subscriptions/${sub}`, roleId, {
      roleName: `event wiring without source check ${roleId.slice(0, 8)}`,
      roleType: 'CustomRole',
      permissions: [{ actions: actions.filter((a) => a !== 'Microsoft.EventGrid/eventSubscriptions/write') }],
      assignableScopes: [`/subscriptions/${sub}`],
    });
    await authz.roleAssignments.create(`/subscriptions/${sub}`, randomUUID(), {
      roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`,
      principalId: app.objectId,
      principalType: 'ServicePrincipal',
    });
    // The Resource Manager topic's subscriptions are in place already (an earlier run), so only policy-states is written.
    const wired = await appPrincipal({ eventWiringRole: true, identityOperator: true });
    expect(await activityFor(wired, { policyDefinitionIds: [] })({ subscriptionId: sub })).toMatchObject({ ok: true });
    const refused = await activityFor(app)({ subscriptionId: sub });
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.error.kind).toBe('permission');
      expect(refused.error.message).toMatch(/policy-states/);
      expect(refused.error.message).toMatch(/Microsoft\.EventGrid\/eventSubscriptions\/write/);
    }
    expect((await topicsIn(sub)).map((t) => t.name).sort()).toEqual([POLICY_EVENTS_TOPIC_NAME, RESOURCE_EVENTS_TOPIC_NAME]);
    const onPolicyTopic: string[] = [];
    for await (const s of new EventGridManagementClient(admin, sub).systemTopicEventSubscriptions.listBySystemTopic(
      VAULT_RG,
      POLICY_EVENTS_TOPIC_NAME,
    ))
      onPolicyTopic.push(s.name!);
    expect(onPolicyTopic).toEqual([]);
  });
});
