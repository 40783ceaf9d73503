/**
 * One path per record to Application Insights: once the app's Azure Monitor exporter is on, a record goes out as the
 * OpenTelemetry log record only (its fields become `customDimensions`), not also as the `context.log` line the Functions
 * host would forward to `traces`. Its own file: starting the exporter is once per process.
 */
import { logs } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { OrchestrationContext } from 'durable-functions';
import { afterAll, describe, expect, it } from 'vitest';
import { startAzureMonitor } from '../../azure/telemetry';
import { contextLog } from '../../functions/lib/log';
import { withOutcomeLog } from '../../orchestrations/steps';

const VM = '/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';
const exporter = new InMemoryLogRecordExporter();
afterAll(() => logs.disable());

/** A context whose level methods record the console lines they get. */
function recordingContext(): { lines: Array<[string, string]>; context: Record<'debug' | 'info' | 'warn' | 'error', (l: string) => void> } {
  const lines: Array<[string, string]> = [];
  const at = (level: string) => (line: string) => lines.push([level, line]);
  return { lines, context: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

function outcomeRecord(context: Record<string, unknown>): void {
  const orchestration = withOutcomeLog('encryptVm', function* () {
    yield* [];
    return { vmId: VM, outcome: 'encrypted' };
  });
  orchestration({ ...context, df: { isReplaying: false, instanceId: 'encrypt-x' } } as unknown as OrchestrationContext).next();
}

describe('records with and without the Azure Monitor exporter', () => {
  it('without it: the JSON line through context.log, and the OpenTelemetry record for the registered provider', () => {
    logs.setGlobalLoggerProvider(new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] }));
    const { lines, context } = recordingContext();
    contextLog(context)('warn', 'encryptVm failed', { vmId: VM, outcome: 'failed' });
    outcomeRecord(context);
    expect(lines).toEqual([
      ['warn', JSON.stringify({ message: 'encryptVm failed', vmId: VM, outcome: 'failed' })],
      ['info', expect.stringContaining('"message":"encryptVm encrypted"')],
    ]);
    expect(exporter.getFinishedLogRecords().map((r) => r.body)).toEqual(['encryptVm failed', 'encryptVm encrypted']);
  });

  it('with it: only the OpenTelemetry record (fields as attributes), no context.log line to be forwarded as a second trace', () => {
    const credential = { getToken: async () => null };
    const connectionString = 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/';
    expect(startAzureMonitor(credential, { APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString })).toBe(true);
    // Records go to the in-memory exporter instead of the Azure Monitor one the app just registered (nothing leaves).
    logs.disable();
    exporter.reset();
    logs.setGlobalLoggerProvider(new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] }));
    const { lines, context } = recordingContext();
    for (const level of ['debug', 'info', 'warn', 'error'] as const) contextLog(context)(level, `${level} record`, { vmId: VM });
    outcomeRecord(context);
    expect(lines).toEqual([]);
    const records = exporter.getFinishedLogRecords();
    expect(records.map((r) => [r.severityText, r.body])).toEqual([
      ['DEBUG', 'debug record'],
      ['INFO', 'info record'],
      ['WARN', 'warn record'],
      ['ERROR', 'error record'],
      ['INFO', 'encryptVm encrypted'],
    ]);
    expect(records[0]!.attributes).toEqual({ vmId: VM });
    expect(records[4]!.attributes).toMatchObject({ event: 'VmEncrypted', vmId: VM, instanceId: 'encrypt-x' });
  });
});
