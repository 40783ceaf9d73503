/**
 * The historyPurge timer's core (functions/lib/history.ts): purge by filter with the retention cut-off and only
 * finished statuses, and one RunStuck record per encryption in flight past its timeout.
 */
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../core/fleet-status';
import { orchestrationInstanceId } from '../../core/names';
import { maintainHistory, STUCK_MARGIN_MINUTES } from '../../functions/lib/history';
import type { RunStore } from '../../functions/lib/fleet';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const vm = (name: string) =>
  `/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${name}`;
const run = (name: string, runtimeStatus: string, minutesAgo: number): RunRecord => ({
  instanceId: orchestrationInstanceId(vm(name)),
  name: 'encryptVm',
  runtimeStatus,
  customStatus: { orchestration: 'encryptVm', vmId: vm(name), phase: 'waiting-for-secret' },
  output: null,
  createdTime: new Date(NOW - minutesAgo * 60_000).toISOString(),
  lastUpdatedTime: new Date(NOW - 60_000).toISOString(),
});

function harness(records: RunRecord[], deleted = 3) {
  const purges: unknown[] = [];
  const logs: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const store: RunStore = {
    listByPrefix: (p) => Promise.resolve(records.filter((r) => r.instanceId.startsWith(p))),
    get: () => Promise.resolve(undefined),
  };
  const client = {
    purgeInstanceHistoryBy: (filter: unknown) => {
      purges.push(filter);
      return Promise.resolve({ instancesDeleted: deleted });
    },
  };
  return {
    purges,
    logs,
    deps: {
      client,
      store,
      log: (level: string, message: string, fields?: Record<string, unknown>) => logs.push({ level, message, fields }),
      now: NOW,
    },
  };
}

describe('maintainHistory', () => {
  it.each([1, 30, 3650])('purges finished runs created more than %i days ago', async (retentionDays) => {
    const h = harness([]);
    const result = await maintainHistory({ ...h.deps, retentionDays, orchestrationTimeoutMinutes: 120 });
    expect(h.purges).toEqual([
      {
        createdTimeFrom: new Date(0),
        createdTimeTo: new Date(NOW - retentionDays * 86_400_000),
        runtimeStatus: ['Completed', 'Failed', 'Terminated'],
      },
    ]);
    expect(result.purged).toBe(3);
    expect(h.logs).toContainEqual({
      level: 'info',
      message: 'history purged',
      fields: expect.objectContaining({ event: 'HistoryPurged', purged: 3 }),
    });
  });

  it('logs RunStuck for each encryption in flight past its timeout and margin, nothing for the others', async () => {
    const timeout = 120;
    const past = timeout + STUCK_MARGIN_MINUTES + 1;
    const h = harness([
      run('stuck-1', 'Running', past),
      run('stuck-2', 'Pending', past * 3),
      run('young', 'Running', timeout),
      run('done-long-ago', 'Completed', past * 10),
    ]);
    const result = await maintainHistory({ ...h.deps, retentionDays: 30, orchestrationTimeoutMinutes: timeout });
    expect(result.stuck).toBe(2);
    const stuck = h.logs.filter((l) => l.fields?.event === 'RunStuck');
    expect(stuck.map((l) => [l.level, l.fields!.vmId, l.fields!.phase, l.fields!.outcome])).toEqual([
      ['warn', vm('stuck-1'), 'waiting-for-secret', 'stuck'],
      ['warn', vm('stuck-2'), 'waiting-for-secret', 'stuck'],
    ]);
    expect(stuck[0]!.fields!.instanceId).toBe(orchestrationInstanceId(vm('stuck-1')));
  });
});
