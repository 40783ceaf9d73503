/**
 * The app's structured log records. The Functions Node worker turns `context.log(...)` arguments into one message
 * string (util.format) and offers no custom properties on it
 * (https://learn.microsoft.com/azure/azure-functions/functions-reference-node#logging), so through `context.log` every
 * record is one JSON object in the message:
 * `{"message": …, "event": …, "vmId": …, "instanceId": …, "phase": …, "outcome": …, "reason": …}`. The same record also
 * goes out as an OpenTelemetry log record with the fields as attributes (azure/telemetry.ts), which Application Insights
 * keeps as `customDimensions`; the shipped workbook and alert rules read those (infra/main.json).
 */
import { runView, vmIdOfRun } from './fleet-status';

/** The dimensions every outcome record carries (when known). */
export const LOG_DIMENSIONS = ['event', 'vmId', 'instanceId', 'phase', 'outcome', 'reason'] as const;

/** Events the workbook and alert rules query. */
export const LOG_EVENTS = {
  vmEncrypted: 'VmEncrypted',
  encryptionFailed: 'EncryptionFailed',
  bekUnrecoverable: 'BekUnrecoverable',
  remediationFailed: 'RemediationFailed',
  runCompleted: 'RunCompleted',
  runStuck: 'RunStuck',
  historyPurged: 'HistoryPurged',
} as const;

/** Longest string field kept whole in a record (longer ones are cut). */
export const MAX_LOG_FIELD = 2_000;

/** One record as the message string: JSON, undefined fields left out, long strings cut. */
export function logLine(message: string, fields: Record<string, unknown> = {}): string {
  const record: Record<string, unknown> = { message };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || key === 'message') continue;
    record[key] = typeof value === 'string' && value.length > MAX_LOG_FIELD ? `${value.slice(0, MAX_LOG_FIELD)}…` : value;
  }
  return JSON.stringify(record);
}

/** The record an orchestration writes when it ends (once, not on replay). */
export function runOutcomeRecord(
  orchestration: string,
  instanceId: string,
  output: unknown,
): { message: string; fields: Record<string, unknown> } | undefined {
  const record = { instanceId, name: orchestration, runtimeStatus: 'Completed', output, createdTime: '', lastUpdatedTime: '' };
  const run = runView(record);
  if (!run) return undefined;
  const event =
    (orchestration === 'encryptVm' || orchestration === 'encryptAtHost') && run.outcome === 'encrypted'
      ? LOG_EVENTS.vmEncrypted
      : (orchestration === 'encryptVm' || orchestration === 'encryptAtHost') && run.failed
        ? LOG_EVENTS.encryptionFailed
        : orchestration === 'restoreBek' && run.outcome === 'unrecoverable'
          ? LOG_EVENTS.bekUnrecoverable
          : run.failed
            ? LOG_EVENTS.remediationFailed
            : LOG_EVENTS.runCompleted;
  return {
    message: `${orchestration} ${run.outcome ?? 'completed'}`,
    fields: {
      event,
      vmId: vmIdOfRun(record),
      instanceId,
      orchestration,
      phase: run.failed ? 'failed' : 'done',
      outcome: run.outcome,
      reason: run.reason,
      nextStep: run.nextStep,
    },
  };
}
