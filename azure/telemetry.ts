/**
 * The app's log records as OpenTelemetry log records, so that their fields reach Application Insights as
 * `customDimensions`. `context.log` cannot carry custom properties: the Functions Node worker formats its arguments into
 * one message string (https://learn.microsoft.com/azure/azure-functions/functions-reference-node#logging). The
 * supported way is OpenTelemetry in the worker with the Azure Monitor distro
 * (https://learn.microsoft.com/azure/azure-functions/opentelemetry-howto,
 * https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-enable?tabs=nodejs): a log record's attributes become
 * the trace's custom properties (https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-add-modify?tabs=nodejs).
 *
 * Records always go to the global OpenTelemetry logs API (`@opentelemetry/api-logs`, a no-op until a provider is
 * registered). `startAzureMonitor` registers the Azure Monitor distro once, only when `APPLICATIONINSIGHTS_CONNECTION_STRING`
 * is set, and loads it only then, so a run without Application Insights does not pay for it at cold start.
 */
import type { TokenCredential } from '@azure/core-auth';
import { logs, SeverityNumber, type AnyValueMap } from '@opentelemetry/api-logs';
import { MAX_LOG_FIELD } from '../core/telemetry';

export type TelemetryLevel = 'debug' | 'info' | 'warn' | 'error';

/** Instrumentation scope of the app's records. */
export const TELEMETRY_SCOPE = 'ade-autopilot';

const severity: Record<TelemetryLevel, { number: SeverityNumber; text: string }> = {
  debug: { number: SeverityNumber.DEBUG, text: 'DEBUG' },
  info: { number: SeverityNumber.INFO, text: 'INFO' },
  warn: { number: SeverityNumber.WARN, text: 'WARN' },
  error: { number: SeverityNumber.ERROR, text: 'ERROR' },
};

/**
 * The fields as log record attributes: strings, numbers and booleans as they are, anything else as JSON (Application
 * Insights keeps custom properties as strings), cut like the JSON line (core/telemetry.ts); undefined, null and
 * `message` left out.
 */
export function logAttributes(fields: Record<string, unknown>): AnyValueMap {
  const attributes: AnyValueMap = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null || key === 'message') continue;
    const scalar = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
    attributes[key] = typeof scalar === 'string' && scalar.length > MAX_LOG_FIELD ? `${scalar.slice(0, MAX_LOG_FIELD)}…` : scalar;
  }
  return attributes;
}

/** Emits one record through the global OpenTelemetry logs API: body = message, attributes = fields. */
export function emitLogRecord(level: TelemetryLevel, message: string, fields: Record<string, unknown>): void {
  logs.getLogger(TELEMETRY_SCOPE).emit({
    severityNumber: severity[level].number,
    severityText: severity[level].text,
    body: message,
    attributes: logAttributes(fields),
  });
}

let started = false;

/**
 * Registers the Azure Monitor OpenTelemetry distro once per process when `APPLICATIONINSIGHTS_CONNECTION_STRING` is
 * set, authenticating with the app's credential (the component disables local authentication, infra/main.json), plus
 * the Azure Functions instrumentation that correlates records with the invocation. Returns whether it is on.
 */
export function startAzureMonitor(credential: TokenCredential, env: Record<string, string | undefined>): boolean {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (started || !connectionString) return started;
  // Loaded here, not at module load: only a process that exports telemetry pays for the SDK.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { useAzureMonitor } = require('@azure/monitor-opentelemetry') as typeof import('@azure/monitor-opentelemetry');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { registerInstrumentations } = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { AzureFunctionsInstrumentation } = require('@azure/functions-opentelemetry-instrumentation') as typeof import('@azure/functions-opentelemetry-instrumentation');
  useAzureMonitor({ azureMonitorExporterOptions: { connectionString, credential } });
  registerInstrumentations({ instrumentations: [new AzureFunctionsInstrumentation()] });
  started = true;
  return started;
}
