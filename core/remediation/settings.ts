/**
 * Types and pure helpers of the self-healing, drift-remediation and sweep settings. The settings
 * themselves (ADE_HEAL_ACTION, ADE_SWEEP_*, …) are read and validated with every other setting by
 * core/config.ts `loadConfig`, which yields `AppConfig.remediation`; nothing here reads the environment.
 */
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

/** Six space-separated NCRONTAB fields, each of the characters cron allows. */
export function isNcrontab(value: string): boolean {
  const fields = value.trim().split(/\s+/);
  return fields.length === 6 && fields.every((f) => /^[0-9*,/\-A-Za-z?]+$/.test(f));
}
