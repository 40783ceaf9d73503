import { describe, expect, it } from 'vitest';
import { buildOutcomeEvent, OUTCOME_EVENT_TYPES, remediationEventType } from '../../core/remediation/outcomes';
import {
  addToReport,
  emptyReport,
  fillSlots,
  readBudgetDelayMs,
  REPORT_LIST_LIMIT,
  sweepRowOf,
  type SweepRow,
} from '../../core/remediation/sweep';
import type { VmSnapshot } from '../../core/vm';
import { basePolicy, loadVm } from './helpers';

/** A fleet built by construction: we know how many of each kind there are. */
function fleet(counts: { plain: number; excluded: number; encrypted: number; deallocated: number; eah: number }): VmSnapshot[] {
  const base = loadVm('win-sp-encrypted');
  const out: VmSnapshot[] = [];
  const make = (kind: string, i: number): VmSnapshot => {
    const vm = structuredClone(base);
    vm.name = `${kind}-${i}`;
    vm.id = vm.id.replace(/win-enc-01$/, vm.name);
    if (kind !== 'encrypted') {
      vm.extensions = [];
      vm.instanceView = { statuses: [{ code: `PowerState/${kind === 'deallocated' ? 'deallocated' : 'running'}` }], disks: [] };
      vm.powerState = kind === 'deallocated' ? 'deallocated' : 'running';
    }
    if (kind === 'excluded') vm.tags = { 'ade-autopilot': 'skip' };
    if (kind === 'eah') vm.securityProfile = { encryptionAtHost: true };
    return vm;
  };
  for (const [kind, n] of Object.entries(counts)) for (let i = 0; i < n; i++) out.push(make(kind, i));
  return out;
}

describe('sweep report', () => {
  it('counts per decision and reason match the fleet; only encryptable VMs are listed', () => {
    const counts = { plain: 230, excluded: 120, encrypted: 100, deallocated: 30, eah: 20 };
    const policy = basePolicy();
    const rows = fleet(counts).map((vm) => sweepRowOf(vm, policy));
    // Pages of 100, as the sweep adds them.
    let report = emptyReport();
    for (let i = 0; i < rows.length; i += 100) report = addToReport(report, rows.slice(i, i + 100));
    expect(report.total).toBe(500);
    expect(report.byDecision).toEqual({
      encrypt: counts.plain,
      skip: counts.excluded + counts.deallocated,
      'already-encrypted': counts.encrypted,
      unsupported: counts.eah,
    });
    expect(report.byReason).toEqual({
      encrypt: 230,
      'skip/exclusion-tag': 120,
      'already-encrypted': 100,
      'skip/vm-not-running': 30,
      'unsupported/encryption-at-host': 20,
    });
    expect(report.wouldChange).toHaveLength(counts.plain);
    expect(report.wouldChange.every((v) => v.vmId.includes('/plain-'))).toBe(true);
    expect(report.wouldChangeNotListed).toBe(0);
  });

  it('does not mutate its input and caps the listed VMs', () => {
    const row: SweepRow = { vmId: '/x', name: 'x', osType: 'Linux', decision: 'encrypt', reason: 'encrypt' };
    const before = emptyReport();
    const frozen = JSON.stringify(before);
    const after = addToReport(
      before,
      Array.from({ length: REPORT_LIST_LIMIT + 7 }, () => row),
    );
    expect(JSON.stringify(before)).toBe(frozen);
    expect(after.wouldChange).toHaveLength(REPORT_LIST_LIMIT);
    expect(after.wouldChangeNotListed).toBe(7);
  });
});

