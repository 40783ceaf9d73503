/**
 * Azure Resource Graph (`POST /providers/Microsoft.ResourceGraph/resources`), the subset the app and its tests use:
 *
 *  - tables `Resources` (virtual machines, their extensions, scale sets) and `ResourceContainers` (subscriptions, with
 *    `properties.managementGroupAncestorsChain`); scopes `subscriptions` and `managementGroups` (every subscription under
 *    the group and its descendants);
 *  - operators `where` (`==`, `=~`, `!=`, `!~`, `in`, `in~`, `and`, `or`, parentheses; dotted property paths),
 *    `project` and `order by … asc|desc`; anything else is refused with Resource Graph's `InvalidQuery` error;
 *  - paging (https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data): `$top` at most 1,000
 *    (default 1,000), `$skip`, and `$skipToken` (opaque; `$skip` overrides its offset), `totalRecords`, `count`,
 *    `resultTruncated`;
 *  - authorization: rows only from resources the caller may read (Reader on the subscription, or a narrower grant);
 *  - throttling per user (https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests):
 *    a quota of 15 queries per 5-second window, reported in `x-ms-user-quota-remaining` and
 *    `x-ms-user-quota-resets-after` (hh:mm:ss); over it, 429 `RateLimiting`.
 *
 * Resource Graph has its own quota: its queries spend no ARM read or write tokens.
 */
import type { SimRequest, SimResponse } from '../contract';
import type { Authorizer } from './authz';
import { armError, eq, errorBody, json } from './http';

export type GraphRow = Record<string, unknown>;

export interface ResourceGraphDeps {
  /** Rows of `Resources` and `ResourceContainers`, built on demand from the simulator's state. */
  tables(): { Resources: GraphRow[]; ResourceContainers: GraphRow[] };
  authz: Authorizer;
  now(): number;
  /** Subscriptions the management group (and its descendants) holds; undefined for an unknown group. */
  managementGroupSubscriptions?(groupId: string): string[] | undefined;
}

export interface GraphQuota {
  queries: number;
  windowMs: number;
}

export const DEFAULT_GRAPH_QUOTA: GraphQuota = { queries: 15, windowMs: 5_000 };
const MAX_TOP = 1000;

// ---- query language subset -----------------------------------------------------------------------

type Expr =
  | { kind: 'cmp'; path: string[]; op: '==' | '=~' | '!=' | '!~'; value: string }
  | { kind: 'in'; path: string[]; caseless: boolean; values: string[] }
  | { kind: 'and' | 'or'; left: Expr; right: Expr };

export interface GraphQuery {
  table: 'Resources' | 'ResourceContainers';
  filters: Expr[];
  project?: string[];
  order?: { path: string[]; desc: boolean };
}

class QueryError extends Error {}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(?:('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(=~|!~|==|!=|in~|[|(),.]|[A-Za-z_$][A-Za-z0-9_$-]*)|(\S))/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && m[0] !== '') {
    if (m[3] !== undefined) throw new QueryError(`unexpected character '${m[3]}'`);
    tokens.push(m[1] ?? m[2]!);
    if (re.lastIndex >= text.length) break;
  }
  return tokens;
}

