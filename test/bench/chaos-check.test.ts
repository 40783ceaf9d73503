// `npm run chaos -- --check` (the CI smoke size): a run passes only when every convergence goal is met.
import { describe, expect, it } from 'vitest';
import { checkChaos, seededRandom, type ChaosResult } from '../../bench/chaos-bench';

function result(overrides: Partial<ChaosResult>): ChaosResult {
  return {
    mode: 'aad',
    vms: 4,
    speed: 600,
    faultRate: 0.1,
    copies: 3,
    kills: 1,
    faultsInjected: 12,
    encrypted: 4,
    skipped: {},
    notEncrypted: [],
    multipleExtensionDeployments: 0,
    maxExtensionDeploymentsPerVm: 1,
    livePasswordsBeforeJanitor: 2,
    livePasswordsLeft: 0,
    stuckRuns: 0,
    failedRunsBeforeRepair: 1,
    sweepRounds: 2,
    secretsFound: 0,
    makespanS: 40,
    seed: 7,
    ...overrides,
  };
}

describe('chaos --check', () => {
  it.each<[string, ChaosResult, RegExp[]]>([
    ['every goal met (failures the repair sweep fixed and passwords the janitor removed are fine)', result({}), []],
    ['no faults asked for, none injected', result({ faultRate: 0, faultsInjected: 0 }), []],
    [
      'a VM not encrypted',
      result({ encrypted: 3, notEncrypted: ['chaos-win-0: notEncrypted; run Failed boom'] }),
      [/^aad \(4 VMs, seed 7\): encrypted 3\/4 \(goal 100 %\); not encrypted: chaos-win-0: notEncrypted; run Failed boom$/],
    ],
    ['a VM skipped', result({ encrypted: 3, skipped: { 'vm-not-running': 1 } }), [/encrypted 3\/4 .*skipped \{"vm-not-running":1\}/]],
    [
      'a duplicate extension deployment',
      result({ mode: 'single-pass', multipleExtensionDeployments: 2, maxExtensionDeploymentsPerVm: 3 }),
      [/^single-pass \(4 VMs, seed 7\): 2 VMs with more than one extension deployment \(up to 3; goal 0\)$/],
    ],
    ['a password left', result({ livePasswordsLeft: 1 }), [/: 1 live passwords left after the janitor/]],
    ['a stuck run', result({ stuckRuns: 2 }), [/: 2 stuck runs/]],
    ['a secret in durable history', result({ secretsFound: 1 }), [/: 1 secrets found/]],
    ['faults asked for, none injected', result({ faultsInjected: 0 }), [/no fault injected at a fault rate of 0.1/]],
    [
      'several goals missed: each one named',
      result({ encrypted: 0, notEncrypted: ['a', 'b', 'c', 'd'], stuckRuns: 4, secretsFound: 3 }),
      [/encrypted 0\/4/, /4 stuck runs/, /3 secrets found/],
    ],
  ])('%s', (_, r, expected) => {
    const problems = checkChaos([r]);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(problems[i]).toMatch(pattern));
  });

  it('reports every mode that missed a goal, and only those', () => {
    const problems = checkChaos([result({ mode: 'aad' }), result({ mode: 'single-pass', livePasswordsLeft: 1 })]);
    expect(problems).toEqual(['single-pass (4 VMs, seed 7): 1 live passwords left after the janitor (goal 0)']);
  });

  it('lists at most five VMs not encrypted', () => {
    const names = Array.from({ length: 8 }, (_, i) => `vm-${i}`);
    const [problem] = checkChaos([result({ vms: 8, encrypted: 0, notEncrypted: names })]);
    expect(problem).toContain('vm-4 | …');
    expect(problem).not.toContain('vm-5');
  });
});

describe('chaos --seed', () => {
  it('gives the same sequence for the same seed and another for another seed, in [0, 1)', () => {
    const draw = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 1000 }, () => random());
    };
    const a = draw(42);
    expect(draw(42)).toEqual(a);
    expect(draw(43)).not.toEqual(a);
    expect(a.every((x) => x >= 0 && x < 1)).toBe(true);
    // Roughly uniform: a tenth of the draws under 0.1 (the fault rate's use), within a wide margin.
    const under = a.filter((x) => x < 0.1).length;
    expect(under).toBeGreaterThan(60);
    expect(under).toBeLessThan(140);
  });
});
