// `bench:pipeline --check` (the CI smoke size): a run passes only when every VM ended encrypted.
import { describe, expect, it } from 'vitest';
import { checkResults, type RunResult } from '../../bench/pipeline-bench';

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
