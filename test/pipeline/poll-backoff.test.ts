// Polls of a long encryption (a Linux OS volume: hours in Azure) back off from the poll interval up to 30 minutes.
import { describe, expect, it } from 'vitest';
import { backoffPollMs } from '../../orchestrations/encrypt-vm';

describe('backoffPollMs', () => {
  it.each([
    [30_000, 0, 30_000],
    [30_000, 1, 60_000],
    [30_000, 3, 240_000],
    [30_000, 6, 1_800_000], // capped at 30 min
    [30_000, 50, 1_800_000],
    [3_600_000, 0, 3_600_000], // an interval above the cap is kept as configured
    [5_000, 2, 20_000],
  ])('base %i ms, poll %i → %i ms', (base, n, expected) => {
    expect(backoffPollMs(base, n)).toBe(expected);
  });

  it('a 3-hour encryption polled every 30 s costs 360 reads; with back-off about a dozen', () => {
    let elapsed = 0;
    let polls = 0;
    while (elapsed < 3 * 3_600_000) elapsed += backoffPollMs(30_000, polls++);
    expect(polls).toBeLessThanOrEqual(12);
  });
});
