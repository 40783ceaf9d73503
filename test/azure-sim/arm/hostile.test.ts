/**
 * Bad input never crashes Resource Manager: every route × method × hostile body answers a 4xx with ARM's
 * error envelope (or a success), never a 5xx. Driven in-process through the simulator's full pipeline.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { control, startArmSim } from './arm-helpers';

let sim: Simulator;
let token: string;

beforeAll(async () => {
  const started = await startArmSim();
  sim = started.sim;
  token = (await started.credential.getToken('https://management.azure.com/.default')).token;
  await control(sim, 'POST', '/_sim/arm/vms', {
    subscriptionId: sim.seed.subscriptionId,
    resourceGroup: 'rg-h',
    count: 1,
    name: 'vm-h',
    osType: 'Windows',
  });
  await control(sim, 'POST', '/_sim/arm/vaults', {
    subscriptionId: sim.seed.subscriptionId,
    resourceGroup: 'rg-h',
    name: 'kv-hostile',
    enabledForDiskEncryption: true,
  });
});
afterAll(async () => {
  await sim?.stop();
});

const ROUTES = [
  '',
  '/resourcegroups/rg-h',
  '/resourceGroups/rg-h/providers/Microsoft.Compute/virtualMachines/vm-h',
  '/resourceGroups/rg-h/providers/Microsoft.Compute/virtualMachines/vm-h/extensions/AzureDiskEncryption',
  '/resourceGroups/rg-h/providers/Microsoft.Compute/virtualMachines/vm-h/deallocate',
  '/resourceGroups/rg-h/providers/Microsoft.Compute/disks/whatever',
  '/resourceGroups/rg-h/providers/Microsoft.KeyVault/vaults/kv-hostile',
  '/resourceGroups/rg-h/providers/Microsoft.KeyVault/vaults/kv-hostile/accessPolicies/add',
  '/resourceGroups/rg-h/providers/Microsoft.KeyVault/vaults/kv-hostile/providers/Microsoft.Insights/diagnosticSettings/d1',
  '/resourceGroups/rg-h/providers/Microsoft.KeyVault/vaults/kv-hostile/providers/Microsoft.Insights/diagnosticSettings',
  '/providers/Microsoft.KeyVault/checkNameAvailability',
  '/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv-none/purge',
  '/resourceGroups/rg-h/providers/Microsoft.EventGrid/systemTopics/t1',
  '/resourceGroups/rg-h/providers/Microsoft.EventGrid/systemTopics/t1/eventSubscriptions/s1',
  '/resourceGroups/rg-h/providers/Microsoft.EventGrid/topics/t2',
  '/resourceGroups/rg-h/providers/Microsoft.Authorization/roleAssignments/not-a-guid',
  '/providers/Microsoft.Compute/locations/westeurope/operations/nope',
];
const BODIES: (string | undefined)[] = [
  undefined,
  '{}',
  'null',
  '[]',
  '"text"',
  '{"location":123,"properties":"nope","tags":{"a":{"b":1}}}',
  '{"location":"westeurope","properties":{"hardwareProfile":{"vmSize":"Standard_D2s_v5"},' +
    '"storageProfile":{"dataDisks":[{"lun":"x","diskSizeGB":-5}]},"accessPolicies":[{"objectId":null}],' +
    '"destination":{"endpointType":"WebHook","properties":{"endpointUrl":"javascript:alert(1)"}},' +
    '"filter":{"advancedFilters":"x"}}}',
  JSON.stringify({ location: 'westeurope', tags: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`t${i}`, 'x'.repeat(300)])) }),
  JSON.stringify({
    name: 'x'.repeat(10_000),
    type: 'Microsoft.KeyVault/vaults',
    properties: { accessPolicies: Array.from({ length: 2000 }, () => ({ objectId: 'o', permissions: {} })) },
  }),
];

it('answers every route × method × hostile body without a 5xx, with ARM-shaped errors', async () => {
  const failures: string[] = [];
  for (const route of ROUTES) {
    for (const method of ['GET', 'PUT', 'PATCH', 'POST', 'DELETE']) {
      for (const body of method === 'GET' || method === 'DELETE' ? [undefined] : BODIES) {
        const res = await sim.ctx.dispatch({
          method,
          url: `https://management.azure.com/subscriptions/${sim.seed.subscriptionId}${route}?api-version=2024-07-01`,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body,
        });
        const label = `${method} ${route} ${body?.slice(0, 40) ?? ''} → ${res.status}`;
        if (res.status >= 500) failures.push(label);
        if (res.status >= 400) {
          const error = (res.json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
          if (typeof error?.code !== 'string' || typeof error.message !== 'string') failures.push(`${label}: not an ARM error envelope`);
        }
      }
    }
  }
  expect(failures).toEqual([]);
});
