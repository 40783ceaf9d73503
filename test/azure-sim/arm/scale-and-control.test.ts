/**
 * Control routes (bulk VMs, BEK deletion, config, snapshot/reset through the front end's state API) and the
 * scale the product's benchmarks need: 1,000 VMs listed and read through @azure/arm-compute.
 */
import { ComputeManagementClient } from '@azure/arm-compute';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import type { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { createPrincipal } from '../front/sim-helpers';
import { control, startArmSim } from './arm-helpers';

let sim: Simulator;
let credential: ClientSecretCredential;
let compute: ComputeManagementClient;

beforeAll(async () => {
  ({ sim, credential } = await startArmSim());
  compute = new ComputeManagementClient(credential, sim.seed.subscriptionId);
});
afterAll(async () => {
  await sim?.stop();
});

describe('control API', () => {
  it('creates 1,000 VMs in bulk; the SDK lists them across pages and reads them concurrently', async () => {
    let started = performance.now();
    const seeded = await control<{ count: number; ids: string[] }>(sim, 'POST', '/_sim/arm/vms', {
      subscriptionId: sim.seed.subscriptionId,
      resourceGroup: 'rg-bulk',
      location: 'westeurope',
      count: 1000,
      namePrefix: 'bulk',
      osType: 'Windows',
      dataDisks: 1,
      tags: { fleet: 'bench' },
    });
    const seedMs = performance.now() - started;
    expect(seeded.status).toBe(201);
    expect(seeded.body.count).toBe(1000);
    started = performance.now();
    const names: string[] = [];
    for await (const vm of compute.virtualMachines.listAll()) names.push(vm.name!);
    const listMs = performance.now() - started;
    expect(names.filter((n) => n.startsWith('bulk'))).toHaveLength(1000);
    started = performance.now();
    const sample = seeded.body.ids.slice(0, 200).map((id) => id.split('/').pop()!);
    const views = await Promise.all(sample.map((name) => compute.virtualMachines.get('rg-bulk', name, { expand: 'instanceView' })));
    const getMs = performance.now() - started;
    expect(views.every((v) => v.instanceView!.statuses!.some((s) => s.code === 'PowerState/running'))).toBe(true);
    expect(views[0]!.tags).toEqual({ fleet: 'bench' });
    console.log(
      `[scale] seed 1000 VMs: ${seedMs.toFixed(0)} ms; listAll: ${listMs.toFixed(0)} ms; 200 concurrent ` +
        `GET ?$expand=instanceView: ${getMs.toFixed(0)} ms`,
    );
    expect(getMs).toBeLessThan(60_000);
  });

  it('rejects hostile bulk sizes and unknown durations with clear 400s', async () => {
    const huge = await control<{ error: { code: string; message: string } }>(sim, 'POST', '/_sim/arm/vms', {
      subscriptionId: sim.seed.subscriptionId,
      resourceGroup: 'rg-x',
      count: 10_000_000,
    });
    expect(huge.status).toBe(400);
    expect(huge.body.error.message).toMatch(/count must be an integer/);
    const bad = await control<{ error: { message: string } }>(sim, 'PUT', '/_sim/arm/config', { durations: { warpDrive: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/Unknown duration 'warpDrive'/);
  });

  it("snapshot/restore/reset go through the front end's state API and include Resource Manager state", async () => {
    await control(sim, 'POST', '/_sim/arm/vms', {
      subscriptionId: sim.seed.subscriptionId,
      resourceGroup: 'rg-snap',
      count: 1,
      name: 'snap-vm',
      osType: 'Linux',
    });
    const snapshot = await control<Record<string, unknown>>(sim, 'POST', '/_sim/state/snapshot');
    expect(snapshot.status).toBe(200);
    await compute.virtualMachines.beginDeleteAndWait('rg-snap', 'snap-vm', { updateIntervalInMs: 50 });
    await expect(compute.virtualMachines.get('rg-snap', 'snap-vm')).rejects.toMatchObject({ statusCode: 404 });
    expect((await control(sim, 'POST', '/_sim/state/restore', snapshot.body)).status).toBe(200);
    expect((await compute.virtualMachines.get('rg-snap', 'snap-vm')).name).toBe('snap-vm');
    expect((await control(sim, 'POST', '/_sim/state/reset')).status).toBe(200);
    await expect(compute.virtualMachines.get('rg-snap', 'snap-vm')).rejects.toMatchObject({ statusCode: 404 });
    // The seeded subscription survives a reset.
    const summary = await control<{ subscriptions: number }>(sim, 'GET', '/_sim/arm');
    expect(summary.body.subscriptions).toBe(1);
  });
});

describe('role assignments through @azure/arm-authorization', () => {
  it('stores, lists and deletes assignments; unknown principals get PrincipalNotFound', async () => {
    const authz = new AuthorizationManagementClient(credential, sim.seed.subscriptionId);
    const scope = `/subscriptions/${sim.seed.subscriptionId}/resourceGroups/rg-bulk`;
    const role =
      `/subscriptions/${sim.seed.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/` +
      `00482a5a-887f-4fb3-b363-3b7fe8e74483`;
    const target = await createPrincipal(sim, 'role-target');
    const name = crypto.randomUUID();
    const created = await authz.roleAssignments.create(scope, name, {
      roleDefinitionId: role,
      principalId: target.objectId,
      principalType: 'ServicePrincipal',
    });
    expect(created).toMatchObject({ name, scope, principalId: target.objectId, roleDefinitionId: role });
    const listed: string[] = [];
    for await (const a of authz.roleAssignments.listForScope(scope)) listed.push(a.name!);
    expect(listed).toContain(name);
    await expect(
      authz.roleAssignments.create(scope, crypto.randomUUID(), { roleDefinitionId: role, principalId: target.objectId }),
    ).rejects.toMatchObject({ statusCode: 409, code: 'RoleAssignmentExists' });
    await expect(
      authz.roleAssignments.create(scope, crypto.randomUUID(), { roleDefinitionId: role, principalId: crypto.randomUUID() }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'PrincipalNotFound' });
    await authz.roleAssignments.delete(scope, name);
    await expect(authz.roleAssignments.get(scope, name)).rejects.toMatchObject({ statusCode: 404 });
  });
});
