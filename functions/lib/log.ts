/**
 * Minimal logger the pure handler cores use; functions adapt InvocationContext to it. Each record is one JSON message
 * (core/telemetry.ts): the Functions Node worker passes `context.log` arguments on as one formatted string, so fields
 * travel inside it, where Application Insights queries read them with `parse_json(message)`.
 */
import type { InvocationContext } from '@azure/functions';
import { logLine } from '../../core/telemetry';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export function contextLog(context: Pick<InvocationContext, 'debug' | 'info' | 'warn' | 'error'>): Log {
  return (level, message, fields) => {
    const line = logLine(message, fields);
    if (level === 'debug') context.debug(line);
    else if (level === 'info') context.info(line);
    else if (level === 'warn') context.warn(line);
    else context.error(line);
  };
}
