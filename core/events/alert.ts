/**
 * The Azure Monitor common alert schema (`schemaId: azureMonitorCommonAlertSchema`), as posted to
 * the alert webhook by an action group. Only `essentials` is interpreted; `alertContext` varies by
 * signal type and is kept as data, with the activity-log fields the app uses lifted out.
 */
import { FieldReader, type Issue, type JsonObject, type Result, isObject, issuesToError, tryParseJson } from './fields';

export const COMMON_ALERT_SCHEMA_ID = 'azureMonitorCommonAlertSchema';
/**
 * Most targets one alert may name (README "HTTP endpoints"): an alert rule scoped wider than that should be a sweep,
 * and a body naming more is refused (400) before any target is read.
 */
export const MAX_ALERT_TARGETS = 100;

export const ALERT_SEVERITIES = ['Sev0', 'Sev1', 'Sev2', 'Sev3', 'Sev4'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export interface AlertEssentials {
  alertId: string;
  alertRule: string;
  severity: AlertSeverity;
  signalType: string;
  monitorCondition: 'Fired' | 'Resolved';
  monitoringService: string;
  /** ARM ids of the affected resources (often lower-cased: compare case-insensitively). */
  alertTargetIDs: string[];
  configurationItems?: string[];
  originAlertId?: string;
  firedDateTime: string;
  resolvedDateTime?: string;
  description?: string;
  essentialsVersion?: string;
  alertContextVersion?: string;
}

export interface CommonAlert {
  kind: 'common-alert';
  essentials: AlertEssentials;
  /** Signal-specific context, untouched. */
  alertContext: JsonObject | null;
  customProperties: Record<string, string> | null;
  /** For activity-log alerts: the ARM operation that fired it (e.g. `Microsoft.Compute/virtualMachines/write`). */
  operationName?: string;
}

/** True when a webhook body claims the common alert schema (used to tell it from Event Grid bodies). */
export function isCommonAlert(body: unknown): boolean {
  return isObject(body) && body.schemaId === COMMON_ALERT_SCHEMA_ID;
}

export function parseCommonAlert(body: unknown): Result<CommonAlert> {
  let value = body;
  if (typeof body === 'string') {
    const parsed = tryParseJson(body);
    value = parsed.ok ? parsed.value : undefined;
  }
  const issues: Issue[] = [];
  const root = FieldReader.of(value, 'alert', issues);
  if (!root) return { ok: false, error: issuesToError(issues) };
  if (root.raw('schemaId') !== COMMON_ALERT_SCHEMA_ID) {
    issues.push({
      path: 'alert.schemaId',
      problem: `expected "${COMMON_ALERT_SCHEMA_ID}" (enable the common alert schema on the action group)`,
    });
    return { ok: false, error: issuesToError(issues) };
  }
  const data = FieldReader.of(root.raw('data'), 'alert.data', issues);
  const e = data ? FieldReader.of(data.raw('essentials'), 'alert.data.essentials', issues) : undefined;
  if (!data || !e) return { ok: false, error: issuesToError(issues) };

  const severity = e.requiredString('severity');
  if (severity && !(ALERT_SEVERITIES as readonly string[]).includes(severity)) {
    issues.push({ path: e.at('severity'), problem: `expected one of ${ALERT_SEVERITIES.join(', ')}` });
  }
  const monitorCondition = e.requiredString('monitorCondition');
  if (monitorCondition && monitorCondition !== 'Fired' && monitorCondition !== 'Resolved') {
    issues.push({ path: e.at('monitorCondition'), problem: 'expected "Fired" or "Resolved"' });
  }
  const essentials: AlertEssentials = {
    alertId: e.requiredString('alertId'),
    alertRule: e.requiredString('alertRule'),
    severity: severity as AlertSeverity,
    signalType: e.requiredString('signalType'),
    monitorCondition: monitorCondition as AlertEssentials['monitorCondition'],
    monitoringService: e.requiredString('monitoringService'),
    alertTargetIDs: alertTargetsOf(e, issues),
    firedDateTime: e.requiredTimestamp('firedDateTime'),
  };
  if (Array.isArray(e.raw('configurationItems'))) essentials.configurationItems = e.requiredStringArray('configurationItems');
  for (const key of ['originAlertId', 'description', 'essentialsVersion', 'alertContextVersion'] as const) {
    const text = e.optionalString(key);
    if (text !== undefined) essentials[key] = text;
  }
  const resolved = e.optionalTimestamp('resolvedDateTime');
  if (resolved !== undefined) essentials.resolvedDateTime = resolved;

  const context = data.raw('alertContext');
  if (context !== undefined && context !== null && !isObject(context))
    issues.push({ path: 'alert.data.alertContext', problem: 'expected an object or null' });
  const custom = data.raw('customProperties');
  if (custom !== undefined && custom !== null && !isObject(custom))
    issues.push({ path: 'alert.data.customProperties', problem: 'expected an object or null' });
  if (issues.length > 0) return { ok: false, error: issuesToError(issues) };

  const alert: CommonAlert = {
    kind: 'common-alert',
    essentials,
    alertContext: isObject(context) ? context : null,
    customProperties: isObject(custom)
      ? Object.fromEntries(Object.entries(custom).filter((kv): kv is [string, string] => typeof kv[1] === 'string'))
      : null,
  };
  const operationName = isObject(context) && typeof context.operationName === 'string' ? context.operationName : undefined;
  if (operationName) alert.operationName = operationName;
  return { ok: true, value: alert };
}

function alertTargetsOf(e: FieldReader, issues: Issue[]): string[] {
  const raw = e.raw('alertTargetIDs');
  if (Array.isArray(raw) && raw.length > MAX_ALERT_TARGETS) {
    issues.push({ path: e.at('alertTargetIDs'), problem: `at most ${MAX_ALERT_TARGETS} targets per alert, got ${raw.length}` });
    return [];
  }
  return e.requiredStringArray('alertTargetIDs');
}
