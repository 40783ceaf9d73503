import { ComputeManagementClient, type VirtualMachine } from '@azure/arm-compute';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { proxiedFetch } from '../front/sim-helpers';
import { FAST_POLL, control, startArmSim } from './arm-helpers';

let sim: Simulator;
let credential: ClientSecretCredential;
let compute: ComputeManagementClient;
let resources: ResourceManagementClient;
const RG = 'rg-compute';

function linuxVm(overrides: Partial<VirtualMachine> = {}): VirtualMachine {
  return {
    location: 'westeurope',
    tags: { owner: 'tests' },
    hardwareProfile: { vmSize: 'Standard_D2s_v5' },
    storageProfile: {
      imageReference: { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
      osDisk: { createOption: 'FromImage', managedDisk: { storageAccountType: 'Premium_LRS' } },
      dataDisks: [{ lun: 0, createOption: 'Empty', diskSizeGB: 64 }],
    },
    osProfile: { computerName: 'lx1', adminUsername: 'azureuser', adminPassword: 'P@ssw0rd-not-returned', linuxConfiguration: {} },
    networkProfile: {
      networkInterfaces: [{ id: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic1' }],
    },
    ...overrides,
  };
}

async function armToken(): Promise<string> {
  return (await credential.getToken('https://management.azure.com/.default')).token;
}

beforeAll(async () => {
  ({ sim, credential } = await startArmSim());
  compute = new ComputeManagementClient(credential, sim.seed.subscriptionId);
  resources = new ResourceManagementClient(credential, sim.seed.subscriptionId);
  await resources.resourceGroups.createOrUpdate(RG, { location: 'westeurope', tags: { env: 'test' } });
});
afterAll(async () => {
  await sim?.stop();
});

describe('subscriptions and resource groups through @azure/arm-resources', () => {
  it('gets the resource group, lists it, and answers 404 ResourceGroupNotFound for an unknown one', async () => {
    const rg = await resources.resourceGroups.get(RG);
    expect(rg).toMatchObject({ name: RG, location: 'westeurope', tags: { env: 'test' }, properties: { provisioningState: 'Succeeded' } });
    const names: string[] = [];
    for await (const g of resources.resourceGroups.list()) names.push(g.name!);
    expect(names).toContain(RG);
    expect(await resources.resourceGroups.checkExistence('nope')).toMatchObject({ body: false });
    await expect(resources.resourceGroups.get('nope')).rejects.toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
  });

  it('deletes a resource group as a long-running operation, with its VMs', async () => {
    await resources.resourceGroups.createOrUpdate('rg-doomed', { location: 'westeurope' });
    await compute.virtualMachines.beginCreateOrUpdateAndWait('rg-doomed', 'gone1', linuxVm(), FAST_POLL);
    await resources.resourceGroups.beginDeleteAndWait('rg-doomed', FAST_POLL);
    await expect(resources.resourceGroups.get('rg-doomed')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('virtual machines through @azure/arm-compute', () => {
  it('creates a VM as an LRO, with managed disks, and never returns the admin password', async () => {
    const vm = await compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'lx-create', linuxVm(), FAST_POLL);
    expect(vm).toMatchObject({
      name: 'lx-create',
      type: 'Microsoft.Compute/virtualMachines',
      location: 'westeurope',
      tags: { owner: 'tests' },
      provisioningState: 'Succeeded',
      storageProfile: { osDisk: { osType: 'Linux' }, dataDisks: [{ lun: 0, diskSizeGB: 64 }] },
    });
    expect(vm.vmId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(vm)).not.toContain('P@ssw0rd');
    const osDiskId = vm.storageProfile!.osDisk!.managedDisk!.id!;
    const disk = await compute.disks.get(RG, osDiskId.split('/').pop()!);
    expect(disk).toMatchObject({ managedBy: vm.id, osType: 'Linux', diskState: 'Attached' });
  });

  it('reports the instance view with power state, disks and agent; $expand=instanceView on GET', async () => {
    await compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'lx-view', linuxVm(), FAST_POLL);
    const vm = await compute.virtualMachines.get(RG, 'lx-view', { expand: 'instanceView' });
    const codes = vm.instanceView!.statuses!.map((s) => s.code);
    expect(codes).toEqual(['ProvisioningState/succeeded', 'PowerState/running']);
    expect(vm.instanceView!.disks).toHaveLength(2);
    expect(vm.instanceView!.vmAgent!.statuses![0]!.displayStatus).toBe('Ready');
    const view = await compute.virtualMachines.instanceView(RG, 'lx-view');
    expect(view.statuses!.map((s) => s.code)).toContain('PowerState/running');
    const plain = await compute.virtualMachines.get(RG, 'lx-view');
    expect(plain.instanceView).toBeUndefined();
  });

  it('deallocates, refuses extension writes while deallocated, starts and restarts', async () => {
    await compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'lx-power', linuxVm(), FAST_POLL);
    await compute.virtualMachines.beginDeallocateAndWait(RG, 'lx-power', FAST_POLL);
    let view = await compute.virtualMachines.instanceView(RG, 'lx-power');
    expect(view.statuses!.map((s) => s.code)).toContain('PowerState/deallocated');
    await expect(
      compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
        RG,
        'lx-power',
        'script',
        {
          location: 'westeurope',
          publisher: 'Microsoft.Azure.Extensions',
          typePropertiesType: 'CustomScript',
          typeHandlerVersion: '2.1',
        },
        FAST_POLL,
      ),
    ).rejects.toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });
    await expect(compute.virtualMachines.beginRestartAndWait(RG, 'lx-power', FAST_POLL)).rejects.toMatchObject({ statusCode: 409 });
    await compute.virtualMachines.beginStartAndWait(RG, 'lx-power', FAST_POLL);
    await compute.virtualMachines.beginRestartAndWait(RG, 'lx-power', FAST_POLL);
    view = await compute.virtualMachines.instanceView(RG, 'lx-power');
    expect(view.statuses!.map((s) => s.code)).toContain('PowerState/running');
  });

  it('updates tags and size with PATCH and lists VMs in the group and subscription', async () => {
    await compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'lx-patch', linuxVm(), FAST_POLL);
    const updated = await compute.virtualMachines.beginUpdateAndWait(
      RG,
      'lx-patch',
      { tags: { owner: 'someone-else' }, hardwareProfile: { vmSize: 'Standard_D4s_v5' } },
      FAST_POLL,
    );
    expect(updated).toMatchObject({ tags: { owner: 'someone-else' }, hardwareProfile: { vmSize: 'Standard_D4s_v5' } });
    const inGroup: string[] = [];
    for await (const vm of compute.virtualMachines.list(RG)) inGroup.push(vm.name!);
    expect(inGroup).toContain('lx-patch');
    const inSub: string[] = [];
    for await (const vm of compute.virtualMachines.listAll()) inSub.push(vm.name!);
    expect(inSub).toContain('lx-patch');
  });

  it('runs an extension as an LRO with Azure-AsyncOperation polling and deletes it', async () => {
    await compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'lx-ext', linuxVm(), FAST_POLL);
    const ext = await compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(
      RG,
      'lx-ext',
      'script',
      {
        location: 'westeurope',
        publisher: 'Microsoft.Azure.Extensions',
        typePropertiesType: 'CustomScript',
        typeHandlerVersion: '2.1',
        settings: { commandToExecute: 'echo hi' },
      },
      FAST_POLL,
    );
    expect(ext).toMatchObject({
      name: 'script',
      provisioningState: 'Succeeded',
      publisher: 'Microsoft.Azure.Extensions',
      typePropertiesType: 'CustomScript',
    });
    const withView = await compute.virtualMachineExtensions.get(RG, 'lx-ext', 'script', { expand: 'instanceView' });
    expect(withView.instanceView!.statuses![0]!.code).toBe('ProvisioningState/succeeded');
    const vm = await compute.virtualMachines.get(RG, 'lx-ext');
    expect(vm.resources!.map((r) => r.name)).toEqual(['script']);
    await compute.virtualMachineExtensions.beginDeleteAndWait(RG, 'lx-ext', 'script', FAST_POLL);
    await expect(compute.virtualMachineExtensions.get(RG, 'lx-ext', 'script')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('deletes a VM and keeps its disks, now unattached', async () => {
    const vm = await compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'lx-del', linuxVm(), FAST_POLL);
    await compute.virtualMachines.beginDeleteAndWait(RG, 'lx-del', FAST_POLL);
    await expect(compute.virtualMachines.get(RG, 'lx-del')).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
    const disk = await compute.disks.get(RG, vm.storageProfile!.osDisk!.managedDisk!.id!.split('/').pop()!);
    expect(disk.diskState).toBe('Unattached');
  });

  it.each([
    ['an unknown VM', () => compute.virtualMachines.get(RG, 'missing'), 404, 'ResourceNotFound'],
    ['an unknown resource group', () => compute.virtualMachines.get('rg-missing', 'vm'), 404, 'ResourceGroupNotFound'],
    [
      'a VM without location',
      () => compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'noloc', linuxVm({ location: '' }), FAST_POLL),
      400,
      'LocationRequired',
    ],
    [
      'an invalid size',
      () => compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'badsize', linuxVm({ hardwareProfile: { vmSize: 'Huge' } }), FAST_POLL),
      400,
      'InvalidParameter',
    ],
    [
      'an invalid name',
      () => compute.virtualMachines.beginCreateOrUpdateAndWait(RG, 'bad name!', linuxVm(), FAST_POLL),
      400,
      'InvalidResourceName',
    ],
    [
      'a PUT that changes the OS type',
      () =>
        compute.virtualMachines.beginCreateOrUpdateAndWait(
          RG,
          'lx-create',
          linuxVm({ storageProfile: { osDisk: { createOption: 'FromImage', osType: 'Windows' } } }),
          FAST_POLL,
        ),
      409,
      'PropertyChangeNotAllowed',
    ],
  ])('answers %s with the ARM error envelope', async (_label, call, status, code) => {
    await expect(call()).rejects.toMatchObject({ statusCode: status, code });
  });
});