export function parseGraphQuery(text: string): GraphQuery {
  if (typeof text !== 'string' || text.trim() === '') throw new QueryError('the query is empty');
  if (text.length > 20_000) throw new QueryError('the query is longer than 20,000 characters');
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => {
    const t = tokens[i++];
    if (t === undefined) throw new QueryError('the query ends unexpectedly');
    return t;
  };
  const expect = (t: string) => {
    const got = next();
    if (got.toLowerCase() !== t.toLowerCase()) throw new QueryError(`expected '${t}', found '${got}'`);
  };
  const string = (): string => {
    const t = next();
    if (!/^['"]/.test(t)) throw new QueryError(`expected a string literal, found '${t}'`);
    return t.slice(1, -1).replace(/\\(.)/g, '$1');
  };
  const path = (): string[] => {
    const parts = [next()];
    if (!/^[A-Za-z_$]/.test(parts[0]!)) throw new QueryError(`expected a column, found '${parts[0]}'`);
    while (peek() === '.') {
      i++;
      parts.push(next());
    }
    return parts;
  };
  const primary = (): Expr => {
    if (peek() === '(') {
      i++;
      const e = or();
      expect(')');
      return e;
    }
    const p = path();
    const op = next().toLowerCase();
    if (op === 'in' || op === 'in~') {
      expect('(');
      const values = [string()];
      while (peek() === ',') {
        i++;
        values.push(string());
      }
      expect(')');
      return { kind: 'in', path: p, caseless: op === 'in~', values };
    }
    if (op === '==' || op === '=~' || op === '!=' || op === '!~') return { kind: 'cmp', path: p, op, value: string() };
    throw new QueryError(`operator '${op}' is not supported`);
  };
  const and = (): Expr => {
    let e = primary();
    while (peek()?.toLowerCase() === 'and') {
      i++;
      e = { kind: 'and', left: e, right: primary() };
    }
    return e;
  };
  const or = (): Expr => {
    let e = and();
    while (peek()?.toLowerCase() === 'or') {
      i++;
      e = { kind: 'or', left: e, right: and() };
    }
    return e;
  };

  const tableName = next();
  const table = eq(tableName, 'Resources') ? 'Resources' : eq(tableName, 'ResourceContainers') ? 'ResourceContainers' : undefined;
  if (!table) throw new QueryError(`table '${tableName}' is not supported`);
  const query: GraphQuery = { table, filters: [] };
  while (i < tokens.length) {
    expect('|');
    const op = next().toLowerCase();
    if (op === 'where') query.filters.push(or());
    else if (op === 'project') {
      const columns = [next()];
      while (peek() === ',') {
        i++;
        columns.push(next());
      }
      query.project = columns;
    } else if (op === 'order' || op === 'sort') {
      expect('by');
      const p = path();
      let desc = true; // Kusto's default order is descending
      if (peek()?.toLowerCase() === 'asc' || peek()?.toLowerCase() === 'desc') desc = next().toLowerCase() === 'desc';
      query.order = { path: p, desc };
    } else throw new QueryError(`operator '${op}' is not supported`);
  }
  return query;
}

function valueAt(row: GraphRow, path: readonly string[]): unknown {
  let v: unknown = row;
  for (const p of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    const record = v as Record<string, unknown>;
    // Kusto column names are case-sensitive; property bags are matched as stored.
    v = record[p];
  }
  return v;
}

function text(v: unknown): string {
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

function matches(row: GraphRow, e: Expr): boolean {
  switch (e.kind) {
    case 'and':
      return matches(row, e.left) && matches(row, e.right);
    case 'or':
      return matches(row, e.left) || matches(row, e.right);
    case 'in': {
      const v = text(valueAt(row, e.path));
      return e.values.some((x) => (e.caseless ? x.toLowerCase() === v.toLowerCase() : x === v));
    }
    case 'cmp': {
      const v = text(valueAt(row, e.path));
      const same = e.op === '=~' || e.op === '!~' ? v.toLowerCase() === e.value.toLowerCase() : v === e.value;
      return e.op === '==' || e.op === '=~' ? same : !same;
    }
  }
}

// ---- the service -----------------------------------------------------------------------------------

function queryError(message: string, headers: Record<string, string>): SimResponse {
  return json(
    400,
    errorBody('BadRequest', 'Please provide below info when asking for support: timestamp and correlation id.', [
      {
        code: 'InvalidQuery',
        message:
          'Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the query before you ' +
          'try again.',
      },
      { code: 'ParserFailure', message },
    ]),
    headers,
  );
}

function resetsAfter(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

export class ResourceGraph {
  quota: GraphQuota = { ...DEFAULT_GRAPH_QUOTA };
  private readonly windows = new Map<string, { start: number; used: number }>();

  constructor(private readonly deps: ResourceGraphDeps) {}

  query(req: SimRequest, principalId: string, platform: boolean): SimResponse {
    if (req.method !== 'POST')
      throw armError(405, 'MethodNotAllowed', `The requested resource does not support http method '${req.method}'.`);
    // Quota first: a refused query still counts, as in Azure.
    const now = this.deps.now();
    const key = principalId.toLowerCase();
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.quota.windowMs) {
      w = { start: now, used: 0 };
      this.windows.set(key, w);
    }
    w.used += 1;
    const remaining = Math.max(0, this.quota.queries - w.used);
    const headers = {
      'x-ms-user-quota-remaining': String(remaining),
      'x-ms-user-quota-resets-after': resetsAfter(w.start + this.quota.windowMs - now),
    };
    if (w.used > this.quota.queries) {
      throw armError(
        429,
        'RateLimiting',
        'Please provide below info when asking for support: timestamp and correlation id. Client application has been throttled and ' +
          'should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.',
        headers,
      );
    }
    const body = (req.json ?? {}) as {
      query?: unknown;
      subscriptions?: unknown;
      managementGroups?: unknown;
      options?: { $top?: unknown; $skip?: unknown; $skipToken?: unknown; resultFormat?: unknown };
    };
    if (typeof body.query !== 'string') throw armError(400, 'BadRequest', "The request body must have a 'query' string.");
    let parsed: GraphQuery;
    try {
      parsed = parseGraphQuery(body.query);
    } catch (error) {
      if (error instanceof QueryError) return queryError(error.message, headers);
      throw error;
    }
    const options = body.options ?? {};
    if (options.resultFormat !== undefined && !eq(String(options.resultFormat), 'objectArray'))
      throw armError(400, 'BadRequest', "options.resultFormat: only 'objectArray' is supported by the simulator.");
    const top = options.$top === undefined ? MAX_TOP : Number(options.$top);
    if (!Number.isInteger(top) || top < 1 || top > MAX_TOP)
      throw armError(400, 'BadRequest', `options.$top must be an integer 1–${MAX_TOP}; got ${String(options.$top)}.`);
    let offset = 0;
    if (options.$skipToken !== undefined) {
      const decoded = decodeToken(options.$skipToken, body.query);
      if (decoded === undefined) throw armError(400, 'BadRequest', 'options.$skipToken is not valid for this query.');
      offset = decoded;
    }
    if (options.$skip !== undefined) {
      const skip = Number(options.$skip);
      if (!Number.isInteger(skip) || skip < 0) throw armError(400, 'BadRequest', `options.$skip must be a non-negative integer.`);
      offset = skip;
    }

    const subscriptions = this.scopeSubscriptions(body.subscriptions, body.managementGroups);
    const tables = this.deps.tables();
    // Each row only when the caller may read that resource; a grant on the whole subscription is checked once per type.
    const wholeSubscription = new Map<string, boolean>();
    const canRead = (row: GraphRow): boolean => {
      if (platform) return true;
      // A subscription shows to anyone with some role in it (ARM's membership check), as GET /subscriptions does.
      if (String(row.type ?? '').toLowerCase() === 'microsoft.resources/subscriptions')
        return this.deps.authz.isMember(principalId, String(row.subscriptionId ?? ''));
      const action = readActionOf(String(row.type ?? ''));
      const sub = String(row.subscriptionId ?? '').toLowerCase();
      const key = `${sub}|${action.toLowerCase()}`;
      let whole = wholeSubscription.get(key);
      if (whole === undefined) {
        whole = this.deps.authz.allows(principalId, action, `/subscriptions/${sub}`);
        wholeSubscription.set(key, whole);
      }
      return whole || this.deps.authz.allows(principalId, action, String(row.id ?? ''));
    };
    let rows = tables[parsed.table].filter(
      (row) => (subscriptions === undefined || subscriptions.has(String(row.subscriptionId ?? '').toLowerCase())) && canRead(row),
    );
    for (const f of parsed.filters) rows = rows.filter((r) => matches(r, f));
    const order = parsed.order ?? { path: ['id'], desc: false };
    rows = [...rows].sort((a, b) => {
      const x = text(valueAt(a, order.path));
      const y = text(valueAt(b, order.path));
      const c = x < y ? -1 : x > y ? 1 : 0;
      return order.desc ? -c : c;
    });
    const page = rows.slice(offset, offset + top);
    const data = parsed.project
      ? page.map((r) => Object.fromEntries(parsed.project!.map((c) => [c, valueAt(r, [c]) ?? null])))
      : page.map((r) => structuredClone(r));
    const response: Record<string, unknown> = {
      totalRecords: rows.length,
      count: data.length,
      resultTruncated: 'false',
      data,
      facets: [],
    };
    if (offset + top < rows.length) response.$skipToken = encodeToken(offset + top, body.query);
    return json(200, response, headers);
  }

  /** The subscriptions a query covers: those named, those under the management groups named, or (none named) all. */
  private scopeSubscriptions(subscriptions: unknown, managementGroups: unknown): Set<string> | undefined {
    const out = new Set<string>();
    let scoped = false;
    if (subscriptions !== undefined) {
      if (!Array.isArray(subscriptions) || subscriptions.some((s) => typeof s !== 'string'))
        throw armError(400, 'BadRequest', 'subscriptions must be an array of subscription ids.');
      scoped = true;
      for (const s of subscriptions as string[]) out.add(s.toLowerCase());
    }
    if (managementGroups !== undefined) {
      if (!Array.isArray(managementGroups) || managementGroups.some((s) => typeof s !== 'string'))
        throw armError(400, 'BadRequest', 'managementGroups must be an array of management group ids.');
      scoped = true;
      for (const g of managementGroups as string[]) {
        const subs = this.deps.managementGroupSubscriptions?.(g);
        if (!subs) throw armError(404, 'ManagementGroupNotFound', `The management group '${g}' was not found.`);
        for (const s of subs) out.add(s.toLowerCase());
      }
    }
    return scoped ? out : undefined;
  }
}

function readActionOf(type: string): string {
  const [namespace, ...types] = type.split('/');
  return `${namespace}/${types.join('/')}/read`;
}

function encodeToken(offset: number, query: string): string {
  return Buffer.from(JSON.stringify({ o: offset, q: hash(query) })).toString('base64');
}

function decodeToken(token: unknown, query: string): number | undefined {
  if (typeof token !== 'string') return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { o?: unknown; q?: unknown };
    return typeof v.o === 'number' && Number.isInteger(v.o) && v.o >= 0 && v.q === hash(query) ? v.o : undefined;
  } catch {
    return undefined;
  }
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}
