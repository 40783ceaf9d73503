/**
 * Durable history upkeep, run by the historyPurge timer (ADE_HISTORY_PURGE_SCHEDULE):
 *
 * - purges finished runs (Completed, Failed, Terminated) created more than ADE_HISTORY_RETENTION_DAYS ago, through the
 *   Durable client's purge by filter
 *   (https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-instance-management#purge-instance-history);
 *   running instances and entity state (the vault lease, the waiters) are never touched;
 * - logs one `RunStuck` record (core/telemetry.ts) per encryption still in flight past its own timeout plus a margin,
 *   which the stuck-run alert rule counts (infra/main.json).
 */
import type { DurableClient } from 'durable-functions';
import { runView, vmIdOfRun } from '../../core/fleet-status';
import { LOG_EVENTS } from '../../core/telemetry';
import type { RunStore } from './fleet';
import type { Log } from './log';

/** A run still in flight this long after its own deadline counts as stuck. */
export const STUCK_MARGIN_MINUTES = 15;
/** Most RunStuck records one pass writes (the count is logged either way). */
const MAX_STUCK_RECORDS = 100;

export interface HistoryDeps {
  client: Pick<DurableClient, 'purgeInstanceHistoryBy'>;
  store: RunStore;
  log: Log;
  now: number;
  retentionDays: number;
  /** The encryption's own total timeout (ADE_ORCHESTRATION_TIMEOUT_MINUTES). */
  orchestrationTimeoutMinutes: number;
}

export interface HistoryResult {
  purged: number;
  stuck: number;
}

export async function maintainHistory(deps: HistoryDeps): Promise<HistoryResult> {
  const createdTimeTo = new Date(deps.now - deps.retentionDays * 86_400_000);
  const result = await deps.client.purgeInstanceHistoryBy({
    createdTimeFrom: new Date(0),
    createdTimeTo,
    runtimeStatus: ['Completed', 'Failed', 'Terminated'] as never,
  });
  const purged = Number(result?.instancesDeleted ?? 0);
  deps.log('info', 'history purged', { event: LOG_EVENTS.historyPurged, purged, createdBefore: createdTimeTo.toISOString() });

  const stuckAfterMs = (deps.orchestrationTimeoutMinutes + STUCK_MARGIN_MINUTES) * 60_000;
  const stuck = (await deps.store.listByPrefix('encrypt-')).filter(
    (r) => runView(r)?.inFlight === true && deps.now - Date.parse(r.createdTime) > stuckAfterMs,
  );
  for (const record of stuck.slice(0, MAX_STUCK_RECORDS)) {
    const run = runView(record)!;
    deps.log('warn', 'run stuck past its timeout', {
      event: LOG_EVENTS.runStuck,
      vmId: vmIdOfRun(record),
      instanceId: record.instanceId,
      phase: run.phase ?? record.runtimeStatus,
      outcome: 'stuck',
      reason: `in flight since ${record.createdTime}, past its ${deps.orchestrationTimeoutMinutes}-minute timeout`,
    });
  }
  return { purged, stuck: stuck.length };
}
