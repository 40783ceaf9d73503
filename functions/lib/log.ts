/**
 * Minimal logger the pure handler cores use; functions adapt InvocationContext to it. Each record takes one path to
 * Application Insights (azure/telemetry.ts `writeLogRecord`):
 * - with the app's Azure Monitor exporter on (APPLICATIONINSIGHTS_CONNECTION_STRING set), an OpenTelemetry log record
 *   whose attributes are the fields: they arrive as `customDimensions`, which the shipped workbook and alert rules query;
 *   no `context.log` line, which the Functions host would forward to `traces` as a second copy;
 * - otherwise (no Application Insights, the local host) one JSON message through `context.log` (core/telemetry.ts), the
 *   fields inside the message, beside the OpenTelemetry record for whichever provider is registered (the local host
 *   writes it to its JSON log).
 */
import type { InvocationContext } from '@azure/functions';
import { writeLogRecord } from '../../azure/telemetry';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export function contextLog(context: Pick<InvocationContext, 'debug' | 'info' | 'warn' | 'error'>): Log {
  return (level, message, fields = {}) => writeLogRecord(context, level, message, fields);
}
