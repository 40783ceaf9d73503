/**
 * Settings of the self-healing, drift-remediation and sweep features, validated once at start-up.
 *
 * Same style as core/config.ts (which is not this feature's to edit): each setting is read from its
 * raw env string, blank counts as unset, and every problem is reported together in one ConfigError.
 * The names, defaults and rules here are meant to be merged into CONFIG_SETTINGS, README and infra.
 */
import { z } from 'zod';
import { ConfigError, type ConfigIssue, type ConfigSetting } from '../config';
import { parseMaintenanceWindow, type MaintenanceWindow } from './maintenance-window';

export type HealAction = 'restart' | 'maintenance-window' | 'notify-only';
export const HEAL_ACTIONS: readonly HealAction[] = ['restart', 'maintenance-window', 'notify-only'];

/** Built-in "… virtual machines should enable Azure Disk Encryption or EncryptionAtHost" (ade.md §17). */
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
  /** ARM reads per second the sweeps may spend (the subscription bucket refills at 25/s; limits.md §1.1). */
  sweepReadsPerSecond: number;
  /** NCRONTAB of the scheduled backfill sweep; undefined = no schedule (on demand only). */
  sweepSchedule?: string;
  /** NCRONTAB of the BEK health sweep. */
  bekHealthSchedule: string;
  /** Custom Event Grid topic endpoint for outcome events; undefined = do not publish. */
  outcomeTopicEndpoint?: string;
}

export const REMEDIATION_SETTINGS: ReadonlyArray<ConfigSetting> = [
  { name: 'ADE_HEAL_ACTION', description: 'How BEK restore re-provisions key material once the secret is back: deallocate+start now, in the maintenance window, or only notify', default: 'restart', required: false, values: '`restart` | `maintenance-window` | `notify-only`' },
  { name: 'ADE_MAINTENANCE_WINDOW', description: 'Weekly UTC window for ADE_HEAL_ACTION=maintenance-window, e.g. `Sat,Sun 01:00-05:00` (end before start spans midnight)', default: '', required: false, values: '`<days> HH:MM-HH:MM` with days `Mon`…`Sun`, `*` or a range `Mon-Fri`' },
  { name: 'ADE_POLICY_DEFINITION_IDS', description: 'Policy definitions whose NonCompliant state events start a remediation', default: DEFAULT_POLICY_DEFINITION_IDS.join(','), required: false, values: 'comma-separated policy definition resource ids (at least one)' },
  { name: 'ADE_SWEEP_CONCURRENCY', description: 'Most VM encryptions a sweep keeps in flight', default: '20', required: false, values: 'integer 1–500' },
  { name: 'ADE_SWEEP_READS_PER_SECOND', description: 'ARM reads per second a sweep may spend (the subscription read bucket refills at 25/s)', default: '10', required: false, values: 'integer 1–25' },
  { name: 'ADE_SWEEP_SCHEDULE', description: 'NCRONTAB schedule of the existing-fleet sweep; empty = on demand only (POST /api/sweep)', default: '', required: false, values: 'six-field NCRONTAB or empty' },
  { name: 'ADE_BEK_HEALTH_SCHEDULE', description: 'NCRONTAB schedule of the BEK health sweep', default: '0 0 */6 * * *', required: false, values: 'six-field NCRONTAB' },
  { name: 'ADE_OUTCOME_TOPIC_ENDPOINT', description: 'Custom Event Grid topic that receives AdeAutopilot.* outcome events (the app identity needs EventGrid Data Sender); empty = none', default: '', required: false, values: 'https URL or empty' },
];

function meta(name: string): ConfigSetting {
  const found = REMEDIATION_SETTINGS.find((s) => s.name === name);
  if (!found) throw new Error(`setting ${name} has no REMEDIATION_SETTINGS entry`);
  return found;
}

function shown(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
}

/** Six space-separated NCRONTAB fields, each of the characters cron allows. */
export function isNcrontab(value: string): boolean {
  const fields = value.trim().split(/\s+/);
  return fields.length === 6 && fields.every((f) => /^[0-9*,/\-A-Za-z?]+$/.test(f));
}

const raw = (name: string, env: Record<string, string | undefined>): string => {
  const value = env[name]?.trim() ?? '';
  return value === '' ? (meta(name).default ?? '') : value;
};

