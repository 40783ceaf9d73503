/**
 * A subscription under ADE_SCOPE's management group that the vault group's roles (infra/main.json, per subscription in
 * targetSubscriptionIds) do not reach yet: the Compute roles come from infra/management-group-roles.json at the group,
 * so the sweep finds its VM and its Uniform scale set, but Resource Manager refuses the vault (403 AuthorizationFailed).
 * Both runs (encryptVm, encryptVmss) end action-required with an ActionRequired event naming the subscription and the
 * command that grants the roles, and leave nothing behind. Once the operator re-runs the templates with the subscription
 * in targetSubscriptionIds (the roles, and its Resource Manager events wired to vmWritten), a write to the VM (a tag
 * update) starts a run that encrypts it, and the next sweep encrypts the scale set.
 */
import { randomUUID } from 'node:crypto';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ClientSecretCredential } from '@azure/identity';
import { ComputeManagementClient } from '@azure/arm-compute';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventGridManagementClient } from '@azure/arm-eventgrid';
import { EVENT_ROUTES } from '../../core/events/routes';
import { orchestrationInstanceId, scaleSetInstanceId } from '../../core/names';
import { grantManagementGroupRoles } from '../azure/management-group-grants';
import { uniformScaleSet } from '../fixtures/scale-set-bodies';
import { EVENTS_RG, HUB_KEYS, startPipeline, VAULT_RG, type InstanceStatus, type Pipeline } from './harness';
import { createLinuxVmIn, publishedOutcomes } from './checks';

const GROUP = 'mg-vault-roles';
const TOPIC = 'ade-outcomes';
const TOPIC_ENDPOINT = `https://${TOPIC}.westeurope-1.eventgrid.azure.net/api/events`;
/** Built-in role id (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#eventgrid-data-sender). */
const EVENTGRID_DATA_SENDER = 'd5a91429-5739-47e2-a06b-3470a27159e7';
let p: Pipeline;
let user: ClientSecretCredential;
/**
 * [granted, missing, partial]: the first holds main.json's vault-group roles, the second only the group's Compute roles,
 * the third Key Vault Contributor but not EventGrid Contributor (the vault is created, its event subscription refused).
 */
const subs: string[] = [];

async function newSubscription(): Promise<string> {
  const subscriptionId = randomUUID();
  await p.control('POST', '/_sim/arm/subscriptions', { subscriptionId, tenantId: p.sim.seed.tenantId });
  for (const rg of ['rg-work', VAULT_RG])
    await p.control('PUT', `/_sim/arm/subscriptions/${subscriptionId}/resourceGroups/${rg}`, { location: 'westeurope' });
  return subscriptionId;
}

async function grantVaultGroupRoles(subscriptionId: string, roles = ['Key Vault Contributor', 'EventGrid Contributor']): Promise<void> {
  for (const roleName of roles)
    await p.control('POST', '/_sim/arm/roleassignments', {
      principalId: p.appObjectId,
      roleName,
      scope: `/subscriptions/${subscriptionId}/resourceGroups/${VAULT_RG}`,
    });
}

const createLinuxVm = (subscriptionId: string, name: string) => createLinuxVmIn(user, subscriptionId, name);

/**
 * What infra/event-subscriptions.json deploys in a subscription in targetSubscriptionIds: its Resource Manager system topic
 * and the `vm-written` subscription to the app's vmWritten function (as the harness wires the home subscription).
 */
async function wireVmWritten(subscriptionId: string): Promise<void> {
  const eventGrid = new EventGridManagementClient(user, subscriptionId);
  await eventGrid.systemTopics.beginCreateOrUpdateAndWait(
    VAULT_RG,
    'subscription-events',
    { location: 'global', source: `/subscriptions/${subscriptionId}`, topicType: 'Microsoft.Resources.Subscriptions' },
    { updateIntervalInMs: 50 },
  );
  await eventGrid.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
    VAULT_RG,
    'subscription-events',
    'vm-written',
    {
      destination: {
        endpointType: 'WebHook',
        endpointUrl: `${p.host.baseUrl}/runtime/webhooks/eventgrid?functionName=vmWritten&code=${HUB_KEYS.eventGrid}`,
        maxEventsPerBatch: 1,
      } as never,
      filter: {
        includedEventTypes: [...EVENT_ROUTES.vmWritten.eventTypes],
        advancedFilters: [
          { operatorType: 'StringIn', key: 'data.operationName', values: [...EVENT_ROUTES.vmWritten.operationNames] } as never,
        ],
      },
    },
    { updateIntervalInMs: 50 },
  );
}