describe('wire behaviour (raw requests through the proxy)', () => {
  const base = () =>
    `https://management.azure.com/subscriptions/${sim.seed.subscriptionId}/resourceGroups/` +
    `${RG}/providers/Microsoft.Compute/virtualMachines`;

  it.each([
    ['missing api-version', 'GET', '', undefined, 400, 'MissingApiVersionParameter'],
    ['malformed api-version', 'GET', '?api-version=yesterday', undefined, 400, 'InvalidApiVersionParameter'],
    [
      'an unknown provider',
      'GET',
      '/../../../providers/Microsoft.Nope/things?api-version=2024-01-01',
      undefined,
      404,
      'MissingSubscriptionRegistration',
    ],
    [
      'an unknown resource type',
      'GET',
      '/../../../providers/Microsoft.Compute/gadgets?api-version=2024-01-01',
      undefined,
      404,
      'InvalidResourceType',
    ],
    ['a JSON array body', 'PUT', '/vm-array?api-version=2024-07-01', '[1,2]', 400, 'InvalidRequestContent'],
    [
      'a hostile 300-character name',
      'PUT',
      `/${'x'.repeat(300)}?api-version=2024-07-01`,
      '{"location":"westeurope"}',
      400,
      'InvalidResourceName',
    ],
  ])('%s gives an Azure-shaped 4xx', async (_label, method, suffix, body, status, code) => {
    const f = proxiedFetch(sim);
    try {
      const url = new URL(`${base()}${suffix}`).toString();
      const res = await f(url, {
        method,
        headers: { authorization: `Bearer ${await armToken()}`, 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(status);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(json.error.code).toBe(code);
      expect(json.error.message.length).toBeGreaterThan(10);
    } finally {
      await f.close();
    }
  });

  it('reports remaining reads and throttles with 429 + Retry-After once the bucket is empty; the SDK retries through it', async () => {
    const set = await control(sim, 'PUT', '/_sim/arm/config', { throttling: { reads: { bucketSize: 3, refillPerSecond: 0.5 } } });
    expect(set.status).toBe(200);
    const f = proxiedFetch(sim);
    try {
      const token = await armToken();
      const remaining: string[] = [];
      let throttled: Response | undefined;
      for (let i = 0; i < 5 && !throttled; i++) {
        const res = (await f(`${base()}?api-version=2024-07-01`, { headers: { authorization: `Bearer ${token}` } })) as unknown as Response;
        if (res.status === 429) throttled = res;
        else remaining.push(res.headers.get('x-ms-ratelimit-remaining-subscription-reads')!);
        await res.text();
      }
      expect(remaining).toEqual(['2', '1', '0']);
      expect(throttled).toBeDefined();
      expect(Number(throttled!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // The SDK's throttling policy waits Retry-After and succeeds.
      const started = Date.now();
      const vm = await compute.virtualMachines.get(RG, 'lx-create');
      expect(vm.name).toBe('lx-create');
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    } finally {
      await f.close();
      await control(sim, 'PUT', '/_sim/arm/config', { throttling: { reads: { bucketSize: 250, refillPerSecond: 25 } } });
    }
  });
});
