/**
 * Management groups in the simulator, through the official SDKs: a role assigned at a management group reaches the
 * subscriptions under it and under its child groups (Resource Manager reads and Resource Graph rows), and Resource
 * Graph discovers those subscriptions (`ResourceContainers` with the group as the query's scope).
 */
import { randomUUID } from 'node:crypto';
import { EnvironmentCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzurePorts } from '../../azure/clients';
import type { AzurePorts } from '../../azure/ports';
import { ResourceGraphAdapter } from '../../azure/resource-graph';
import { startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
let ports: AzurePorts;
const inGroup: string[] = [];
let inChildGroup: string;
let outside: string;
const vmOf: Record<string, string> = {};

async function subscriptionWithVm(): Promise<string> {
  const subscriptionId = randomUUID();
  await h.control('POST', '/_sim/arm/subscriptions', { subscriptionId, tenantId: h.sim.seed.tenantId });
  await h.control('POST', '/_sim/arm/resourcegroups', { subscriptionId, name: 'rg-mg', location: 'westeurope' });
  const vm = await h.control<{ ids: string[] }>('POST', '/_sim/arm/vms', {
    subscriptionId,
    resourceGroup: 'rg-mg',
    location: 'westeurope',
    count: 1,
    namePrefix: 'mgvm',
  });
  vmOf[subscriptionId] = vm.ids[0]!;
  return subscriptionId;
}

beforeAll(async () => {
  h = await startSimHarness();
  ports = createAzurePorts({ auth: { mode: 'environment' } }, { pollIntervalMs: 100 });
  inGroup.push(await subscriptionWithVm(), await subscriptionWithVm());
  inChildGroup = await subscriptionWithVm();
  outside = await subscriptionWithVm();
  await h.control('POST', '/_sim/arm/managementgroups', { name: 'mg-fleet', subscriptions: inGroup });
  await h.control('POST', '/_sim/arm/managementgroups', { name: 'mg-fleet-child', parent: 'mg-fleet', subscriptions: [inChildGroup] });
  await h.control('POST', '/_sim/arm/managementgroups', { name: 'mg-other', subscriptions: [outside] });
  await h.control('POST', '/_sim/arm/roleassignments', {
    principalId: h.sim.seed.clientObjectId,
    roleName: 'Reader',
    scope: '/providers/Microsoft.Management/managementGroups/mg-fleet',
  });
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

describe('management groups', () => {
  it('Resource Graph lists the subscriptions under a group and its child groups', async () => {
    const adapter = new ResourceGraphAdapter(new EnvironmentCredential());
    const found = await adapter.subscriptionsInManagementGroups(['mg-fleet']);
    expect(found.sort()).toEqual([...inGroup, inChildGroup].map((s) => s.toLowerCase()).sort());
    await expect(adapter.subscriptionsInManagementGroups(['mg-missing'])).rejects.toMatchObject({ kind: 'not-found' });
  });

  it.each([
    ['a subscription in the group', () => inGroup[0]!, true],
    ['a subscription in a child group', () => inChildGroup, true],
    ['a subscription in another group', () => outside, false],
  ])('a Reader assignment at the group reaches %s', async (_, subscription, allowed) => {
    const vmId = vmOf[subscription()]!;
    const read = ports.compute.getVm(vmId);
    if (allowed) await expect(read).resolves.toMatchObject({ id: vmId });
    else await expect(read).rejects.toMatchObject({ kind: 'permission' });
    const page = await ports.resourceGraph!.vmPage([subscription()]);
    expect(page.vms.map((v) => v.id)).toEqual(allowed ? [vmId] : []);
  });
});