const schemas = {
  ADE_HEAL_ACTION: z.string().transform((v, ctx) => {
    const match = HEAL_ACTIONS.find((a) => a === v.toLowerCase());
    if (!match) ctx.addIssue({ code: 'custom', message: `expected ${HEAL_ACTIONS.map((a) => `"${a}"`).join(', ')}; got ${shown(v)}` });
    return match as HealAction;
  }),
  ADE_MAINTENANCE_WINDOW: z.string().transform((v, ctx) => {
    if (v === '') return undefined;
    try {
      return parseMaintenanceWindow(v);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return undefined;
    }
  }),
  ADE_POLICY_DEFINITION_IDS: z.string().transform((v, ctx) => {
    const ids = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const bad = ids.filter((id) => !/^(\/[^/]+\/[^/]+)*\/providers\/Microsoft\.Authorization\/policyDefinitions\/[^/]+$/i.test(id));
    if (ids.length === 0) ctx.addIssue({ code: 'custom', message: 'expected at least one policy definition id' });
    if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `expected policy definition resource ids (…/providers/Microsoft.Authorization/policyDefinitions/<name>); invalid: ${bad.map(shown).join(', ')}` });
    return [...new Set(ids)];
  }),
  ADE_SWEEP_CONCURRENCY: intSchema(1, 500),
  ADE_SWEEP_READS_PER_SECOND: intSchema(1, 25),
  ADE_SWEEP_SCHEDULE: z.string().transform((v, ctx) => {
    if (v === '') return undefined;
    if (!isNcrontab(v)) ctx.addIssue({ code: 'custom', message: `expected a six-field NCRONTAB expression (sec min hour day month weekday) or empty; got ${shown(v)}` });
    return v;
  }),
  ADE_BEK_HEALTH_SCHEDULE: z.string().transform((v, ctx) => {
    if (!isNcrontab(v)) ctx.addIssue({ code: 'custom', message: `expected a six-field NCRONTAB expression (sec min hour day month weekday); got ${shown(v)}` });
    return v;
  }),
  ADE_OUTCOME_TOPIC_ENDPOINT: z.string().transform((v, ctx) => {
    if (v === '') return undefined;
    let url: URL | undefined;
    try {
      url = new URL(v);
    } catch {
      url = undefined;
    }
    // Only the origin and path are shown: a query string could carry a SAS token.
    if (!url || url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `expected an https URL of an Event Grid topic endpoint; got ${url ? `${url.protocol}//${url.host}${url.pathname}` : 'text that is not a URL'}` });
    else if (url.search !== '' || url.username !== '' || url.password !== '') ctx.addIssue({ code: 'custom', message: 'must not carry credentials or a query string (the app authenticates with its identity)' });
    return v;
  }),
};

function intSchema(min: number, max: number) {
  return z.string().transform((v, ctx) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) ctx.addIssue({ code: 'custom', message: `expected an integer ${min}–${max}; got ${shown(v)}` });
    return Number(v);
  });
}

/** Reads and validates the remediation settings; throws ConfigError listing every problem. */
export function loadRemediationSettings(env: Record<string, string | undefined> = process.env): RemediationSettings {
  const values: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const [name, schema] of Object.entries(schemas)) {
    const result = (schema as z.ZodType).safeParse(raw(name, env));
    if (result.success) values[name] = result.data;
    else issues.push(...result.error.issues.map((i) => ({ setting: name, message: i.message })));
  }
  if (values.ADE_HEAL_ACTION === 'maintenance-window' && values.ADE_MAINTENANCE_WINDOW === undefined && !issues.some((i) => i.setting === 'ADE_MAINTENANCE_WINDOW')) {
    issues.push({ setting: 'ADE_MAINTENANCE_WINDOW', message: 'is required when ADE_HEAL_ACTION is "maintenance-window" (e.g. "Sat,Sun 01:00-05:00")' });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const settings: RemediationSettings = {
    healAction: values.ADE_HEAL_ACTION as HealAction,
    policyDefinitionIds: values.ADE_POLICY_DEFINITION_IDS as string[],
    sweepConcurrency: values.ADE_SWEEP_CONCURRENCY as number,
    sweepReadsPerSecond: values.ADE_SWEEP_READS_PER_SECOND as number,
    bekHealthSchedule: values.ADE_BEK_HEALTH_SCHEDULE as string,
  };
  if (values.ADE_MAINTENANCE_WINDOW !== undefined) settings.maintenanceWindow = values.ADE_MAINTENANCE_WINDOW as MaintenanceWindow;
  if (values.ADE_SWEEP_SCHEDULE !== undefined) settings.sweepSchedule = values.ADE_SWEEP_SCHEDULE as string;
  if (values.ADE_OUTCOME_TOPIC_ENDPOINT !== undefined) settings.outcomeTopicEndpoint = values.ADE_OUTCOME_TOPIC_ENDPOINT as string;
  return settings;
}
