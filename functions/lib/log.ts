/**
 * Minimal logger the pure handler cores use; functions adapt InvocationContext to it. Each record goes out twice:
 * - as one JSON message through `context.log` (core/telemetry.ts): the Functions Node worker passes its arguments on as
 *   one formatted string, so there the fields travel inside the message (the local host's log and `traces.message`);
 * - as an OpenTelemetry log record whose attributes are the fields (azure/telemetry.ts): with Application Insights
 *   configured they arrive as `customDimensions`, which the shipped workbook and alert rules query.
 */
import type { InvocationContext } from '@azure/functions';
import { emitLogRecord } from '../../azure/telemetry';
import { logLine } from '../../core/telemetry';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export function contextLog(context: Pick<InvocationContext, 'debug' | 'info' | 'warn' | 'error'>): Log {
  return (level, message, fields = {}) => {
    const line = logLine(message, fields);
    if (level === 'debug') context.debug(line);
    else if (level === 'info') context.info(line);
    else if (level === 'warn') context.warn(line);
    else context.error(line);
    emitLogRecord(level, message, fields);
  };
}
