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
import { EVENTS_RG, HUB_KEYS, startPipeline, VAULT_RG, type InstanceStatus, type Pipeline } from './harness';

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

/**
 * Runs the backfill sweep (POST /api/sweep, as an operator or the schedule would) and waits for each VM's run (a run newer
 * than `after`, the previous run's createdTime) to end.
 */
async function sweepAndWait(vms: Array<{ vmId: string; after?: string }>): Promise<InstanceStatus[]> {
  const res = await p.host.fetch(`/api/sweep?code=${HUB_KEYS.master}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status, await res.clone().text()).toBe(202);
  const sweep = (await res.json()) as { instanceId: string };
  expect((await p.waitForInstance(sweep.instanceId, 60_000)).runtimeStatus).toBe('Completed');
  const out: InstanceStatus[] = [];
  for (const { vmId, after } of vms) {
    const instanceId = orchestrationInstanceId(vmId);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = await p.getInstance(instanceId);
      if (now && now.createdTime !== after) break;
      if (Date.now() > deadline) throw new Error(`no run started for ${vmId}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    out.push(await p.waitForInstance(instanceId, 120_000));
  }
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
  let first: InstanceStatus[];

  it('ends action-required naming the subscription and the grant, with nothing half-created', async () => {
    vms.granted = await createLinuxVm(subs[0]!, 'vm-granted');
    vms.missing = await createLinuxVm(subs[1]!, 'vm-missing');
    vms.partial = await createLinuxVm(subs[2]!, 'vm-partial');
    first = await sweepAndWait([{ vmId: vms.granted }, { vmId: vms.missing }, { vmId: vms.partial }]);
    // The subscription holding main.json's grants is encrypted as usual.
    expect(first[0]!.output, JSON.stringify(first[0]!.output)).toMatchObject({ outcome: 'encrypted' });
    for (const [i, sub] of [
      [1, subs[1]!],
      [2, subs[2]!],
    ] as const) {
      const run = first[i]!;
      expect(run.runtimeStatus).toBe('Completed');
      expect(run.output, JSON.stringify(run.output)).toMatchObject({ outcome: 'action-required' });
      expect(String(run.output.reason)).toContain('AuthorizationFailed');
      expect(run.output.operatorAction).toContain(`add ${sub} to targetSubscriptionIds`);
      expect(run.output.operatorAction).toContain('az deployment sub create');
      expect(run.customStatus).toMatchObject({ phase: 'done', detail: `action required: ${run.output.operatorAction}` });
      // The ActionRequired outcome event went out (with the same next step).
      expect(run.output.outcomeEvent).toEqual({ eventType: 'AdeAutopilot.ActionRequired', published: true });
    }
    // No vault where Resource Manager refused it, nowhere an ADE extension; the partial grant's vault stays for reuse.
    expect(await vaultsIn(subs[1]!)).toEqual([]);
    expect(await vaultsIn(subs[2]!)).toHaveLength(1);
    expect(await hasAdeExtension(subs[1]!, 'vm-missing')).toBe(false);
    expect(await hasAdeExtension(subs[2]!, 'vm-partial')).toBe(false);
  }, 300_000);

  it('encrypts the VMs at the next sweep once the operator granted the roles', async () => {
    await grantVaultGroupRoles(subs[1]!);
    await grantVaultGroupRoles(subs[2]!, ['EventGrid Contributor']);
    const vaultBefore = await vaultsIn(subs[2]!);
    const second = await sweepAndWait([
      { vmId: vms.missing, after: first[1]!.createdTime },
      { vmId: vms.partial, after: first[2]!.createdTime },
    ]);
    for (const run of second) expect(run.output, JSON.stringify(run.output)).toMatchObject({ outcome: 'encrypted' });
    expect(second[1]!.output.vaultName).toBe(vaultBefore[0]);
    expect(await hasAdeExtension(subs[1]!, 'vm-missing')).toBe(true);
    expect(await hasAdeExtension(subs[2]!, 'vm-partial')).toBe(true);
  }, 300_000);
});
