/**
 * Existing-fleet sweep: per-VM rows from an assessment, report aggregation for dry runs, and the
 * two throttles that keep a 10,000-VM sweep from flooding ARM (bounded in-flight encryptions, a read
 * budget for paging) without stalling it. Pure.
 */
import { assessVm, type Assessment } from '../eligibility';
import type { EncryptionPolicy } from '../policy';
import { normaliseResourceId } from '../resource-ids';
import type { VmSnapshot } from '../vm';

/** The most VM ids a report lists; counts stay exact beyond it. */
export const REPORT_LIST_LIMIT = 5000;

export interface SweepRow {
  /** Canonical (lower-case) VM id. */
  vmId: string;
  name: string;
  osType: VmSnapshot['osType'];
  /** An assessment decision, or for BEK health sweeps `bek-missing` / `bek-healthy`. */
  decision: Assessment['decision'] | 'bek-missing' | 'bek-healthy';
  /** `encrypt`, `already-encrypted`, or the skip/unsupported reason code. */
  reason: string;
  detail?: string;
}

export function sweepRowOf(vm: VmSnapshot, policy: EncryptionPolicy): SweepRow {
  const assessment = assessVm(vm, policy);
  const row: SweepRow = {
    vmId: normaliseResourceId(vm.id, 'vm.id'),
    name: vm.name,
    osType: vm.osType,
    decision: assessment.decision,
    reason: assessment.decision,
  };
  if (assessment.decision === 'skip' || assessment.decision === 'unsupported') {
    row.reason = assessment.reason;
    row.detail = assessment.detail;
  } else if (assessment.decision === 'already-encrypted') {
    row.detail = `${assessment.mode}; evidence: ${assessment.evidence}`;
  }
  return row;
}

/** Decisions that mean the sweep acts on the VM. */
const CHANGE_DECISIONS: ReadonlySet<SweepRow['decision']> = new Set(['encrypt', 'bek-missing']);

export interface SweepReport {
  total: number;
  /** Count per decision: encrypt, already-encrypted, skip, unsupported. */
  byDecision: Record<string, number>;
  /** Count per `decision/reason`, e.g. `skip/exclusion-tag`. */
  byReason: Record<string, number>;
  /** VMs the sweep would change: encrypt, or restore for BEK health sweeps (first REPORT_LIST_LIMIT). */
  wouldChange: Array<{ vmId: string; name: string; osType: VmSnapshot['osType'] }>;
  /** How many more would change than `wouldChange` lists. */
  wouldChangeNotListed: number;
}

export function emptyReport(): SweepReport {
  return { total: 0, byDecision: {}, byReason: {}, wouldChange: [], wouldChangeNotListed: 0 };
}

/** Adds rows to a report (returns a new report; inputs untouched, for durable replay). */
export function addToReport(report: SweepReport, rows: readonly SweepRow[]): SweepReport {
  const next: SweepReport = {
    total: report.total,
    byDecision: { ...report.byDecision },
    byReason: { ...report.byReason },
    wouldChange: [...report.wouldChange],
    wouldChangeNotListed: report.wouldChangeNotListed,
  };
  for (const row of rows) {
    next.total++;
    next.byDecision[row.decision] = (next.byDecision[row.decision] ?? 0) + 1;
    const key = row.decision === row.reason ? row.decision : `${row.decision}/${row.reason}`;
    next.byReason[key] = (next.byReason[key] ?? 0) + 1;
    if (CHANGE_DECISIONS.has(row.decision)) {
      if (next.wouldChange.length < REPORT_LIST_LIMIT) next.wouldChange.push({ vmId: row.vmId, name: row.name, osType: row.osType });
      else next.wouldChangeNotListed++;
    }
  }
  return next;
}

/** Which queued VMs to start now so that no more than `cap` run at once. */
export function fillSlots<T>(queue: readonly T[], inFlight: number, cap: number): { start: T[]; rest: T[] } {
  const room = Math.max(0, cap - inFlight);
  return { start: queue.slice(0, room), rest: queue.slice(room) };
}

/**
 * How long to wait before the next `cost` reads so that reads since `startedAtMs` stay within
 * `readsPerSecond` on average (0 when within budget). Deterministic: callers pass orchestration time.
 */
export function readBudgetDelayMs(readsSoFar: number, cost: number, startedAtMs: number, nowMs: number, readsPerSecond: number): number {
  const earliest = startedAtMs + ((readsSoFar + cost) / readsPerSecond) * 1000;
  return Math.max(0, Math.ceil(earliest - nowMs));
}

export interface SweepProgress {
  phase: 'listing' | 'encrypting' | 'done';
  subscriptionIndex: number;
  subscriptions: number;
  pages: number;
  report: Pick<SweepReport, 'total' | 'byDecision'>;
  started: number;
  inFlight: number;
  completed: number;
  failed: number;
}