describe('throttles', () => {
  it.each([
    [[1, 2, 3, 4, 5], 0, 3, [1, 2, 3]],
    [[1, 2, 3], 2, 3, [1]],
    [[1, 2, 3], 3, 3, []],
    [[1, 2, 3], 5, 3, []],
    [[], 0, 3, []],
  ])('fillSlots(%j, inFlight=%i, cap=%i)', (queue, inFlight, cap, start) => {
    const result = fillSlots(queue, inFlight, cap);
    expect(result.start).toEqual(start);
    expect([...result.start, ...result.rest]).toEqual(queue);
  });

  it.each([
    // reads so far, cost, elapsed ms, reads/s → wait ms
    [0, 1, 0, 10, 100],
    [9, 1, 1000, 10, 0],
    [20, 5, 1000, 10, 1500],
    [100, 1, 60_000, 10, 0],
  ])('readBudgetDelayMs(%i, %i, elapsed %i, %i/s) = %i', (reads, cost, elapsed, rps, wait) => {
    expect(readBudgetDelayMs(reads, cost, 1_000_000, 1_000_000 + elapsed, rps)).toBe(wait);
  });
});

describe('outcome events', () => {
  const at = new Date('2026-11-27T10:00:00Z');
  const vmId = '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';

  const base = { orchestration: 'restoreBek', instanceId: 'restore-1', vmId, reason: 'r' } as const;
  const reference = buildOutcomeEvent(
    OUTCOME_EVENT_TYPES.bekRestored,
    { ...base, action: 'restore', operatorAction: undefined },
    at,
    'run-1',
  );

  it('builds an Event Grid event with a UUID-shaped id and drops undefined fields', () => {
    expect(reference).toMatchObject({
      eventType: 'AdeAutopilot.BekRestored',
      subject: vmId,
      eventTime: '2026-11-27T10:00:00.000Z',
      dataVersion: '1.0',
    });
    expect(reference.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect('operatorAction' in reference.data).toBe(false);
  });

  it.each([
    // what differs from the reference event → same id?
    ['nothing (a replayed or retried publish)', OUTCOME_EVENT_TYPES.bekRestored, base, at, 'run-1', true],
    [
      'subject case, reason and time only',
      OUTCOME_EVENT_TYPES.bekRestored,
      { ...base, vmId: vmId.toUpperCase(), reason: 'other' },
      new Date('2026-11-28T00:00:00Z'),
      'run-1',
      true,
    ],
    ['the run (a later run on the same VM reuses the instance id)', OUTCOME_EVENT_TYPES.bekRestored, base, at, 'run-2', false],
    ['the event type', OUTCOME_EVENT_TYPES.unrecoverable, base, at, 'run-1', false],
    ['the instance', OUTCOME_EVENT_TYPES.bekRestored, { ...base, instanceId: 'restore-2' }, at, 'run-1', false],
    ['the VM', OUTCOME_EVENT_TYPES.bekRestored, { ...base, vmId: `${vmId}2` }, at, 'run-1', false],
  ] as const)('id when %s differs: same=%s', (_what, type, data, when, runId, same) => {
    const other = buildOutcomeEvent(type, data, when, runId);
    expect(other.id === reference.id).toBe(same);
  });

  it('refuses an empty run id (ids would repeat across runs)', () => {
    expect(() => buildOutcomeEvent(OUTCOME_EVENT_TYPES.vmEncrypted, base, at, '')).toThrow(/runId is empty/);
  });

  it('sweeps without a VM get a synthetic subject', () => {
    expect(
      buildOutcomeEvent(
        OUTCOME_EVENT_TYPES.sweepCompleted,
        { orchestration: 'sweep', instanceId: 'sweep-fleet', reason: 'done' },
        at,
        'run-1',
      ).subject,
    ).toBe('/ade-autopilot/sweep/sweep-fleet');
  });

  it.each([
    ['encrypt', true, 'AdeAutopilot.VmEncrypted'],
    ['encrypt', false, 'AdeAutopilot.EncryptionFailed'],
    ['restore', true, 'AdeAutopilot.BekRestored'],
    ['restore', false, 'AdeAutopilot.Unrecoverable'],
    ['repair-vault', true, 'AdeAutopilot.DriftRemediated'],
    ['redeploy-extension', true, 'AdeAutopilot.DriftRemediated'],
  ])('%s succeeded=%s → %s', (action, ok, type) => {
    expect(remediationEventType(action, ok)).toBe(type);
  });
});
