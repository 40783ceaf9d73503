/**
 * The app's log records as OpenTelemetry log records, so that their fields reach Application Insights as
 * `customDimensions`. `context.log` cannot carry custom properties: the Functions Node worker formats its arguments into
 * one message string (https://learn.microsoft.com/azure/azure-functions/functions-reference-node#logging). The
 * supported way is OpenTelemetry in the worker exporting to Azure Monitor
 * (https://learn.microsoft.com/azure/azure-functions/opentelemetry-howto,
 * https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-enable?tabs=nodejs): a log record's attributes become
 * the trace's custom properties (https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-add-modify?tabs=nodejs).
 *
 * Records always go to the global OpenTelemetry logs API (`@opentelemetry/api-logs`, a no-op until a provider is
 * registered); the JSON console line only while the app exports nothing itself (`writeLogRecord`). `startAzureMonitor`
 * turns on the Azure Monitor log exporter, only when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set, and the exporter is
 * loaded and registered just before the first record, so no start-up pays for it (cold start, bench/README.md): records
 * are written by invocations, never at load.
 */
import type { TokenCredential } from '@azure/core-auth';
import { logs, SeverityNumber, type AnyValueMap } from '@opentelemetry/api-logs';
import { logLine, MAX_LOG_FIELD } from '../core/telemetry';

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

/** Where the JSON console line goes: `context.log`'s level methods (an InvocationContext or OrchestrationContext). */
export type ConsoleLines = Record<TelemetryLevel, (line: string) => void>;

/**
 * Writes one record on one path to Application Insights. With the app's Azure Monitor exporter on (`startAzureMonitor`),
 * the OpenTelemetry log record alone: it carries the fields as `customDimensions`, which the workbook and alert rules
 * read, whereas the Functions host forwards `context.log` lines to Application Insights as `traces` too
 * (https://learn.microsoft.com/azure/azure-functions/configure-monitoring), which would put every record
 * into `traces` twice. Without the exporter (no Application Insights, or the local host): the JSON line through
 * `context.log` (readable, the fields inside the message) and the OpenTelemetry record for whatever provider is
 * registered (the local host writes it to its JSON log; otherwise the API is a no-op).
 */
export function writeLogRecord(console: ConsoleLines, level: TelemetryLevel, message: string, fields: Record<string, unknown>): void {
  if (!provider && !pendingExport) console[level](logLine(message, fields));
  emitLogRecord(level, message, fields);
}

/** Emits one record through the global OpenTelemetry logs API: body = message, attributes = fields. */
export function emitLogRecord(level: TelemetryLevel, message: string, fields: Record<string, unknown>): void {
  if (pendingExport) registerExporter(pendingExport);
  logs.getLogger(TELEMETRY_SCOPE).emit({
    severityNumber: severity[level].number,
    severityText: severity[level].text,
    body: message,
    attributes: logAttributes(fields),
  });
}

let provider: { forceFlush(): Promise<void> } | undefined;
/** What startAzureMonitor was given, until the first record registers the exporter. */
let pendingExport: { connectionString: string; credential: TokenCredential | (() => TokenCredential) } | undefined;

/**
 * Registers, once per process and only when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set, an OpenTelemetry logger
 * provider that exports to Application Insights with the Azure Monitor log exporter
 * (https://learn.microsoft.com/azure/azure-functions/opentelemetry-howto, JavaScript), authenticating with the app's
 * credential (the component refuses local authentication, infra/main.json). Only logs: the Functions host already
 * records requests and dependencies, and the full distro (`@azure/monitor-opentelemetry`) costs about twice the start-up
 * time. Returns whether export is on. The exporter is loaded and registered at the first record (emitLogRecord), and
 * `credential` (or the function returning it) is used only then; an exporter that cannot be built (a malformed
 * connection string) throws from that first record, and the next record tries again.
 */
export function startAzureMonitor(credential: TokenCredential | (() => TokenCredential), env: Record<string, string | undefined>): boolean {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (provider || pendingExport) return true;
  if (!connectionString) return false;
  pendingExport = { connectionString, credential };
  return true;
}

function registerExporter({ connectionString, credential }: NonNullable<typeof pendingExport>): void {
  // Loaded here, not at module load: only a process that exports telemetry pays for the SDK, at its first record.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { AzureMonitorLogExporter } =
    require('@azure/monitor-opentelemetry-exporter') as typeof import('@azure/monitor-opentelemetry-exporter');
  const { BatchLogRecordProcessor, LoggerProvider } = require('@opentelemetry/sdk-logs') as typeof import('@opentelemetry/sdk-logs');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const exporter = new AzureMonitorLogExporter({
    connectionString,
    credential: typeof credential === 'function' ? credential() : credential,
  });
  const sdk = new LoggerProvider({ processors: [new BatchLogRecordProcessor({ exporter })] });
  logs.setGlobalLoggerProvider(sdk);
  provider = sdk;
  pendingExport = undefined;
}

/** Exports the records still batched (before the worker stops); nothing to do when export is off. */
export async function flushTelemetry(): Promise<void> {
  await provider?.forceFlush();
}
