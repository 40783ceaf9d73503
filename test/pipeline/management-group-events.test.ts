/**
 * ADE_EVENT_WIRING=auto end to end: the app (a Flex Consumption Function App on the local host) has ADE_SCOPE = a
 * management group with two subscriptions, and exactly the grants of infra/main.json (eventWiring=auto) and
 * infra/management-group-roles.json (VM operator + event wiring roles at the group). The eventWiring timer wires both;
 * a third subscription moved into the group later gets its wiring at the next run, and a VM created there afterwards is
 * encrypted through the Resource Manager event → vmWritten (the sweep is off, and a VM created before the wiring is left
 * alone until Azure Policy reports it NonCompliant: that event reaches policyStates through the Policy Insights topic the
 * same wiring created, and the VM is encrypted).
 */
import { randomUUID } from 'node:crypto';
import { ClientSecretCredential } from '@azure/identity';
import { ComputeManagementClient } from '@azure/arm-compute';
import { EventGridManagementClient } from '@azure/arm-eventgrid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId, remediationInstanceId } from '../../core/names';
import { DEFAULT_POLICY_DEFINITION_IDS } from '../../core/remediation/settings';
import { templateRoleGrants } from '../../local/start/template-grants';
import { platformSiteResourceId, type PlatformOptions } from '../../local/host/runtime/platform';
import { EVENT_WIRING_INSTANCE_ID } from '../../orchestrations/event-wiring-contracts';
import { grantManagementGroupRoles } from '../azure/management-group-grants';
import { HUB_KEYS, startPipeline, VAULT_RG, type Pipeline } from './harness';
import { createLinuxVmIn } from './checks';

const PLATFORM: PlatformOptions = { plan: 'flex-consumption', resourceGroup: 'rg-ade-app', siteName: 'func-ade-mg' };
const GROUP = 'mg-fleet';
const MANAGED_IDENTITY_OPERATOR = 'f1a07417-d97a-45cb-824c-7a7467783830';
let p: Pipeline;
let user: ClientSecretCredential;
const inGroup: string[] = [];

/** The identity main.json creates, as its Managed Identity Operator grant names it (ADE_EVENTS_IDENTITY_RESOURCE_ID). */
function identityOf(subscriptionId: string): string {
  const grant = templateRoleGrants({ subscriptionId, parameters: { eventWiring: 'auto' } }).find(
    (g) => g.roleDefinitionGuid === MANAGED_IDENTITY_OPERATOR,
  );
  if (!grant) throw new Error('main.json grants no Managed Identity Operator with eventWiring=auto');
  return grant.scope;
}

async function newSubscription(): Promise<string> {
  const subscriptionId = randomUUID();
  await p.control('POST', '/_sim/arm/subscriptions', { subscriptionId, tenantId: p.sim.seed.tenantId });
  await p.control('PUT', `/_sim/arm/subscriptions/${subscriptionId}/resourceGroups/rg-work`, { location: 'westeurope' });
  return subscriptionId;
}

