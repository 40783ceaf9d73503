/**
 * Types and pure helpers of the self-healing, drift-remediation and sweep settings. The settings
 * themselves (ADE_HEAL_ACTION, ADE_SWEEP_*, …) are read and validated with every other setting by
 * core/config.ts `loadConfig`, which yields `AppConfig.remediation`; nothing here reads the environment.
 */
import { Cron } from 'croner';
import type { MaintenanceWindow } from './maintenance-window';

export type HealAction = 'restart' | 'maintenance-window' | 'notify-only';
export const HEAL_ACTIONS: readonly HealAction[] = ['restart', 'maintenance-window', 'notify-only'];

/** Built-in "… virtual machines should enable Azure Disk Encryption or EncryptionAtHost" (docs/ade-behaviour.md#azure-policy). */
export const DEFAULT_POLICY_DEFINITION_IDS = [
  '/providers/Microsoft.Authorization/policyDefinitions/3dc5edcd-002d-444c-b216-e123bbfa37c0',
  '/providers/Microsoft.Authorization/policyDefinitions/ca88aadc-6e2b-416c-9de2-5a0f01d1693f',
] as const;

export interface RemediationSettings {
  healAction: HealAction;
  /** Required when healAction is `maintenance-window`. */
  maintenanceWindow?: MaintenanceWindow;
  /** Policy definition ids whose NonCompliant states trigger remediation (compared case-insensitively). */
  policyDefinitionIds: string[];
  /** Most encryptions the sweep keeps in flight at once. */
  sweepConcurrency: number;
  /** ARM reads per second the sweeps may spend (the subscription bucket refills at 25/s; docs/ade-behaviour.md). */
  sweepReadsPerSecond: number;
  /** NCRONTAB of the scheduled backfill sweep; undefined = no schedule (on demand only). */
  sweepSchedule?: string;
  /** NCRONTAB of the BEK health sweep. */
  bekHealthSchedule: string;
  /** Custom Event Grid topic endpoint for outcome events; undefined = do not publish. */
  outcomeTopicEndpoint?: string;
}

const NCRONTAB_NAMES = new Set([
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

/**
 * Why a six-field NCRONTAB expression (`{second} {minute} {hour} {day} {month} {day-of-week}`, UTC) would not run, or
 * undefined when it is valid and fires. Parsed by croner, the parser the local host's timer trigger uses, with
 * NCrontab's rules: numbers, `*`, ranges, lists, steps and month/day names only (croner's `L`, `W`, `#` extensions are
 * not NCRONTAB), and day-of-month AND day-of-week when both are restricted
 * (https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions).
 */
export function ncrontabProblem(value: string, now = new Date()): string | undefined {
  const fields = value.trim().split(/\s+/);
  if (fields.length !== 6) return `has ${fields.length} field(s), not 6`;
  const unknown = fields.flatMap((f) => f.match(/[A-Za-z]+/g) ?? []).find((word) => !NCRONTAB_NAMES.has(word.toUpperCase()));
  if (unknown !== undefined) return `'${unknown}' is not an NCRONTAB month or day name`;
  if (fields.some((f) => !/^[0-9A-Za-z*,/-]+$/.test(f))) return 'uses characters NCRONTAB does not know';
  let cron: Cron;
  try {
    // utcOffset 0, not timezone 'UTC': the same schedule without Intl time-zone conversions (tens of ms at cold start).
    cron = new Cron(fields.join(' '), { utcOffset: 0, mode: '6-part', domAndDow: true, paused: true });
  } catch (error) {
    return error instanceof Error ? error.message.replace(/^CronPattern: /, '') : String(error);
  }
  return cron.nextRun(now) === null ? 'never fires' : undefined;
}

/** True for a valid six-field NCRONTAB expression that fires (see {@link ncrontabProblem}). */
export function isNcrontab(value: string): boolean {
  return ncrontabProblem(value) === undefined;
}