/** Waits for a run of `instanceId` newer than `after` (the previous run's createdTime) to start, then to end. */
async function nextRun(instanceId: string, after: string | undefined): Promise<InstanceStatus> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await p.getInstance(instanceId);
    if (now && now.createdTime !== after) break;
    if (Date.now() > deadline) throw new Error(`no run started for ${instanceId}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return p.waitForInstance(instanceId, 120_000);
}

/**
 * Runs the backfill sweep (POST /api/sweep, as an operator or the schedule would) and waits for each run (a run newer
 * than `after`, the previous run's createdTime) to end: a VM's encryptVm, or a scale set's encryptVmss.
 */
async function sweepAndWait(targets: Array<{ vmId?: string; scaleSetId?: string; after?: string }>): Promise<InstanceStatus[]> {
  const res = await p.host.fetch(`/api/sweep?code=${HUB_KEYS.master}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status, await res.clone().text()).toBe(202);
  const sweep = (await res.json()) as { instanceId: string };
  expect((await p.waitForInstance(sweep.instanceId, 60_000)).runtimeStatus).toBe('Completed');
  const out: InstanceStatus[] = [];
  for (const { vmId, scaleSetId, after } of targets)
    out.push(await nextRun(scaleSetId ? scaleSetInstanceId(scaleSetId) : orchestrationInstanceId(vmId!), after));
  return out;
}

async function vaultsIn(subscriptionId: string): Promise<string[]> {
  const names: string[] = [];
  for await (const v of new KeyVaultManagementClient(user, subscriptionId).vaults.listByResourceGroup(VAULT_RG)) names.push(v.name!);
  return names;
}

async function hasAdeExtension(subscriptionId: string, name: string): Promise<boolean> {
  const vm = await new ComputeManagementClient(user, subscriptionId).virtualMachines.get('rg-work', name);
  return (vm.resources ?? []).some((r) => r.typePropertiesType === 'AzureDiskEncryptionForLinux');
}

const publishedFor = (id: string) => publishedOutcomes(p, id);

/** The extensions on a scale set's model. */
async function scaleSetExtensions(subscriptionId: string, name: string): Promise<Array<string | undefined>> {
  const set = await new ComputeManagementClient(user, subscriptionId).virtualMachineScaleSets.get('rg-work', name);
  return (set.virtualMachineProfile?.extensionProfile?.extensions ?? []).map((e) => e.typePropertiesType);
}

beforeAll(async () => {
  p = await startPipeline({
    mode: 'single-pass',
    kek: false,
    settings: {
      ADE_SCOPE: `/providers/Microsoft.Management/managementGroups/${GROUP}`,
      ADE_SWEEP_SCHEDULE: 'off',
      ADE_OUTCOME_TOPIC_ENDPOINT: TOPIC_ENDPOINT,
    },
  });
  user = new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret);
  // The outcome topic and the operator's EventGrid Data Sender grant on it (infra/README.md), as in outcome-events.test.ts.
  const topic = await p.eventGrid.topics.beginCreateOrUpdateAndWait(
    EVENTS_RG,
    TOPIC,
    { location: 'westeurope' },
    { updateIntervalInMs: 50 },
  );
  await new AuthorizationManagementClient(user, p.subscriptionId).roleAssignments.create(topic.id!, randomUUID(), {
    roleDefinitionId: `/subscriptions/${p.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${EVENTGRID_DATA_SENDER}`,
    principalId: p.appObjectId,
    principalType: 'ServicePrincipal',
  });
  subs.push(await newSubscription(), await newSubscription(), await newSubscription());
  await p.control('POST', '/_sim/arm/managementgroups', { name: GROUP, subscriptions: subs });
  await p.control('POST', '/_sim/arm/roleassignments', {
    principalId: p.user.objectId,
    roleName: 'Owner',
    scope: `/providers/Microsoft.Management/managementGroups/${GROUP}`,
  });
  await grantManagementGroupRoles({
    admin: user,
    subscriptionId: p.subscriptionId,
    group: GROUP,
    principalId: p.appObjectId,
    roles: ['vmOperatorRoleName'],
  });
  await grantVaultGroupRoles(subs[0]!);
  await grantVaultGroupRoles(subs[2]!, ['Key Vault Contributor']);
}, 180_000);

afterAll(async () => {
  await p?.stop();
});

