/**
 * vmWritten's core for scale set writes (virtualMachineScaleSets/write on the same route): re-read the model, judge it
 * with the app's policy, start encryptVmss once per set; Flexible, excluded and out-of-scope sets start nothing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import type { ScaleSetSnapshot } from '../../core/vm';
import { handleVmWritten, type VmWrittenDeps } from '../../functions/lib/vm-written';

const SUB = '11111111-1111-1111-1111-111111111111';
const policy = toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: SUB }));
const setId = (name: string, sub = SUB) =>
  `/subscriptions/${sub}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`;

function setWriteEvent(resourceUri: string, id = 'e1') {
  const event = JSON.parse(readFileSync(path.join(__dirname, '../fixtures/pipeline/vm-write-event.json'), 'utf8'));
  event.id = id;
  event.data.operationName = 'Microsoft.Compute/virtualMachineScaleSets/write';
  event.data.resourceUri = event.subject = resourceUri;
  return event;
}

function model(id: string, patch: Partial<ScaleSetSnapshot> = {}): ScaleSetSnapshot {
  return {
    id,
    name: id.split('/').pop()!,
    resourceGroup: 'rg-app',
    subscriptionId: id.split('/')[2]!,
    location: 'westeurope',
    orchestrationMode: 'Uniform',
    upgradeMode: 'Manual',
    capacity: 2,
    provisioningState: 'Succeeded',
    tags: {},
    osType: 'Linux',
    vmSize: 'Standard_D2s_v5',
    managedDisks: true,
    osDisk: { name: '' },
    dataDisks: [{ lun: 0, name: '' }],
    extensions: [],
    imageReference: { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
    ...patch,
  };
}

function deps(sets: Record<string, Partial<ScaleSetSnapshot>>, withScaleSets = true) {
  const reads: string[] = [];
  const starts: string[] = [];
  const d: VmWrittenDeps = {
    policy,
    getVm: async () => {
      throw new Error('no VM read expected');
    },
    start: async () => {
      throw new Error('no encryptVm start expected');
    },
    ...(withScaleSets
      ? {
          getScaleSet: async (id: string) => {
            reads.push(id);
            return model(id, sets[id.split('/').pop()!] ?? {});
          },
          startScaleSet: async (id: string) => {
            starts.push(id);
            return { instanceId: `encrypt-vmss-${id.split('/').pop()}`, started: true as const };
          },
        }
      : {}),
    selfObjectId: async () => undefined,
    log: () => undefined,
  };
  return { d, reads, starts };
}

describe('vmWritten: scale set writes', () => {
  it.each([
    { name: 'a Uniform Linux set (ADE_VOLUME_TYPE All → its data volumes)', set: {}, action: 'started', reads: 1 },
    { name: 'a Uniform Windows set', set: { osType: 'Windows' as const }, action: 'started', reads: 1 },
    { name: 'a Flexible set (its instances are VMs)', set: { orchestrationMode: 'Flexible' as const }, action: 'not-encrypting', reads: 1 },
    { name: 'an excluded set', set: { tags: { 'ade-autopilot': 'skip' } }, action: 'not-encrypting', reads: 1 },
  ])('$name → $action', async ({ set, action, reads }) => {
    const fake = deps({ ss: set });
    const report = await handleVmWritten([setWriteEvent(setId('ss'))], fake.d);
    expect(report.vms.map((v) => v.action)).toEqual([action]);
    expect(fake.reads).toHaveLength(reads);
    expect(fake.starts).toHaveLength(action === 'started' ? 1 : 0);
  });

  it('two writes of one set start one run; a set out of scope is not read', async () => {
    const fake = deps({});
    const report = await handleVmWritten(
      [
        setWriteEvent(setId('ss'), 'a'),
        setWriteEvent(setId('SS'), 'b'),
        setWriteEvent(setId('ss', '55555555-5555-5555-5555-555555555555'), 'c'),
      ],
      fake.d,
    );
    expect(fake.starts).toEqual([setId('ss')]);
    expect(report.dropped).toHaveLength(1);
  });

  it('without a scale set client the write is dropped with the reason', async () => {
    const fake = deps({}, false);
    const report = await handleVmWritten([setWriteEvent(setId('ss'))], fake.d);
    expect(report.vms).toEqual([]);
    expect(report.dropped[0]?.reason).toMatch(/scale set/);
  });
});
