// `npm run chaos -- --check` (the CI smoke size): a run passes only when every convergence goal is met.
import { describe, expect, it } from 'vitest';
import {
  checkChaos,
  KILL_FROM,
  KILL_TO,
  killDue,
  planKills,
  progressOf,
  seededRandom,
  type ChaosResult,
  type KillRecord,
  type RunProgress,
} from '../../bench/chaos-bench';

const kill = (overrides: Partial<KillRecord>): KillRecord => ({
  n: 1,
  milestone: 0.3,
  atS: 21.5,
  readS: 21.2,
  activeRuns: 3,
  listedRuns: 4,
  terminalRuns: 1,
  ...overrides,
});

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
    killLog: [kill({})],
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
    ['no kills asked for', result({ kills: 0, killLog: [] }), []],
    [
      'a kill that never fired (the first pass ended first)',
      result({ killLog: [kill({}), kill({ n: 2, milestone: 0.85, atS: null, activeRuns: 0, listedRuns: 4, terminalRuns: 4 })] }),
      [/^aad \(4 VMs, seed 7\): kill 2\/2 \(milestone 0\.85\) never fired: the first pass ended first \(4\/4 runs terminal\)$/],
    ],
    [
      'a kill that hit no active run',
      result({ killLog: [kill({ atS: 9.25, activeRuns: 0, listedRuns: 0, terminalRuns: 0 })] }),
      [/^aad \(4 VMs, seed 7\): kill 1\/1 \(milestone 0\.30\) at 9\.3 s hit no active run \(0 of 0 non-terminal\)$/],
    ],
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

describe('chaos kill scheduling', () => {
  const at = (vms: number, listed: number, terminal: number): RunProgress => ({ vms, listed, terminal });

  it.each<[string, RunProgress, number]>([
    ['nothing listed yet', at(100, 0, 0), 0],
    ['half the runs started', at(100, 50, 0), 0.25],
    ['every run started, none finished', at(100, 100, 0), 0.5],
    ['every run started, 60 finished', at(100, 100, 60), 0.8],
    ['every run finished', at(100, 100, 100), 1],
    ['duplicate listings counted once per VM', at(4, 6, 5), 1],
    ['no VMs', at(0, 0, 0), 1],
  ])('progress: %s', (_, p, expected) => {
    expect(progressOf(p)).toBeCloseTo(expected, 10);
  });

  it.each<[string, number, RunProgress, number, boolean]>([
    ['before the host lists any run', 0.05, at(100, 0, 0), 1, false],
    ['milestone not reached', 0.4, at(100, 60, 0), 1, false],
    ['milestone reached, runs active', 0.3, at(100, 60, 0), 1, true],
    ['exactly at the milestone', 0.5, at(100, 100, 0), 1, true],
    ['late milestone, the last runs still active', 0.85, at(100, 100, 75), 1, true],
    ['milestone reached but every listed run terminal', 0.3, at(100, 60, 60), 1, false],
    ['fewer active runs than asked for', 0.3, at(100, 60, 58), 3, false],
    ['as many active runs as asked for', 0.3, at(100, 60, 57), 3, true],
    ['smoke size: three of four finished, one active', 0.85, at(4, 4, 3), 1, true],
    ['smoke size: all four finished', 0.85, at(4, 4, 4), 1, false],
  ])('kill due: %s', (_, milestone, p, minActive, expected) => {
    expect(killDue(milestone, p, minActive)).toBe(expected);
  });

  it.each([1, 20, 92394623, 4294967295])('seed %i: the same sorted plan each time, inside the active phase', (seed) => {
    const plan = planKills(seededRandom(seed), 5);
    expect(planKills(seededRandom(seed), 5)).toEqual(plan);
    expect(plan).toHaveLength(5);
    expect([...plan].sort((a, b) => a - b)).toEqual(plan);
    for (const m of plan) {
      expect(m).toBeGreaterThanOrEqual(KILL_FROM);
      expect(m).toBeLessThan(KILL_TO);
      // Every milestone is reachable with a run still active: the first pass passes it before it ends.
      expect(killDue(m, at(100, 100, 0))).toBe(m <= 0.5);
      expect(killDue(m, at(100, 100, Math.max(0, Math.ceil(100 * (2 * m - 1)))))).toBe(true);
    }
  });

  it.each([1, 2, 3, 5, 8])('%i kills: one milestone in each equal slice of the range, for any seed', (kills) => {
    const slice = (KILL_TO - KILL_FROM) / kills;
    for (const seed of [0, 20, 4242]) {
      const plan = planKills(seededRandom(seed), kills);
      plan.forEach((m, i) => {
        expect(m).toBeGreaterThanOrEqual(KILL_FROM + i * slice);
        expect(m).toBeLessThan(KILL_FROM + (i + 1) * slice);
      });
    }
  });

  it('draws the extremes of a slice from the extremes of the generator', () => {
    const draws = [0, 0.999999];
    const plan = planKills(() => draws.shift()!, 2);
    expect(plan[0]).toBeCloseTo(KILL_FROM, 10);
    expect(plan[1]).toBeCloseTo(KILL_TO, 5);
    expect(plan[1]).toBeLessThan(KILL_TO);
  });

  it('spreads the kills over the active phase across seeds, not only its start', () => {
    const all = Array.from({ length: 200 }, (_, seed) => planKills(seededRandom(seed), 5)).flat();
    const starting = all.filter((m) => m < 0.5).length / all.length;
    // Uniform in [0.05, 0.8): 60 % while runs are being started, 40 % while they finish.
    expect(starting).toBeGreaterThan(0.55);
    expect(starting).toBeLessThan(0.65);
    expect(Math.min(...all)).toBeLessThan(0.1);
    expect(Math.max(...all)).toBeGreaterThan(0.75);
  });

  it('gives another plan for another seed', () => {
    expect(planKills(seededRandom(20), 2)).not.toEqual(planKills(seededRandom(21), 2));
  });
});
