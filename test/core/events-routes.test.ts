import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_ROUTES, advancedFilters, type EventRouteName, matchesRoute, parseDelivery } from '../../core/events';

const FIXTURES = join(__dirname, '..', 'fixtures', 'events');

function parsedFixture(name: string) {
  const delivery = parseDelivery(JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')));
  if (!delivery.ok) throw delivery.error;
  return delivery.value.events.map((r) => {
    if (!r.ok) throw r.error;
    return r.value;
  });
}

const arm = parsedFixture('eg-arm-batch.json');
const [vmWrite, extensionDelete, deallocate, vmWriteFailure, vaultWrite] = arm;
const [secretEvent] = parsedFixture('eg-keyvault-secret-pascal.json');
const [keyNearExpiry] = parsedFixture('eg-keyvault-camel-strings.json');
const [policyChanged, policyCreated, policyDeleted] = parsedFixture('eg-policy-states.json');

describe('EVENT_ROUTES', () => {
  it('has exactly the agreed routes and filters', () => {
    expect(EVENT_ROUTES).toEqual({
      vmWritten: {
        eventTypes: ['Microsoft.Resources.ResourceWriteSuccess', 'Microsoft.Resources.ResourceActionSuccess'],
        operationNames: [
          'Microsoft.Compute/virtualMachines/write',
          'Microsoft.Compute/virtualMachines/start/action',
          'Microsoft.Compute/virtualMachineScaleSets/write',
        ],
      },
      armDrift: {
        eventTypes: ['Microsoft.Resources.ResourceDeleteSuccess', 'Microsoft.Resources.ResourceWriteSuccess'],
        operationNames: [
          'Microsoft.Compute/virtualMachines/extensions/delete',
          'Microsoft.KeyVault/vaults/write',
          'Microsoft.KeyVault/vaults/accessPolicies/write',
        ],
        filters: [
          {
            operatorType: 'StringContains',
            key: 'subject',
            values: ['/providers/Microsoft.Compute/virtualMachines/', { configured: 'vaultResourceIdPart' }],
          },
        ],
      },
      secretEvents: { eventTypes: ['Microsoft.KeyVault.SecretNewVersionCreated'] },
      policyStates: {
        eventTypes: ['Microsoft.PolicyInsights.PolicyStateCreated', 'Microsoft.PolicyInsights.PolicyStateChanged'],
        filters: [
          { operatorType: 'StringIn', key: 'data.complianceState', values: ['NonCompliant'] },
          { operatorType: 'StringIn', key: 'data.policyDefinitionId', values: [{ configured: 'policyDefinitionIds' }] },
        ],
      },
    });
  });

  it('advancedFilters fills the configuration in: the policy definitions, the managed vaults only', () => {
    const configuration = { policyDefinitionIds: ['/p/a', '/p/b'], vaultResourceGroup: 'rg-ade-vaults' };
    expect(advancedFilters(EVENT_ROUTES.policyStates, configuration)).toEqual([
      { operatorType: 'StringIn', key: 'data.complianceState', values: ['NonCompliant'] },
      { operatorType: 'StringIn', key: 'data.policyDefinitionId', values: ['/p/a', '/p/b'] },
    ]);
    expect(advancedFilters(EVENT_ROUTES.armDrift, configuration)).toEqual([
      {
        operatorType: 'StringIn',
        key: 'data.operationName',
        values: [
          'Microsoft.Compute/virtualMachines/extensions/delete',
          'Microsoft.KeyVault/vaults/write',
          'Microsoft.KeyVault/vaults/accessPolicies/write',
        ],
      },
      {
        operatorType: 'StringContains',
        key: 'subject',
        values: ['/providers/Microsoft.Compute/virtualMachines/', '/resourceGroups/rg-ade-vaults/providers/Microsoft.KeyVault/vaults/'],
      },
    ]);
    expect(advancedFilters(EVENT_ROUTES.secretEvents, configuration)).toEqual([]);
  });

  // Rows: event, then whether each route accepts it.
  const TABLE: Array<[string, unknown, Record<EventRouteName, boolean>]> = [
    ['VM write', vmWrite, { vmWritten: true, armDrift: false, secretEvents: false, policyStates: false }],
    ['ADE extension delete', extensionDelete, { vmWritten: false, armDrift: true, secretEvents: false, policyStates: false }],
    ['VM deallocate action', deallocate, { vmWritten: false, armDrift: false, secretEvents: false, policyStates: false }],
    [
      'VM start action',
      {
        ...deallocate,
        data: { ...(deallocate as { data: object }).data, operationName: 'Microsoft.Compute/virtualMachines/start/action' },
      },
      { vmWritten: true, armDrift: false, secretEvents: false, policyStates: false },
    ],
    ['VM write failure', vmWriteFailure, { vmWritten: false, armDrift: false, secretEvents: false, policyStates: false }],
    ['vault write', vaultWrite, { vmWritten: false, armDrift: true, secretEvents: false, policyStates: false }],
    ['secret new version', secretEvent, { vmWritten: false, armDrift: false, secretEvents: true, policyStates: false }],
    ['key near expiry', keyNearExpiry, { vmWritten: false, armDrift: false, secretEvents: false, policyStates: false }],
    ['policy changed', policyChanged, { vmWritten: false, armDrift: false, secretEvents: false, policyStates: true }],
    ['policy created', policyCreated, { vmWritten: false, armDrift: false, secretEvents: false, policyStates: true }],
    ['policy deleted', policyDeleted, { vmWritten: false, armDrift: false, secretEvents: false, policyStates: false }],
  ];
  it.each(TABLE)('%s', (_label, event, expected) => {
    for (const name of Object.keys(EVENT_ROUTES) as EventRouteName[]) {
      expect({ route: name, accepted: matchesRoute(EVENT_ROUTES[name], event as never) }).toEqual({
        route: name,
        accepted: expected[name],
      });
    }
  });

  it('compares operation names and event types case-insensitively', () => {
    expect(
      matchesRoute(EVENT_ROUTES.vmWritten, {
        eventType: 'microsoft.resources.resourcewritesuccess',
        data: { operationName: 'MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE' },
      }),
    ).toBe(true);
  });

  it('rejects an operation-filtered route when the event carries no operation name', () => {
    expect(matchesRoute(EVENT_ROUTES.vmWritten, { eventType: 'Microsoft.Resources.ResourceWriteSuccess', data: {} })).toBe(false);
    expect(matchesRoute(EVENT_ROUTES.vmWritten, { eventType: 'Microsoft.Resources.ResourceWriteSuccess' })).toBe(false);
  });
});
