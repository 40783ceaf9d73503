import { describe, expect, it } from 'vitest';
import { parseSchedule, resolveSettingReferences, ScheduleError } from '../../../local/host/runtime/ncrontab';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('NCRONTAB', () => {
  const cases: [expression: string, after: string, next: string[]][] = [
    ['*/30 * * * * *', '2026-01-01T00:00:00.000Z', ['2026-01-01T00:00:30.000Z', '2026-01-01T00:01:00.000Z']],
    ['0 */5 * * * *', '2026-01-01T00:03:10.000Z', ['2026-01-01T00:05:00.000Z', '2026-01-01T00:10:00.000Z']],
    ['0 0 * * * *', '2026-01-01T00:59:59.500Z', ['2026-01-01T01:00:00.000Z']],
    ['5 30 9 * * MON-FRI', '2026-01-02T10:00:00.000Z', ['2026-01-05T09:30:05.000Z', '2026-01-06T09:30:05.000Z']], // Fri → Mon
    ['0 0 0 1 JAN *', '2026-03-01T00:00:00.000Z', ['2027-01-01T00:00:00.000Z']],
    ['0 0 12 29 2 *', '2026-01-01T00:00:00.000Z', ['2028-02-29T12:00:00.000Z']],
    // Friday the 13th: both must match
    ['0 0 0 13 * 5', '2026-01-01T00:00:00.000Z', ['2026-02-13T00:00:00.000Z', '2026-03-13T00:00:00.000Z']],
    ['10,20 0 0 * * *', '2026-01-01T00:00:10.000Z', ['2026-01-01T00:00:20.000Z', '2026-01-02T00:00:10.000Z']],
    ['0 15 10 * * 0', '2026-01-01T00:00:00.000Z', ['2026-01-04T10:15:00.000Z']], // Sunday = 0
    ['0 15 10 * * 7', '2026-01-01T00:00:00.000Z', ['2026-01-04T10:15:00.000Z']],
    ['30 * * * *', '2026-01-01T00:00:00.000Z', ['2026-01-01T00:30:00.000Z', '2026-01-01T01:30:00.000Z']], // five fields: no seconds
    ['00:05:00', '2026-01-01T00:00:00.000Z', ['2026-01-01T00:05:00.000Z', '2026-01-01T00:10:00.000Z']], // TimeSpan
    ['1.00:00:00', '2026-01-01T00:00:00.000Z', ['2026-01-02T00:00:00.000Z']],
  ];
  it.each(cases)('%s after %s', (expression, after, expected) => {
    const schedule = parseSchedule(expression);
    const seen: string[] = [];
    let t = at(after);
    for (let i = 0; i < expected.length; i++) {
      t = schedule.next(t);
      seen.push(iso(t));
    }
    expect(seen).toEqual(expected);
  });

  const invalid: [string, RegExp][] = [
    ['* * * *', /6 fields/],
    ['60 * * * * *', /Invalid schedule '60 \* \* \* \* \*': Invalid value for second/],
    ['* * 24 * * *', /Invalid value for hour/],
    ['* * * 0 * *', /Invalid value for day/],
    ['* * * * 13 *', /Invalid value for month/],
    ['* * * * * FOO', /Invalid name 'FOO'/],
    ['0 0 12 L * *', /Invalid name 'L'/], // croner's last-day extension is not NCRONTAB
    ['0 0 12 * * 5#2', /characters NCRONTAB does not know/],
    ['*/0 * * * * *', /illegal stepping/],
    ['0 0 0 31 2 *', /never fires/],
    ['00:00:00', /positive interval/],
  ];
  it.each(invalid)('rejects %s', (expression, message) => {
    expect(() => parseSchedule(expression).next(at('2026-01-01T00:00:00Z'))).toThrow(ScheduleError);
    expect(() => parseSchedule(expression).next(at('2026-01-01T00:00:00Z'))).toThrow(message);
  });

  it('resolves %Setting% references and names a missing one', () => {
    expect(resolveSettingReferences('%A%', { A: '*/5 * * * * *' })).toBe('*/5 * * * * *');
    expect(() => resolveSettingReferences('%MISSING_X%', {})).toThrow("App setting 'MISSING_X'");
  });
});
