/**
 * The host's stand-in for the worker's OpenTelemetry log exporter. In Azure the app registers the Azure Monitor distro,
 * whose exporter turns each OpenTelemetry log record's attributes into the trace's `customDimensions`
 * (https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-add-modify?tabs=nodejs). Here the host registers
 * a logger provider on the global OpenTelemetry logs API (shared by every copy of `@opentelemetry/api-logs` in the
 * process) and writes each record to its JSON log with the attributes as top-level fields, attributed to the invocation
 * that emitted it. The host never imports the app: the app reaches this provider through the global API only.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { logs, type LogRecord as OtelLogRecord, type Logger, type LoggerProvider } from '@opentelemetry/api-logs';
import type { HostLogger, LogLevel } from '../contract';

interface Sink {
  logger: HostLogger;
  functionName?: string;
  invocationId?: string;
}

const invocationSink = new AsyncLocalStorage<Sink>();
/** Records emitted outside an invocation (app start-up) go to the host that loaded an app last. */
let startupSink: Sink | undefined;
let registered = false;

/** Fields the host's record owns; an attribute of the same name is kept as `attributes.<name>`. */
const RESERVED = new Set(['time', 'level', 'category', 'message', 'functionName', 'invocationId', 'logCategory', 'source']);

function hostLevel(severity: number | undefined): LogLevel {
  // OpenTelemetry severity numbers: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL.
  if (severity === undefined || severity === 0) return 'information';
  if (severity <= 4) return 'trace';
  if (severity <= 8) return 'debug';
  if (severity <= 12) return 'information';
  if (severity <= 16) return 'warning';
  if (severity <= 20) return 'error';
  return 'critical';
}

function write(record: OtelLogRecord): void {
  const sink = invocationSink.getStore() ?? startupSink;
  if (!sink) return;
  const fields: Record<string, unknown> = { logCategory: 'user', source: 'OpenTelemetry' };
  if (sink.functionName) Object.assign(fields, { functionName: sink.functionName, invocationId: sink.invocationId });
  for (const [key, value] of Object.entries(record.attributes ?? {})) fields[RESERVED.has(key) ? `attributes.${key}` : key] = value;
  const category = sink.functionName ? `Function.${sink.functionName}.User` : 'Host.User';
  const body = record.body;
  sink.logger.log(hostLevel(record.severityNumber), category, typeof body === 'string' ? body : JSON.stringify(body ?? ''), fields);
}

const hostLoggerProvider: LoggerProvider = {
  getLogger(): Logger {
    return { emit: write, enabled: () => true };
  },
};

/** Registers the host's provider on the global OpenTelemetry logs API (once per process) and routes start-up records to `logger`. */
export function installOtelLogs(logger: HostLogger): void {
  startupSink = { logger };
  if (registered) return;
  logs.setGlobalLoggerProvider(hostLoggerProvider);
  registered = true;
}

/** Runs one invocation so that the records it emits are attributed to it and written to its host's log. */
export function withInvocationLogs<T>(sink: Sink, run: () => Promise<T>): Promise<T> {
  return invocationSink.run(sink, run);
}
