/**
 * NCRONTAB schedules as the Functions timer trigger reads them: six fields, seconds first
 * (`{second} {minute} {hour} {day} {month} {day-of-week}`), five-field expressions (no seconds), and
 * TimeSpan intervals (`hh:mm:ss`, `d.hh:mm:ss`). Times are UTC. As in NCrontab, day-of-month and day-of-week
 * must both match when both are restricted. Cron expressions are parsed and stepped by croner (the parser the app's
 * configuration validates its NCRONTAB settings with), with NCrontab's options.
 */
import { Cron } from 'croner';

const NAMES = new Set([
  'JAN',
  'FEB',
  'MAR',
  'APR',
  'MAY',
  'JUN',
  'JUL',
  'AUG',
  'SEP',
  'OCT',
  'NOV',
  'DEC',
  'SUN',
  'MON',
  'TUE',
  'WED',
  'THU',
  'FRI',
  'SAT',
]);

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

export interface Schedule {
  expression: string;
  /** The first occurrence strictly after `afterMs` (epoch ms). */
  next(afterMs: number): number;
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
  const unknown = fields.flatMap((f) => f.match(/[A-Za-z]+/g) ?? []).find((word) => !NAMES.has(word.toUpperCase()));
  if (unknown !== undefined)
    throw new ScheduleError(`Invalid name '${unknown}' in schedule '${expression}' (NCRONTAB knows month and day names)`);
  if (fields.some((f) => !/^[0-9A-Za-z*,/-]+$/.test(f)))
    throw new ScheduleError(`Schedule '${expression}' uses characters NCRONTAB does not know`);
  let cron: Cron;
  try {
    // NCrontab: seconds first, UTC, day-of-month AND day-of-week when both are restricted.
    cron = new Cron(fields.join(' '), { timezone: 'UTC', mode: '6-part', domAndDow: true, paused: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/^CronPattern: /, '') : String(error);
    throw new ScheduleError(`Invalid schedule '${expression}': ${message}`);
  }
  return {
    expression,
    next(afterMs) {
      const next = cron.nextRun(new Date(afterMs));
      if (!next) throw new ScheduleError(`Schedule '${expression}' never fires`);
      return next.getTime();
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
