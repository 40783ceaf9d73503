/** Structured host log: one JSON object per line (or a readable line), plus an in-memory tap for tests. */
import type { HostLogger, LogLevel } from '../contract';

export interface LogRecord {
  time: string;
  level: LogLevel;
  category: string;
  message: string;
  [field: string]: unknown;
}

const levelRank: Record<LogLevel, number> = { trace: 0, debug: 1, information: 2, warning: 3, error: 4, critical: 5 };

export interface StructuredLoggerOptions {
  /** Where lines go; default: nowhere (records still reach `onRecord`). */
  write?: (line: string) => void;
  format?: 'json' | 'text';
  minLevel?: LogLevel;
  onRecord?: (record: LogRecord) => void;
}

export function createStructuredLogger(options: StructuredLoggerOptions = {}): HostLogger {
  const min = levelRank[options.minLevel ?? 'information'];
  const format = options.format ?? 'json';
  return {
    log(level, category, message, fields) {
      if ((levelRank[level] ?? 2) < min) return;
      const record: LogRecord = { time: new Date().toISOString(), level, category, message, ...fields };
      options.onRecord?.(record);
      if (!options.write) return;
      if (format === 'json') options.write(JSON.stringify(record) + '\n');
      else options.write(`[${record.time}] ${level.padEnd(11)} ${category}: ${message}\n`);
    },
  };
}

/** Collects records in memory (tests, the programmatic API). */
export function createMemoryLogger(minLevel: LogLevel = 'trace'): HostLogger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = createStructuredLogger({ minLevel, onRecord: (r) => records.push(r) });
  return { records, log: logger.log };
}
