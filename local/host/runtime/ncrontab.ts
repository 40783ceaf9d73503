/**
 * NCRONTAB schedules as the Functions timer trigger reads them: six fields, seconds first
 * (`{second} {minute} {hour} {day} {month} {day-of-week}`), five-field expressions (no seconds), and
 * TimeSpan intervals (`hh:mm:ss`, `d.hh:mm:ss`). Times are UTC. As in NCrontab, day-of-month and day-of-week
 * must both match when both are restricted.
 */

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

export interface Schedule {
  expression: string;
  /** The first occurrence strictly after `afterMs` (epoch ms). */
  next(afterMs: number): number;
}

const monthNames = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const dayNames = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function parseField(
  text: string,
  min: number,
  max: number,
  names: string[] | undefined,
  nameBase: number,
  label: string,
  expression: string,
): Set<number> {
  const values = new Set<number>();
  const value = (token: string): number => {
    const upper = token.toUpperCase();
    const named = names && /^[A-Z]{3,}$/.test(upper) ? names.indexOf(upper.slice(0, 3)) : -1;
    const n = named >= 0 ? named + nameBase : /^\d+$/.test(token) ? Number(token) : NaN;
    if (!Number.isInteger(n) || n < min || n > max)
      throw new ScheduleError(`Invalid ${label} '${token}' in schedule '${expression}' (allowed ${min}-${max})`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new ScheduleError(`Invalid step '${stepText}' in ${label} of schedule '${expression}'`);
    let from: number;
    let to: number;
    if (range === '*') {
      from = min;
      to = max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      from = value(a);
      to = value(b);
      if (from > to) throw new ScheduleError(`Invalid range '${range}' in ${label} of schedule '${expression}'`);
    } else {
      from = value(range);
      to = stepText === undefined ? from : max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

const timeSpanPattern = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$/;

export function parseSchedule(expression: string): Schedule {
  const trimmed = expression.trim();
  const span = timeSpanPattern.exec(trimmed);
  if (span) {
    const [, d, h, m, s] = span;
    const ms = (((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s ?? 0)) * 1000;
    if (ms <= 0) throw new ScheduleError(`Schedule '${expression}' must be a positive interval`);
    return { expression, next: (after) => after + ms };
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 6 && fields.length !== 5) {
    throw new ScheduleError(
      `Schedule '${expression}' must be an NCRONTAB expression with 6 fields (second minute hour day month day-of-week) or a TimeSpan`,
    );
  }
  if (fields.length === 5) fields.unshift('0');
  const seconds = parseField(fields[0], 0, 59, undefined, 0, 'second', expression);
  const minutes = parseField(fields[1], 0, 59, undefined, 0, 'minute', expression);
  const hours = parseField(fields[2], 0, 23, undefined, 0, 'hour', expression);
  const days = parseField(fields[3], 1, 31, undefined, 0, 'day', expression);
  const months = parseField(fields[4], 1, 12, monthNames, 1, 'month', expression);
  const weekdays = parseField(fields[5].replace(/\b7\b/g, '0'), 0, 6, dayNames, 0, 'day-of-week', expression);

  return {
    expression,
    next(afterMs) {
      const t = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
      // Bounded search: a valid expression matches within a few years (Feb 29 needs up to 8).
      const limit = afterMs + 9 * 366 * 86_400_000;
      while (t.getTime() <= limit) {
        if (!months.has(t.getUTCMonth() + 1)) {
          t.setUTCMonth(t.getUTCMonth() + 1, 1);
          t.setUTCHours(0, 0, 0);
          continue;
        }
        if (!days.has(t.getUTCDate()) || !weekdays.has(t.getUTCDay())) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0);
          continue;
        }
        if (!hours.has(t.getUTCHours())) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0);
          continue;
        }
        if (!minutes.has(t.getUTCMinutes())) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0);
          continue;
        }
        if (!seconds.has(t.getUTCSeconds())) {
          t.setUTCSeconds(t.getUTCSeconds() + 1);
          continue;
        }
        return t.getTime();
      }
      throw new ScheduleError(`Schedule '${expression}' never fires`);
    },
  };
}

/** Resolves `%Setting%` references from the environment, as binding expressions do. */
export function resolveSettingReferences(value: string, env: Record<string, string | undefined> = process.env): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const resolved = env[name];
    if (resolved === undefined) throw new ScheduleError(`App setting '${name}' referenced by '${value}' is not set`);
    return resolved;
  });
}
