// The simulator's one clock: real time; the speed-up only shortens slow Azure operations.
import { describe, expect, it } from 'vitest';
import { checkSpeed, RealClock } from '../../../local/azure-sim/front/clock';

describe('simulator clock', () => {
  it.each([1, 60, 600])('now() is Date.now() at speed %d', async (speed) => {
    const clock = new RealClock(speed);
    expect(Math.abs(clock.now() - Date.now())).toBeLessThanOrEqual(5);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Time passes at the rate of the wall clock, whatever the speed-up.
    expect(Math.abs(clock.now() - Date.now())).toBeLessThanOrEqual(5);
  });

  it.each([
    // speed, Azure duration, shortened
    [1, 45_000, 45_000],
    [60, 12 * 60_000, 12_000],
    [600, 12 * 60_000, 1_200],
    [600, 0, 0],
  ])('at speed %d, a %d ms Azure operation takes %d ms', (speed, azureMs, realMs) => {
    expect(new RealClock(speed).shorten(azureMs)).toBe(realMs);
  });

  it('waits out a slow operation for the shortened time, and now() moves only by what really passed', async () => {
    const clock = new RealClock(600);
    const before = clock.now();
    const t0 = Date.now();
    await clock.slowOperation(3 * 60_000); // 3 min in Azure → 300 ms here
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(2_000);
    expect(clock.now() - before).toBeLessThan(2_000);
  });

  it('releases pending waits on shutdown', async () => {
    const clock = new RealClock(1);
    const wait = clock.slowOperation(3_600_000);
    clock.releaseAll();
    await expect(wait).resolves.toBeUndefined();
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses speed %d', (speed) => {
    expect(() => new RealClock(speed)).toThrow(/speed must be a positive number/);
    expect(() => checkSpeed(speed, '--speed')).toThrow(/--speed must be a positive number/);
  });
});
