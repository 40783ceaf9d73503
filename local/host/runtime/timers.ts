/**
 * Timer triggers on the host clock. Each timer function runs as a singleton (runs never overlap, as with the
 * real host's blob lease); a run that finds its next occurrence already past fires again at once with
 * IsPastDue. With a state folder, the schedule status persists so a restarted host catches up a missed
 * occurrence with IsPastDue = true, like the real host's `timers/` status blobs.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { HostClock, HostLogger, RegisteredFunction } from '../contract';
import type { LoadedApp } from './load-app';
import { errorMessage } from './load-app';
import { parseSchedule, resolveSettingReferences, type Schedule } from './ncrontab';

export interface TimerStatus {
  last: string;
  next: string;
  lastUpdated: string;
}

/** PascalCase timer payload, as the host sends it (the library camel-cases it). */
export function timerPayload(status: TimerStatus | null, isPastDue: boolean, adjustForDst = true) {
  return {
    Schedule: { AdjustForDST: adjustForDst },
    ScheduleStatus: status ? { Last: status.last, Next: status.next, LastUpdated: status.lastUpdated } : null,
    IsPastDue: isPastDue,
  };
}

export interface TimerScheduler {
  start(): Promise<void>;
  stop(): void;
  /** Schedules (resolved) by function name. */
  schedules(): Record<string, string>;
}

interface TimerEntry {
  fn: RegisteredFunction;
  schedule: Schedule;
  runOnStartup: boolean;
  useMonitor: boolean;
  nextDue: number;
  status: TimerStatus | null;
  handle?: { cancel(): void };
  running: boolean;
}

/** Resolves and validates every timer's schedule; throws (a startup error) on a bad one. */
export function createTimerScheduler(runtime: LoadedApp, clock: HostClock, logger: HostLogger, stateDir?: string): TimerScheduler {
  const entries: TimerEntry[] = [];
  for (const fn of runtime.list()) {
    if (fn.trigger.type !== 'timerTrigger') continue;
    const raw = fn.trigger.schedule;
    if (typeof raw !== 'string' || raw.trim() === '') throw new Error(`Timer function '${fn.name}' has no schedule`);
    let schedule: Schedule;
    try {
      schedule = parseSchedule(resolveSettingReferences(raw));
      schedule.next(clock.now()); // a schedule that never fires fails the start, not the first tick
    } catch (err) {
      throw new Error(`Timer function '${fn.name}': ${errorMessage(err)}`);
    }
    entries.push({
      fn,
      schedule,
      runOnStartup: fn.trigger.runOnStartup === true,
      useMonitor: fn.trigger.useMonitor !== false,
      nextDue: 0,
      status: null,
      running: false,
    });
  }
  const statusFile = stateDir ? path.join(stateDir, 'timers.json') : undefined;
  let stopped = false;

  const persisted = (): Record<string, TimerStatus> => {
    if (!statusFile || !fs.existsSync(statusFile)) return {};
    try {
      return JSON.parse(fs.readFileSync(statusFile, 'utf8')) as Record<string, TimerStatus>;
    } catch {
      return {};
    }
  };
  const persist = () => {
    if (!statusFile) return;
    const all: Record<string, TimerStatus> = {};
    for (const e of entries) if (e.status && e.useMonitor) all[e.fn.name] = e.status;
    const tmp = `${statusFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(all));
    fs.renameSync(tmp, statusFile);
  };

  const arm = (entry: TimerEntry) => {
    if (stopped) return;
    entry.handle?.cancel();
    entry.handle = clock.setTimeout(() => void fire(entry, false), Math.max(0, entry.nextDue - clock.now()));
  };

  async function fire(entry: TimerEntry, isPastDue: boolean): Promise<void> {
    if (stopped || entry.running) return;
    entry.running = true;
    const firedAt = clock.now();
    const payload = timerPayload(entry.status, isPastDue);
    try {
      await runtime.invoke(entry.fn.name, { triggerData: { json: JSON.stringify(payload) } });
    } catch (err) {
      logger.log('error', `Function.${entry.fn.name}`, `Timer function '${entry.fn.name}' failed: ${errorMessage(err)}`, {
        functionName: entry.fn.name,
      });
    } finally {
      entry.running = false;
    }
    const now = clock.now();
    const scheduled = entry.nextDue;
    entry.nextDue = entry.schedule.next(Math.max(firedAt, scheduled));
    entry.status = {
      last: new Date(firedAt).toISOString(),
      next: new Date(entry.nextDue).toISOString(),
      lastUpdated: new Date(now).toISOString(),
    };
    try {
      persist();
    } catch (err) {
      logger.log('warning', 'Host.Timers', `Cannot persist timer status: ${errorMessage(err)}`);
    }
    if (stopped) return;
    // The run outlasted the interval: the next occurrence is already due.
    if (entry.nextDue <= now) {
      entry.nextDue = now;
      void fire(entry, true);
    } else arm(entry);
  }

  return {
    schedules: () => Object.fromEntries(entries.map((e) => [e.fn.name, e.schedule.expression])),
    async start() {
      const saved = persisted();
      const now = clock.now();
      const catchUp: TimerEntry[] = [];
      for (const entry of entries) {
        const status = entry.useMonitor ? saved[entry.fn.name] : undefined;
        entry.status = status ?? null;
        const savedNext = status ? Date.parse(status.next) : NaN;
        if (Number.isFinite(savedNext) && savedNext <= now) {
          entry.nextDue = savedNext;
          catchUp.push(entry);
        } else {
          entry.nextDue = entry.schedule.next(now);
        }
      }
      for (const entry of entries) {
        if (catchUp.includes(entry)) void fire(entry, true);
        else if (entry.runOnStartup) void fire(entry, false);
        else arm(entry);
      }
    },
    stop() {
      stopped = true;
      for (const entry of entries) entry.handle?.cancel();
    },
  };
}
