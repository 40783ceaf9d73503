// `bench:pipeline --check` (the CI smoke size): a run passes only when every VM ended encrypted.
import { describe, expect, it } from 'vitest';
import { checkResults, checkScaleSetResults, scaleSetCallTarget, type RunResult, type ScaleSetRunResult } from '../../bench/pipeline-bench';

function run(overrides: Partial<RunResult>): RunResult {
  return { mode: 'single-pass', vms: 2, encrypted: 2, otherOutcomes: {}, failed: 0, unfinished: 0, ...overrides } as RunResult;
}

describe('bench:pipeline --check', () => {
  it.each([
    ['every VM encrypted', run({}), []],
    ['a re-run that found the VM already encrypted', run({ encrypted: 1, otherOutcomes: { 'already-encrypted': 1 } }), []],
    ['a failed VM', run({ encrypted: 1, failed: 1 }), [/single-pass N=2: 1 encrypted, 1 failed, 0 unfinished/]],
    ['an unfinished VM', run({ mode: 'aad', encrypted: 1, unfinished: 1 }), [/aad N=2: 1 encrypted, 0 failed, 1 unfinished/]],
    ['a VM skipped by policy', run({ encrypted: 1, otherOutcomes: { skipped: 1 } }), [/other \{"skipped":1\}/]],
    ['no orchestration at all', run({ encrypted: 0 }), [/0 encrypted/]],
  ])('%s', (_, result, expected) => {
    const problems = checkResults([result]);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(problems[i]).toMatch(pattern));
  });
});

describe('bench:pipeline --scale-sets', () => {
  const sets = (overrides: Partial<ScaleSetRunResult>): ScaleSetRunResult =>
    ({ scaleSets: 2, instancesPerSet: 3, encrypted: 2, otherOutcomes: {}, failed: 0, unfinished: 0, ...overrides }) as ScaleSetRunResult;

  it.each([
    ['every set encrypted', sets({}), 0],
    ['a set skipped (Flexible, excluded)', sets({ encrypted: 1, otherOutcomes: { skipped: 1 } }), 1],
    ['a set left action-required', sets({ encrypted: 1, otherOutcomes: { 'action-required': 1 } }), 1],
    ['a failed set', sets({ encrypted: 1, failed: 1 }), 1],
  ])('--check: %s', (_, result, problems) => {
    expect(checkScaleSetResults([result])).toHaveLength(problems);
  });

  const SET = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss';
  it.each([
    [`${SET}?api-version=2024-07-01`, 'scale set'],
    [`${SET}/virtualMachines?$expand=instanceView&api-version=2024-07-01`, 'instances'],
    [`${SET}/virtualMachines/0/instanceView`, 'instances'],
    [`${SET}/extensions/AzureDiskEncryption`, 'model extension'],
    [`${SET}/manualupgrade?api-version=2024-07-01`, 'manualUpgrade'],
    ['/subscriptions/s/resourceGroups/rg-ade-vaults/providers/Microsoft.KeyVault/vaults/adeap-weu-1', 'vault'],
    ['/subscriptions/s/resourceGroups/rg-ade-vaults/providers/Microsoft.EventGrid/systemTopics/t/eventSubscriptions/e', 'vault'],
    ['/subscriptions/s/providers/Microsoft.Features/providers/Microsoft.Compute/features/EncryptionAtHost', 'other'],
  ])('attributes %s to %s', (entryPath, target) => {
    expect(scaleSetCallTarget(entryPath)).toBe(target);
  });
});
