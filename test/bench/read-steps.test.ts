// bench:pipeline's attribution of the app's ARM reads to pipeline steps, from request-log entries alone.
import { describe, expect, it } from 'vitest';
import { bucketFloorS, readsByStep, type ArmLogEntry } from '../../bench/read-steps';

const VM = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';
const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();
const read = (second: number, path = VM, operation = 'Microsoft.Compute/virtualMachines/read', status = 200): ArmLogEntry => ({
  time: at(second),
  operation,
  method: 'GET',
  path,
  status,
});
const extensionPut = (second: number): ArmLogEntry => ({
  time: at(second),
  operation: 'Microsoft.Compute/virtualMachines/extensions/write',
  method: 'PUT',
  path: `${VM}/extensions/AzureDiskEncryption`,
  status: 201,
});
const modelPatch = (second: number): ArmLogEntry => ({
  time: at(second),
  operation: 'Microsoft.Compute/virtualMachines/write',
  method: 'PATCH',
  path: VM,
  status: 200,
});

describe('readsByStep', () => {
  it.each([
    ['reads before the extension PUT inspect the VM', [read(1), read(2), extensionPut(3)], { inspect: 2 }],
    ['single-pass: every read after the PUT waits', [read(1), extensionPut(2), read(3), read(4)], { inspect: 1, 'wait for secret': 2 }],
    [
      'aad: reads after the model PATCH verify',
      [read(1), extensionPut(2), read(3), modelPatch(4), read(5)],
      { inspect: 1, 'wait for secret': 1, verify: 1 },
    ],
    ['a VM the app never touched: inspection only', [read(1), read(2)], { inspect: 2 }],
    [
      'LRO status reads',
      [
        read(
          1,
          '/subscriptions/s1/providers/Microsoft.Compute/locations/westeurope/operations/op1',
          'Microsoft.Compute/locations/operations/read',
        ),
      ],
      { 'LRO status': 1 },
    ],
    [
      'vault reads are shared set-up',
      [read(1, '/subscriptions/s1/resourceGroups/v/providers/Microsoft.KeyVault/vaults/kv', 'Microsoft.KeyVault/vaults/read')],
      { 'vault and events': 1 },
    ],
    ['throttled reads are not counted', [read(1, VM, 'Microsoft.Compute/virtualMachines/read', 429)], {}],
  ])('%s', (_, entries, expected) => {
    const steps = readsByStep(entries);
    const nonZero = Object.fromEntries(Object.entries(steps).filter(([, n]) => n > 0));
    expect(nonZero).toEqual(expected);
  });

  it('order of entries does not matter', () => {
    const entries = [read(1), extensionPut(2), read(3), modelPatch(4), read(5)];
    expect(readsByStep([...entries].reverse())).toEqual(readsByStep(entries));
  });
});

describe('bucketFloorS', () => {
  it.each([
    [100, 0],
    [250, 0],
    [1250, 40],
  ])('%i reads against 250 + 25/s take at least %i s', (calls, floor) => {
    expect(bucketFloorS(calls, { bucketSize: 250, refillPerSecond: 25 })).toBe(floor);
  });
});
