/**
 * Management groups in the simulator, through the official SDKs: a role assigned at a management group reaches the
 * subscriptions under it and under its child groups (Resource Manager reads and Resource Graph rows), and Resource
 * Graph discovers those subscriptions (`ResourceContainers` with the group as the query's scope).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EnvironmentCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzurePorts } from '../../azure/clients';
import type { AzurePorts } from '../../azure/ports';
import { ResourceGraphAdapter } from '../../azure/resource-graph';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import { scopeDiscovery, SCOPE_REFRESH_MS } from '../../functions/lib/app';
import { handleVmWritten } from '../../functions/lib/vm-written';
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

  it('ADE_SCOPE with a management group: VM events from both of its subscriptions start runs, others are dropped', async () => {
    const home = h.sim.seed.subscriptionId;
    const config = loadConfig({ ADE_SUBSCRIPTIONS: home, ADE_SCOPE: '/providers/Microsoft.Management/managementGroups/mg-fleet' });
    const policy = toEncryptionPolicy(config);
    let clock = 0;
    const ready = scopeDiscovery(
      policy,
      config.subscriptions,
      (groups) => ports.resourceGraph!.subscriptionsInManagementGroups(groups),
      () => clock,
    );
    await ready();
    expect([...policy.scope.subscriptions].sort()).toEqual([home, ...inGroup, inChildGroup].map((x) => x.toLowerCase()).sort());

    const event = (vmId: string, id: string) => {
      const e = JSON.parse(readFileSync(path.join(__dirname, '../fixtures/pipeline/vm-write-event.json'), 'utf8'));
      e.id = id;
      e.data.resourceUri = e.subject = vmId;
      e.topic = `/subscriptions/${vmId.split('/')[2]}`;
      return e as unknown;
    };
    const starts: string[] = [];
    const report = await handleVmWritten([event(vmOf[inGroup[0]!]!, 'a'), event(vmOf[inGroup[1]!]!, 'b'), event(vmOf[outside]!, 'c')], {
      policy,
      getVm: (vmId) => ports.compute.getVm(vmId, { instanceView: true }),
      start: async (vmId) => {
        starts.push(vmId);
        return { instanceId: `i-${starts.length}`, started: true };
      },
      selfObjectId: async () => undefined,
      log: () => undefined,
    });
    expect(starts.sort()).toEqual([vmOf[inGroup[0]!]!, vmOf[inGroup[1]!]!].sort());
    expect(report.dropped.some((d) => d.reason.includes(outside.toLowerCase()) && d.reason.includes('mg-fleet'))).toBe(true);

    // A subscription moved into the group later is picked up by the next refresh.
    await h.control('POST', '/_sim/arm/managementgroups', { name: 'mg-fleet', subscriptions: [outside] });
    clock += SCOPE_REFRESH_MS + 1;
    await ready(); // starts the refresh in the background
    await expect.poll(() => policy.scope.subscriptions.includes(outside.toLowerCase())).toBe(true);
  });
});