/** Runs the eventWiring timer now (the host's admin API, as `func` would) and returns the wiring run's output. */
async function runEventWiring(): Promise<{
  reports: Array<{ subscriptionId: string; topic: { action: string }; policy?: { topic: { action: string }; subscriptions: unknown[] } }>;
  failed: unknown[];
}> {
  const before = await p.getInstance(EVENT_WIRING_INSTANCE_ID);
  const res = await p.host.fetch(`/admin/functions/eventWiring?code=${HUB_KEYS.master}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status).toBe(202);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await p.getInstance(EVENT_WIRING_INSTANCE_ID);
    if (now && now.createdTime !== before?.createdTime && now.runtimeStatus === 'Completed') return now.output;
    if (now && ['Failed', 'Terminated'].includes(now.runtimeStatus)) throw new Error(`wiring run ${now.runtimeStatus}`);
    if (Date.now() > deadline) throw new Error(`no wiring run finished: ${JSON.stringify(now?.runtimeStatus)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const createLinuxVm = (subscriptionId: string, name: string) => createLinuxVmIn(user, subscriptionId, name);

beforeAll(async () => {
  p = await startPipeline({
    mode: 'single-pass',
    kek: false,
    platform: PLATFORM,
    grantParameters: { eventWiring: 'auto' },
    settings: {
      ADE_SCOPE: `/providers/Microsoft.Management/managementGroups/${GROUP}`,
      ADE_EVENT_WIRING: 'auto',
      ADE_EVENTS_LOCATION: 'westeurope',
      ADE_SWEEP_SCHEDULE: 'off',
    },
    settingsFor: (home) => ({
      ADE_EVENTS_IDENTITY_RESOURCE_ID: identityOf(home),
      ADE_DEAD_LETTER_CONTAINER_ID:
        `/subscriptions/${home}/resourceGroups/rg-ade-app/providers/Microsoft.Storage/storageAccounts/stademg` +
        '/blobServices/default/containers/eventgrid-deadletter',
    }),
  });
  user = new ClientSecretCredential(p.user.tenantId, p.user.clientId, p.user.clientSecret);
  inGroup.push(await newSubscription(), await newSubscription());
  await p.control('POST', '/_sim/arm/managementgroups', { name: GROUP, subscriptions: inGroup });
  // The operator who deploys management-group-roles.json: Owner at the group.
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
    roles: ['vmOperatorRoleName', 'eventWiringRoleName'],
  });
}, 180_000);

afterAll(async () => {
  await p?.stop();
});

describe('event wiring of subscriptions discovered under a management group', () => {
  it("wires both of the group's subscriptions to the app's functions", async () => {
    const output = await runEventWiring();
    expect(output.failed).toEqual([]);
    expect(output.reports.map((r) => r.subscriptionId).sort()).toEqual([...inGroup].sort());
    for (const sub of inGroup) {
      const live = await new EventGridManagementClient(user, sub).systemTopicEventSubscriptions.get(
        VAULT_RG,
        'ade-autopilot-resource-events',
        'vm-written',
      );
      expect(live.destination).toMatchObject({
        endpointType: 'AzureFunction',
        resourceId: `${platformSiteResourceId(PLATFORM)}/functions/vmWritten`,
      });
    }
  }, 90_000);

  it('a subscription moved into the group later is wired; a new VM is encrypted through the event, an older one via policy', async () => {
    const added = await newSubscription();
    await p.control('POST', '/_sim/arm/managementgroups', { name: GROUP, subscriptions: [added] });
    const before = await createLinuxVm(added, 'mg-before');

    const output = await runEventWiring();
    expect(output.failed).toEqual([]);
    const report = output.reports.find((r) => r.subscriptionId === added);
    expect(report?.topic.action).toBe('created');
    expect(output.reports.filter((r) => inGroup.includes(r.subscriptionId)).every((r) => r.topic.action === 'reused')).toBe(true);

    // The vault path in the new subscription: what main.json grants per target subscription (the vault group the event
    // wiring just created holds the vault), granted here by the operator.
    for (const roleName of ['Key Vault Contributor', 'EventGrid Contributor'])
      await p.control('POST', '/_sim/arm/roleassignments', {
        principalId: p.appObjectId,
        roleName,
        scope: `/subscriptions/${added}/resourceGroups/${VAULT_RG}`,
      });

    const delivered = (await p.control<{ delivered: number }>('GET', '/_sim/arm/eventgrid/deliveries')).delivered;
    const vmId = await createLinuxVm(added, 'mg-after');
    const instanceId = orchestrationInstanceId(vmId);
    const deadline = Date.now() + 30_000;
    while (!(await p.getInstance(instanceId)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const status = await p.waitForInstance(instanceId, 120_000);
    expect(status.runtimeStatus, JSON.stringify(status.customStatus)).toBe('Completed');
    expect(status.output).toMatchObject({ vmId, outcome: 'encrypted', mode: 'single-pass' });
    expect((await p.control<{ delivered: number }>('GET', '/_sim/arm/eventgrid/deliveries')).delivered).toBeGreaterThan(delivered);
    const vm = await new ComputeManagementClient(user, added).virtualMachines.get('rg-work', 'mg-after');
    expect((vm.resources ?? []).some((r) => r.typePropertiesType === 'AzureDiskEncryptionForLinux')).toBe(true);

    // No event reached the VM created before the wiring, and nothing else (the sweep is off) started a run for it.
    expect(await p.getInstance(orchestrationInstanceId(before))).toBeUndefined();

    // The wiring also gave the subscription its Policy Insights topic and policy-states subscription: Azure Policy
    // finding that VM NonCompliant with a configured definition reaches policyStates, which encrypts it.
    expect(report?.policy).toMatchObject({ topic: { action: 'created' }, subscriptions: [{ name: 'policy-states', action: 'created' }] });
    const recorded = await p.control<{ published: string | null }>('POST', '/_sim/arm/policy/states', {
      resourceId: before,
      policyAssignmentId: `/subscriptions/${added}/providers/microsoft.authorization/policyassignments/ade-audit`,
      policyDefinitionId: DEFAULT_POLICY_DEFINITION_IDS[1]!,
      complianceState: 'NonCompliant',
    });
    expect(recorded.published).toBe('Microsoft.PolicyInsights.PolicyStateCreated');
    const remediation = remediationInstanceId(before);
    const until = Date.now() + 30_000;
    while (!(await p.getInstance(remediation)) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    const healed = await p.waitForInstance(remediation, 120_000);
    expect(healed.runtimeStatus, JSON.stringify(healed.customStatus)).toBe('Completed');
    expect(healed.output).toMatchObject({ action: 'encrypt', result: 'succeeded' });
  }, 360_000);
});