describe('a subscription under the management group without the vault group roles', () => {
  const vms: Record<'granted' | 'missing' | 'partial', string> = { granted: '', missing: '', partial: '' };
  /** A Uniform Linux scale set in the subscription without the roles (encryptVmss, the same vault step). */
  let scaleSetId = '';
  let first: InstanceStatus[];

  it('ends action-required naming the subscription and the grant, with nothing half-created', async () => {
    vms.granted = await createLinuxVm(subs[0]!, 'vm-granted');
    vms.missing = await createLinuxVm(subs[1]!, 'vm-missing');
    vms.partial = await createLinuxVm(subs[2]!, 'vm-partial');
    const set = await new ComputeManagementClient(user, subs[1]!).virtualMachineScaleSets.beginCreateOrUpdateAndWait(
      'rg-work',
      'ss-missing',
      uniformScaleSet('Linux', 'Automatic', { capacity: 1 }),
      { updateIntervalInMs: 50 },
    );
    scaleSetId = set.id!;
    first = await sweepAndWait([{ vmId: vms.granted }, { vmId: vms.missing }, { vmId: vms.partial }, { scaleSetId }]);
    // The subscription holding main.json's grants is encrypted as usual.
    expect(first[0]!.output, JSON.stringify(first[0]!.output)).toMatchObject({ outcome: 'encrypted' });
    for (const [i, sub, what] of [
      [1, subs[1]!, 'VM'],
      [2, subs[2]!, 'VM'],
      [3, subs[1]!, 'scale set'],
    ] as const) {
      const run = first[i]!;
      expect(run.runtimeStatus).toBe('Completed');
      expect(run.output, JSON.stringify(run.output)).toMatchObject({ outcome: 'action-required' });
      expect(String(run.output.reason)).toContain('AuthorizationFailed');
      expect(run.output.operatorAction).toContain(`add ${sub} to targetSubscriptionIds`);
      expect(run.output.operatorAction).toContain('az deployment sub create');
      expect(run.output.operatorAction).toMatch(new RegExp(`the next sweep or ${what} write then encrypts the ${what}$`));
      expect(run.customStatus).toMatchObject({ phase: 'done', detail: `action required: ${run.output.operatorAction}` });
      // The ActionRequired outcome event went out (with the same next step).
      expect(run.output.outcomeEvent).toEqual({ eventType: 'AdeAutopilot.ActionRequired', published: true });
    }
    expect(first[3]!.name).toBe('encryptVmss');
    expect(first[3]!.output.scaleSetId).toBe(scaleSetId);
    // The ActionRequired event names the scale set (its subject), and the VM's names the VM.
    expect(publishedFor(scaleSetId)).toEqual(['AdeAutopilot.ActionRequired']);
    expect(publishedFor(vms.missing)).toEqual(['AdeAutopilot.ActionRequired']);
    // No vault where Resource Manager refused it, nowhere an ADE extension; the partial grant's vault stays for reuse.
    expect(await vaultsIn(subs[1]!)).toEqual([]);
    expect(await vaultsIn(subs[2]!)).toHaveLength(1);
    expect(await hasAdeExtension(subs[1]!, 'vm-missing')).toBe(false);
    expect(await hasAdeExtension(subs[2]!, 'vm-partial')).toBe(false);
    expect(await scaleSetExtensions(subs[1]!, 'ss-missing')).toEqual([]);
  }, 300_000);

  it('once the operator re-ran the templates, a VM write encrypts the VM and the next sweep the rest', async () => {
    // The subscription in targetSubscriptionIds: main.json's vault-group roles, event-subscriptions.json's VM write events.
    await grantVaultGroupRoles(subs[1]!);
    await wireVmWritten(subs[1]!);
    await grantVaultGroupRoles(subs[2]!, ['EventGrid Contributor']);
    // A write to the VM (a tag update through the SDK: ResourceWriteSuccess → vmWritten) starts a run: the terminal
    // action-required run under the VM's instance id blocks no new start (functions/lib/start.ts startSingleton).
    await new ComputeManagementClient(user, subs[1]!).virtualMachines.beginUpdateAndWait(
      'rg-work',
      'vm-missing',
      { tags: { owner: 'ops' } },
      { updateIntervalInMs: 50 },
    );
    const written = await nextRun(orchestrationInstanceId(vms.missing), first[1]!.createdTime);
    expect(written.output, JSON.stringify(written.output)).toMatchObject({ outcome: 'encrypted' });
    expect(await hasAdeExtension(subs[1]!, 'vm-missing')).toBe(true);

    const vaultBefore = await vaultsIn(subs[2]!);
    const second = await sweepAndWait([
      { vmId: vms.partial, after: first[2]!.createdTime },
      { scaleSetId, after: first[3]!.createdTime },
    ]);
    for (const run of second) expect(run.output, JSON.stringify(run.output)).toMatchObject({ outcome: 'encrypted' });
    expect(second[0]!.output.vaultName).toBe(vaultBefore[0]);
    expect(second[1]!.output.instances).toEqual({ '0': 'encrypted' });
    expect(await hasAdeExtension(subs[2]!, 'vm-partial')).toBe(true);
    expect(await scaleSetExtensions(subs[1]!, 'ss-missing')).toEqual(['AzureDiskEncryptionForLinux']);
    expect(publishedFor(scaleSetId)).toEqual(['AdeAutopilot.ActionRequired', 'AdeAutopilot.VmEncrypted']);
    // The VM the write encrypted got no second run from the sweep.
    expect((await p.getInstance(orchestrationInstanceId(vms.missing)))!.createdTime).toBe(written.createdTime);
  }, 300_000);
});
