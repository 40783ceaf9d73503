/**
 * A weekly maintenance window in UTC, e.g. `Sat,Sun 01:00-05:00` or `Mon-Fri 22:00-02:00` (an end
 * before the start spans midnight into the next day). BEK restores with ADE_HEAL_ACTION
 * `maintenance-window` wait on a durable timer until the window opens, so the deallocate/start
 * (downtime) lands when the owners expect it.
 */
import { ValidationError } from '../errors';

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export interface MaintenanceWindow {
  /** Days the window opens on, 0 = Sunday (UTC). */
  days: number[];
  /** Minutes after midnight UTC. */
  startMinute: number;
  /** Length in minutes (1–1440). */
  durationMinutes: number;
}

function fail(text: string, problem: string): never {
  throw new ValidationError(`maintenance window ${JSON.stringify(text)}: ${problem}`, { field: 'ADE_MAINTENANCE_WINDOW' });
}

function minuteOf(text: string, part: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(part);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) fail(text, `expected a time HH:MM (00:00–23:59), got ${JSON.stringify(part)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

function dayOf(text: string, name: string): number {
  const index = DAY_NAMES.indexOf(name.toLowerCase().slice(0, 3) as (typeof DAY_NAMES)[number]);
  if (index < 0 || name.length < 3) fail(text, `unknown day ${JSON.stringify(name)} (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)`);
  return index;
}

export function parseMaintenanceWindow(text: string): MaintenanceWindow {
  const m = /^\s*(\S+)\s+(\S+)-(\S+)\s*$/.exec(text);
  if (!m) fail(text, 'expected "<days> HH:MM-HH:MM", e.g. "Sat,Sun 01:00-05:00"');
  const [, daysPart, from, to] = m;
  const days = new Set<number>();
  for (const item of daysPart.split(',')) {
    if (item === '*') [0, 1, 2, 3, 4, 5, 6].forEach((d) => days.add(d));
    else if (item.includes('-')) {
      const [a, b] = item.split('-');
      const start = dayOf(text, a);
      const end = dayOf(text, b);
      for (let d = start; ; d = (d + 1) % 7) {
        days.add(d);
        if (d === end) break;
      }
    } else days.add(dayOf(text, item));
  }
  const startMinute = minuteOf(text, from);
  const endMinute = minuteOf(text, to);
  const durationMinutes = endMinute > startMinute ? endMinute - startMinute : endMinute + 1440 - startMinute;
  return { days: [...days].sort((a, b) => a - b), startMinute, durationMinutes };
}

/**
 * When the window is (or next becomes) open at or after `now`: `now` itself while inside a window,
 * otherwise the next opening. Deterministic: orchestrators pass `currentUtcDateTime`.
 */
export function nextWindowOpening(window: MaintenanceWindow, now: Date): Date {
  const dayMs = 86_400_000;
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  // Look back one day (a window that opened yesterday may still be open) and ahead a week.
  for (let offset = -1; offset <= 7; offset++) {
    const dayStart = midnight + offset * dayMs;
    const weekday = new Date(dayStart).getUTCDay();
    if (!window.days.includes(weekday)) continue;
    const opens = dayStart + window.startMinute * 60_000;
    const closes = opens + window.durationMinutes * 60_000;
    if (now.getTime() < closes) return new Date(Math.max(opens, now.getTime()));
  }
  throw new Error('internal: a weekly window with at least one day always opens within a week');
}

export function isInsideWindow(window: MaintenanceWindow, now: Date): boolean {
  return nextWindowOpening(window, now).getTime() === now.getTime();
}
