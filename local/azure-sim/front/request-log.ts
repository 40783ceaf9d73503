/**
 * Request log: the last N requests in detail, plus counts per service, operation, principal and
 * status that are never truncated (the performance work counts ARM reads/writes per VM from them).
 */
export interface RequestLogEntry {
  seq: number;
  time: string;
  requestId: string;
  service: string;
  operation: string;
  method: string;
  host: string;
  path: string;
  status: number;
  /** Object id of the caller, or 'anonymous'. */
  principal: string;
  principalName?: string;
  durationMs: number;
  /** Set when fault injection produced the response. */
  fault?: boolean;
}

export interface RequestCounts {
  total: number;
  byService: Record<string, number>;
  byOperation: Record<string, number>;
  byPrincipal: Record<string, number>;
  byStatus: Record<string, number>;
  /** service → operation → principal → count */
  detailed: Record<string, Record<string, Record<string, number>>>;
}

export interface RequestQuery {
  service?: string;
  operation?: string;
  principal?: string;
  status?: number;
  sinceSeq?: number;
  limit?: number;
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private seq = 0;
  private counts: RequestCounts = emptyCounts();

  constructor(private readonly capacity = 50_000) {}

  add(entry: Omit<RequestLogEntry, 'seq'>): void {
    const full: RequestLogEntry = { seq: ++this.seq, ...entry };
    this.entries.push(full);
    if (this.entries.length > this.capacity * 1.2) this.entries = this.entries.slice(-this.capacity);
    const c = this.counts;
    c.total++;
    bump(c.byService, entry.service);
    bump(c.byOperation, `${entry.service}:${entry.operation}`);
    bump(c.byPrincipal, entry.principal);
    bump(c.byStatus, String(entry.status));
    const ops = (c.detailed[entry.service] ??= {});
    const principals = (ops[entry.operation] ??= {});
    bump(principals, entry.principal);
  }

  query(q: RequestQuery = {}): RequestLogEntry[] {
    const limit = Math.min(Math.max(q.limit ?? 1000, 1), this.capacity);
    const out: RequestLogEntry[] = [];
    for (const e of this.entries) {
      if (q.sinceSeq !== undefined && e.seq <= q.sinceSeq) continue;
      if (q.service && e.service !== q.service) continue;
      if (q.operation && !e.operation.toLowerCase().includes(q.operation.toLowerCase())) continue;
      if (q.principal && e.principal !== q.principal) continue;
      if (q.status !== undefined && e.status !== q.status) continue;
      out.push(e);
    }
    return out.slice(-limit);
  }

  getCounts(): RequestCounts {
    return structuredClone(this.counts);
  }

  lastSeq(): number {
    return this.seq;
  }

  clear(): void {
    this.entries = [];
    this.counts = emptyCounts();
  }
}

function emptyCounts(): RequestCounts {
  return { total: 0, byService: {}, byOperation: {}, byPrincipal: {}, byStatus: {}, detailed: {} };
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}
