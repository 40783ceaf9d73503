// The host's clock is real time: now() is Date.now(), timers fire when real time reaches them, however long.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRealClock } from '../../../local/host/contract';

afterEach(() => {
  vi.useRealTimers();
});

describe('host clock (real time)', () => {
  it('now() is Date.now()', () => {
    const clock = createRealClock();
    expect(Math.abs(clock.now() - Date.now())).toBeLessThanOrEqual(5);
  });

  it.each([
    ['a short wait', 1_500],
    ["a 40-day wait (beyond setTimeout's ~24.8-day cap)", 40 * 86_400_000],
  ])('fires %s exactly when due, not before', (_name, ms) => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const clock = createRealClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(Date.now()), ms);
    vi.advanceTimersByTime(ms - 1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([Date.UTC(2026, 0, 1) + ms]);
  });

  it('a cancelled timer never fires, even across a re-arm', () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const clock = createRealClock();
    let fired = false;
    const handle = clock.setTimeout(() => (fired = true), 30 * 86_400_000);
    vi.advanceTimersByTime(26 * 86_400_000); // past the first re-arm
    handle.cancel();
    vi.advanceTimersByTime(10 * 86_400_000);
    expect(fired).toBe(false);
  });
});
