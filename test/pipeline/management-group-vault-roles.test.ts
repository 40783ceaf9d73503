/**
 * A subscription under ADE_SCOPE's management group that the vault group's roles (infra/main.json, per subscription in
 * targetSubscriptionIds) do not reach yet: the Compute roles come from infra/management-group-roles.json at the group,
 * so the sweep finds its VM, but Resource Manager refuses the vault (403 AuthorizationFailed). The run ends
 * action-required with an ActionRequired event naming the subscription and the command that grants the roles, leaves
 * nothing behind, and once the operator grants the roles the next sweep encrypts the VM.
 */
import { randomUUID } from 'node:crypto';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ClientSecretCredential } from '@azure/identity';
import { ComputeManagementClient } from '@azure/arm-compute';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId } from '../../core/names';
import { grantManagementGroupRoles } from '../azure/management-group-grants';
import { EVENTS_RG, HUB_KEYS, startPipeline, VAULT_RG, type Pipeline } from './harness';

const GROUP = 'mg-vault-roles';
const TOPIC = 'ade-outcomes';
const TOPIC_ENDPOINT = `https://${TOPIC}.westeurope-1.eventgrid.azure.net/api/events`;
/** Built-in role id (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#eventgrid-data-sender). */
const EVENTGRID_DATA_SENDER = 'd5a91429-5739-47e2-a06b-3470a27159e7';
let p: Pipeline;
let user: ClientSecretCredential;
/** [granted, missing]: the first holds main.json's vault-group roles, the second only the group's Compute roles. */
const subs: string[] = [];

async function newSubscription(): Promise<string> {
  const subscriptionId = randomUUID();
  await p.control('POST', '/_sim/arm/subscriptions', { subscriptionId, tenantId: p.sim.seed.tenantId });
  for (const rg of ['rg-work', VAULT_RG])
    await p.control('PUT', `/_sim/arm/subscriptions/${subscriptionId}/resourceGroups/${rg}`, { location: 'westeurope' });
  return subscriptionId;
}

async function grantVaultGroupRoles(subscriptionId: string): Promise<void> {
  for (const roleName of ['Key Vault Contributor', 'EventGrid Contributor'])
    await p.control('POST', '/_sim/arm/roleassignments', {
      principalId: p.appObjectId,
      roleName,
      scope: `/subscriptions/${subscriptionId}/resourceGroups/${VAULT_RG}`,
    });
}

async function createLinuxVm(subscriptionId: string, name: string): Promise<string> {
  const compute = new ComputeManagementClient(user, subscriptionId);
  const vm = await compute.virtualMachines.beginCreateOrUpdateAndWait(
    'rg-work',
    name,
    {
      location: 'westeurope',
      hardwareProfile: { vmSize: 'Standard_D4s_v5' },
      storageProfile: {
        imageReference: { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
        osDisk: { createOption: 'FromImage', osType: 'Linux' },
        dataDisks: [{ lun: 0, createOption: 'Empty', diskSizeGB: 64 }],
      },
      osProfile: { computerName: name, adminUsername: 'azureuser', linuxConfiguration: { disablePasswordAuthentication: true } },
    },
    { updateIntervalInMs: 50 },
  );
  return vm.id!;
}

/** Runs the backfill sweep (POST /api/sweep, as an operator or the schedule would) and waits for the VM's run to end. */
async function sweepAndWait(vmId: string, after?: string) {
  const res = await p.host.fetch(`/api/sweep?code=${HUB_KEYS.master}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status, await res.clone().text()).toBe(202);
  const sweep = (await res.json()) as { instanceId: string };
  expect((await p.waitForInstance(sweep.instanceId, 60_000)).runtimeStatus).toBe('Completed');
  const instanceId = orchestrationInstanceId(vmId);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await p.getInstance(instanceId);
    if (now && now.createdTime !== after) break;
    if (Date.now() > deadline) throw new Error(`no run started for ${vmId}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return p.waitForInstance(instanceId, 120_000);
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
  subs.push(await newSubscription(), await newSubscription());
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
}, 180_000);

afterAll(async () => {
  await p?.stop();
});

describe('a subscription under the management group without the vault group roles', () => {
  let vmId: string;
  let first: Awaited<ReturnType<typeof sweepAndWait>>;

  it('ends action-required naming the subscription and the grant, with nothing half-created', async () => {
    await createLinuxVm(subs[0]!, 'vm-granted');
    vmId = await createLinuxVm(subs[1]!, 'vm-missing');
    first = await sweepAndWait(vmId);
    expect(first.runtimeStatus).toBe('Completed');
    expect(first.output, JSON.stringify(first.output)).toMatchObject({ vmId: vmId.toLowerCase(), outcome: 'action-required' });
    expect(first.output.operatorAction).toContain(subs[1]);
    expect(first.output.operatorAction).toContain('az deployment sub create');
    expect(first.output.operatorAction).toContain('targetSubscriptionIds');
    expect(first.customStatus).toMatchObject({ phase: 'done' });
    expect(String(first.customStatus.detail)).toContain('action required');
    // The ActionRequired outcome event went out with the same next step.
    expect(first.output.outcomeEvent).toEqual({ eventType: 'AdeAutopilot.ActionRequired', published: true });
    expect(String(first.output.reason)).toContain('AuthorizationFailed');
    // No vault in the subscription (Resource Manager refused it), and the VM carries no ADE extension.
    const vaults = [];
    for await (const v of new KeyVaultManagementClient(user, subs[1]!).vaults.listByResourceGroup(VAULT_RG)) vaults.push(v);
    expect(vaults).toEqual([]);
    const vm = await new ComputeManagementClient(user, subs[1]!).virtualMachines.get('rg-work', 'vm-missing');
    expect((vm.resources ?? []).some((r) => r.typePropertiesType === 'AzureDiskEncryptionForLinux')).toBe(false);
  }, 240_000);

  it('encrypts the VM at the next sweep once the operator granted the roles', async () => {
    await grantVaultGroupRoles(subs[1]!);
    const second = await sweepAndWait(vmId, first.createdTime);
    expect(second.runtimeStatus).toBe('Completed');
    expect(second.output, JSON.stringify(second.output)).toMatchObject({ vmId: vmId.toLowerCase(), outcome: 'encrypted' });
    const vm = await new ComputeManagementClient(user, subs[1]!).virtualMachines.get('rg-work', 'vm-missing');
    expect((vm.resources ?? []).some((r) => r.typePropertiesType === 'AzureDiskEncryptionForLinux')).toBe(true);
  }, 240_000);
});
