/** Minimal logger the pure handler cores use; functions adapt InvocationContext to it. */
import type { InvocationContext } from '@azure/functions';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export function contextLog(context: InvocationContext): Log {
  return (level, message, fields) => {
    const args: unknown[] = fields ? [message, fields] : [message];
    if (level === 'debug') context.debug(...args);
    else if (level === 'info') context.info(...args);
    else if (level === 'warn') context.warn(...args);
    else context.error(...args);
  };
}
