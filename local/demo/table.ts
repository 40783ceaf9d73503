/**
 * The demo's progress model and its two renderings: a table redrawn in place on a TTY, and plain
 * one-line-per-change output for logs and CI. Pure: no I/O, times passed in.
 */
import type { OsKind } from './session';

export interface VmProgress {
  name: string;
  os: OsKind;
  region: string;
  vmId: string;
  instanceId: string;
  /** Real ms when ARM accepted the VM PUT. */
  createdAt: number;
  /** What to show in the phase column. */
  phase: string;
  state: 'pending' | 'running' | 'encrypted' | 'other-outcome' | 'failed';
  /** Real ms when the run reached a terminal state. */
  doneAt?: number;
}

/** One VM as the status API answers it (`GET /api/vms/{subscription}/{resourceGroup}/{name}`), the part the demo shows. */
export interface VmStatus {
  state: 'pending' | 'encrypted' | 'failed' | 'skipped';
  phase: string;
  runs?: Array<{ outcome?: string }>;
  lastError?: { reason: string; nextStep?: string };
}

/** Folds the VM's latest status into a row; returns true when what the user sees changed. */
export function applyStatus(row: VmProgress, status: VmStatus | undefined, now: number): boolean {
  const before = `${row.state}|${row.phase}`;
  if (!status) {
    row.phase = 'waiting for the VM write event';
    row.state = 'pending';
  } else if (status.state === 'encrypted') {
    row.phase = 'encrypted';
    row.state = 'encrypted';
  } else if (status.state === 'skipped') {
    row.phase = status.runs?.[0]?.outcome ?? 'skipped';
    row.state = 'other-outcome';
  } else if (status.state === 'failed') {
    const reason = status.lastError?.reason ?? '';
    row.phase = `failed${reason ? `: ${reason.split('\n')[0]!.slice(0, 60)}` : ''}`;
    row.state = 'failed';
  } else {
    row.phase = status.phase;
    row.state = 'running';
  }
  if ((row.state === 'encrypted' || row.state === 'other-outcome' || row.state === 'failed') && row.doneAt === undefined) row.doneAt = now;
  return before !== `${row.state}|${row.phase}`;
}

export function isDone(row: VmProgress): boolean {
  return row.doneAt !== undefined;
}

/** Real time: the one clock (the simulator's speed-up shortens operations, it does not stretch time). */
function elapsed(row: VmProgress, now: number): string {
  return `${(((row.doneAt ?? now) - row.createdAt) / 1000).toFixed(1)} s`;
}

const MARK: Record<VmProgress['state'], string> = { pending: '·', running: '…', encrypted: '✔', 'other-outcome': '•', failed: '✘' };

/** The table as lines (no trailing newline), widths fitted to the content. */
export function renderTable(rows: readonly VmProgress[], now: number): string[] {
  const cells = [
    ['', 'VM', 'OS', 'Region', 'Phase', 'Elapsed'],
    ...rows.map((r) => [MARK[r.state], r.name, r.os, r.region, r.phase, elapsed(r, now)]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const lines = cells.map((c) =>
    c
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => '─'.repeat(w)).join('  '));
  const done = rows.filter(isDone).length;
  lines.push('', `${done}/${rows.length} finished`);
  return lines;
}

/** One plain progress line for a row whose phase changed. */
export function progressLine(row: VmProgress, now: number): string {
  return (
    `[${((now - row.createdAt) / 1000).toFixed(1).padStart(6)} s] ${row.name} (${row.os}, ` +
    `${row.region}): ${row.phase}${isDone(row) ? ` after ${elapsed(row, now)}` : ''}`
  );
}
