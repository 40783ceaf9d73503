import { describe, expect, it } from 'vitest';
import type { GridEvent } from '../../../local/azure-sim/contract';
import { filterProblem, matches, type SubscriptionFilter } from '../../../local/azure-sim/eventgrid/filters';

const event: GridEvent = {
  id: '1',
  topic: '/subscriptions/s',
  subject: '/subscriptions/s/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1',
  eventType: 'Microsoft.Resources.ResourceWriteSuccess',
  eventTime: '2025-01-01T00:00:00Z',
  data: {
    operationName: 'Microsoft.Compute/virtualMachines/write',
    status: 'Succeeded',
    count: 5,
    flag: true,
    tags: ['a', 'b'],
    nested: { deep: 'Value' },
  },
  dataVersion: '2',
  metadataVersion: '1',
};

describe('event subscription filters', () => {
  it.each<[string, SubscriptionFilter, boolean]>([
    ['no filter', {}, true],
    ['included event type (case-insensitive)', { includedEventTypes: ['microsoft.resources.resourcewritesuccess'] }, true],
    ['other event type', { includedEventTypes: ['Microsoft.Resources.ResourceDeleteSuccess'] }, false],
    ['subject begins with (case-insensitive by default)', { subjectBeginsWith: '/SUBSCRIPTIONS/s/resourcegroups/rg' }, true],
    ['subject begins with, case-sensitive', { subjectBeginsWith: '/SUBSCRIPTIONS', isSubjectCaseSensitive: true }, false],
    ['subject ends with', { subjectEndsWith: '/vm1' }, true],
    [
      'StringIn on data',
      { advancedFilters: [{ operatorType: 'StringIn', key: 'data.operationName', values: ['microsoft.compute/virtualmachines/write'] }] },
      true,
    ],
    [
      'StringNotIn on data',
      {
        advancedFilters: [{ operatorType: 'StringNotIn', key: 'data.operationName', values: ['Microsoft.Compute/virtualMachines/write'] }],
      },
      false,
    ],
    ['StringContains', { advancedFilters: [{ operatorType: 'StringContains', key: 'subject', values: ['virtualMachines'] }] }, true],
    [
      'StringBeginsWith on nested key',
      { advancedFilters: [{ operatorType: 'StringBeginsWith', key: 'data.nested.deep', values: ['val'] }] },
      true,
    ],
    ['NumberGreaterThan', { advancedFilters: [{ operatorType: 'NumberGreaterThan', key: 'data.count', value: 4 }] }, true],
    ['NumberLessThan fails', { advancedFilters: [{ operatorType: 'NumberLessThan', key: 'data.count', value: 5 }] }, false],
    ['NumberInRange', { advancedFilters: [{ operatorType: 'NumberInRange', key: 'data.count', values: [[1, 5]] }] }, true],
    ['BoolEquals', { advancedFilters: [{ operatorType: 'BoolEquals', key: 'data.flag', value: true }] }, true],
    ['IsNullOrUndefined on a missing key', { advancedFilters: [{ operatorType: 'IsNullOrUndefined', key: 'data.missing' }] }, true],
    ['IsNotNull on a missing key', { advancedFilters: [{ operatorType: 'IsNotNull', key: 'data.missing' }] }, false],
    ['array value without array filtering', { advancedFilters: [{ operatorType: 'StringIn', key: 'data.tags', values: ['a'] }] }, false],
    [
      'array value with array filtering',
      { enableAdvancedFilteringOnArrays: true, advancedFilters: [{ operatorType: 'StringIn', key: 'data.tags', values: ['a'] }] },
      true,
    ],
    [
      'all advanced filters must hold (AND)',
      {
        advancedFilters: [
          { operatorType: 'StringIn', key: 'data.status', values: ['Succeeded'] },
          { operatorType: 'NumberLessThan', key: 'data.count', value: 1 },
        ],
      },
      false,
    ],
  ])('%s', (_label, filter, expected) => {
    expect(matches(filter, event)).toBe(expected);
  });

  it.each<[string, SubscriptionFilter, RegExp]>([
    ['unknown operator', { advancedFilters: [{ operatorType: 'StringLike', key: 'subject' }] }, /Unknown advanced filter operatorType/],
    ['missing key', { advancedFilters: [{ operatorType: 'StringIn', key: '', values: ['x'] }] }, /needs a key/],
    [
      'too many filters',
      { advancedFilters: Array.from({ length: 26 }, () => ({ operatorType: 'IsNotNull', key: 'subject' })) },
      /At most 25/,
    ],
    [
      'too many values',
      { advancedFilters: [{ operatorType: 'StringIn', key: 'subject', values: Array.from({ length: 26 }, (_, i) => String(i)) }] },
      /at most 25 values/,
    ],
  ])('rejects %s', (_label, filter, message) => {
    expect(filterProblem(filter)).toMatch(message);
  });

  it('accepts a valid filter', () => {
    expect(
      filterProblem({ includedEventTypes: ['x'], advancedFilters: [{ operatorType: 'StringIn', key: 'data.a', values: ['b'] }] }),
    ).toBeUndefined();
  });
});
