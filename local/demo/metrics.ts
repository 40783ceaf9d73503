/**
 * Figures the demo and the pipeline benchmark report, computed from the simulator's request-log counts
 * (`GET /_sim/requests/counts`, never truncated) and from per-VM timings. Pure functions.
 */

/** The shape of `GET /_sim/requests/counts` this module reads: service → operation → principal → count. */
export interface RequestCountsSnapshot {
  detailed: Record<string, Record<string, Record<string, number>>>;
}

export interface PrincipalCalls {
  armReads: number;
  armWrites: number;
  armDeletes: number;
  graphReads: number;
  graphWrites: number;
  keyVaultOperations: number;
  /** Azure Resource Graph queries: their own per-user quota, not ARM's read or write buckets. */
  resourceGraphQueries: number;
  /** Token requests (Entra), for completeness. */
  other: Record<string, number>;
}

function armClass(operation: string): 'read' | 'write' | 'delete' {
  const verb = operation.slice(operation.lastIndexOf('/') + 1).toLowerCase();
  if (verb === 'read') return 'read';
  if (verb === 'delete') return 'delete';
  return 'write'; // write and action (POST) both spend ARM's write budget
}

/** Graph operation names start with the HTTP method ("POST applications/{id}/addPassword"). */
function graphIsRead(operation: string): boolean {
  return /^(GET|HEAD)\b/i.test(operation);
}

/** What one principal did between two snapshots (after − before). */
export function callsBy(principal: string, before: RequestCountsSnapshot | undefined, after: RequestCountsSnapshot): PrincipalCalls {
  const out: PrincipalCalls = {
    armReads: 0,
    armWrites: 0,
    armDeletes: 0,
    graphReads: 0,
    graphWrites: 0,
    keyVaultOperations: 0,
    resourceGraphQueries: 0,
    other: {},
  };
  for (const [service, operations] of Object.entries(after.detailed)) {
    for (const [operation, byPrincipal] of Object.entries(operations)) {
      const n = (byPrincipal[principal] ?? 0) - (before?.detailed[service]?.[operation]?.[principal] ?? 0);
      if (n <= 0) continue;
      if (service === 'arm' && operation.toLowerCase().startsWith('microsoft.resourcegraph/')) {
        out.resourceGraphQueries += n;
      } else if (service === 'arm') {
        const cls = armClass(operation);
        if (cls === 'read') out.armReads += n;
        else if (cls === 'write') out.armWrites += n;
        else out.armDeletes += n;
      } else if (service === 'graph') {
        if (graphIsRead(operation)) out.graphReads += n;
        else out.graphWrites += n;
      } else if (service === 'keyvault') {
        out.keyVaultOperations += n;
      } else {
        out.other[service] = (out.other[service] ?? 0) + n;
      }
    }
  }
  return out;
}

/** Nearest-rank percentile (p in 0–100) of unsorted values; undefined for an empty list. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function perVm(total: number, vms: number): number {
  return vms === 0 ? 0 : total / vms;
}

/** "1.00" style ratios; integers stay integers. */
export function ratio(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

export function seconds(ms: number | undefined): string {
  return ms === undefined ? '–' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
