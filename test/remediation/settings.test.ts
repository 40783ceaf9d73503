// The remediation settings themselves are validated by core/config (test/core/config.test.ts).
import { describe, expect, it } from 'vitest';
import { isInsideWindow, nextWindowOpening, parseMaintenanceWindow } from '../../core/remediation/maintenance-window';

describe('maintenance window', () => {
  it.each([
    ['* 00:00-23:59', { days: [0, 1, 2, 3, 4, 5, 6], startMinute: 0, durationMinutes: 1439 }],
    ['Mon-Fri 22:00-02:00', { days: [1, 2, 3, 4, 5], startMinute: 1320, durationMinutes: 240 }],
    ['Fri-Mon 03:30-04:00', { days: [0, 1, 5, 6], startMinute: 210, durationMinutes: 30 }],
    ['sunday 12:00-12:00', { days: [0], startMinute: 720, durationMinutes: 1440 }],
  ])('parses %s', (text, expected) => {
    expect(parseMaintenanceWindow(text)).toEqual(expected);
  });

  // 2026-11-27 is a Friday.
  it.each([
    ['Sat,Sun 01:00-05:00', '2026-11-27T10:00:00Z', '2026-11-28T01:00:00.000Z'],
    ['Sat,Sun 01:00-05:00', '2026-11-28T02:00:00Z', '2026-11-28T02:00:00.000Z'],
    ['Sat,Sun 01:00-05:00', '2026-11-29T05:00:00Z', '2026-12-05T01:00:00.000Z'],
    ['Fri 23:00-02:00', '2026-11-28T01:30:00Z', '2026-11-28T01:30:00.000Z'],
    ['Fri 23:00-02:00', '2026-11-28T02:00:00Z', '2026-12-04T23:00:00.000Z'],
    ['* 00:00-23:59', '2026-11-27T23:59:30Z', '2026-11-28T00:00:00.000Z'],
  ])('%s at %s opens %s', (text, now, expected) => {
    const window = parseMaintenanceWindow(text);
    const opening = nextWindowOpening(window, new Date(now));
    expect(opening.toISOString()).toBe(expected);
    expect(isInsideWindow(window, new Date(now))).toBe(opening.getTime() === Date.parse(now));
  });
});
