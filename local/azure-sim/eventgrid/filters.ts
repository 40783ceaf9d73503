/**
 * Event subscription filters: event types, subject begins/ends with, and advanced filters
 * (https://learn.microsoft.com/azure/event-grid/event-filtering). String comparisons are case-insensitive.
 */
import type { GridEvent } from '../contract';

export interface AdvancedFilter {
  operatorType: string;
  key: string;
  value?: unknown;
  values?: unknown[];
}

export interface SubscriptionFilter {
  includedEventTypes?: string[] | null;
  subjectBeginsWith?: string;
  subjectEndsWith?: string;
  isSubjectCaseSensitive?: boolean;
  advancedFilters?: AdvancedFilter[];
  enableAdvancedFilteringOnArrays?: boolean;
}

export const ADVANCED_OPERATORS = [
  'NumberIn',
  'NumberNotIn',
  'NumberLessThan',
  'NumberGreaterThan',
  'NumberLessThanOrEquals',
  'NumberGreaterThanOrEquals',
  'BoolEquals',
  'StringIn',
  'StringNotIn',
  'StringBeginsWith',
  'StringEndsWith',
  'StringContains',
  'StringNotBeginsWith',
  'StringNotEndsWith',
  'StringNotContains',
  'NumberInRange',
  'NumberNotInRange',
  'IsNullOrUndefined',
  'IsNotNull',
];

/** Validation as Event Grid does at subscription create: returns a problem message or undefined. */
export function filterProblem(filter: SubscriptionFilter | undefined): string | undefined {
  if (!filter) return undefined;
  const advanced = filter.advancedFilters ?? [];
  if (!Array.isArray(advanced)) return 'filter.advancedFilters must be an array.';
  if (advanced.length > 25) return `At most 25 advanced filters are allowed per subscription (got ${advanced.length}).`;
  let valueCount = 0;
  for (const f of advanced) {
    if (!ADVANCED_OPERATORS.includes(f?.operatorType))
      return `Unknown advanced filter operatorType '${String(f?.operatorType).slice(0, 40)}'.`;
    if (typeof f.key !== 'string' || f.key === '') return 'Each advanced filter needs a key.';
    if (f.key.split('.').length > 10) return `Advanced filter key '${f.key.slice(0, 60)}' is nested more than 5 levels deep.`;
    valueCount += Array.isArray(f.values) ? f.values.length : 1;
  }
  if (valueCount > 25) return `Advanced filters may contain at most 25 values in total (got ${valueCount}).`;
  return undefined;
}

export function matches(filter: SubscriptionFilter | undefined, event: GridEvent): boolean {
  if (!filter) return true;
  if (filter.includedEventTypes && filter.includedEventTypes.length > 0) {
    const type = event.eventType.toLowerCase();
    if (!filter.includedEventTypes.some((t) => t.toLowerCase() === type || t.toLowerCase() === 'all')) return false;
  }
  const cs = filter.isSubjectCaseSensitive === true;
  const subject = cs ? event.subject : event.subject.toLowerCase();
  if (filter.subjectBeginsWith && !subject.startsWith(cs ? filter.subjectBeginsWith : filter.subjectBeginsWith.toLowerCase())) return false;
  if (filter.subjectEndsWith && !subject.endsWith(cs ? filter.subjectEndsWith : filter.subjectEndsWith.toLowerCase())) return false;
  for (const advanced of filter.advancedFilters ?? []) {
    if (!matchesAdvanced(advanced, event, filter.enableAdvancedFilteringOnArrays === true)) return false;
  }
  return true;
}

function lookup(event: GridEvent, keyPath: string): unknown {
  let current: unknown = event;
  for (const part of keyPath.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    const record = current as Record<string, unknown>;
    const found = Object.keys(record).find((k) => k.toLowerCase() === part.toLowerCase());
    current = found === undefined ? undefined : record[found];
  }
  return current;
}

function matchesAdvanced(f: AdvancedFilter, event: GridEvent, onArrays: boolean): boolean {
  const raw = lookup(event, f.key);
  const op = f.operatorType;
  if (op === 'IsNullOrUndefined') return raw === undefined || raw === null;
  if (op === 'IsNotNull') return raw !== undefined && raw !== null;
  const candidates = Array.isArray(raw) && onArrays ? raw : [raw];
  const negated = op.includes('Not');
  // "Not" operators must hold for every element; positive operators for any element.
  return negated ? candidates.every((v) => evaluate(op, v, f)) : candidates.some((v) => evaluate(op, v, f));
}

function evaluate(op: string, value: unknown, f: AdvancedFilter): boolean {
  const values = Array.isArray(f.values) ? f.values : [];
  const strings = values.map((v) => String(v).toLowerCase());
  const s = value === undefined || value === null ? undefined : String(value).toLowerCase();
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  const target = typeof f.value === 'number' ? f.value : Number(f.value);
  switch (op) {
    case 'StringIn':
      return s !== undefined && strings.includes(s);
    case 'StringNotIn':
      return s === undefined || !strings.includes(s);
    case 'StringBeginsWith':
      return s !== undefined && strings.some((v) => s.startsWith(v));
    case 'StringEndsWith':
      return s !== undefined && strings.some((v) => s.endsWith(v));
    case 'StringContains':
      return s !== undefined && strings.some((v) => s.includes(v));
    case 'StringNotBeginsWith':
      return s === undefined || !strings.some((v) => s.startsWith(v));
    case 'StringNotEndsWith':
      return s === undefined || !strings.some((v) => s.endsWith(v));
    case 'StringNotContains':
      return s === undefined || !strings.some((v) => s.includes(v));
    case 'NumberIn':
      return !Number.isNaN(n) && values.some((v) => Number(v) === n);
    case 'NumberNotIn':
      return Number.isNaN(n) || !values.some((v) => Number(v) === n);
    case 'NumberLessThan':
      return !Number.isNaN(n) && n < target;
    case 'NumberGreaterThan':
      return !Number.isNaN(n) && n > target;
    case 'NumberLessThanOrEquals':
      return !Number.isNaN(n) && n <= target;
    case 'NumberGreaterThanOrEquals':
      return !Number.isNaN(n) && n >= target;
    case 'NumberInRange':
      return !Number.isNaN(n) && values.some((r) => Array.isArray(r) && n >= Number(r[0]) && n <= Number(r[1]));
    case 'NumberNotInRange':
      return Number.isNaN(n) || !values.some((r) => Array.isArray(r) && n >= Number(r[0]) && n <= Number(r[1]));
    case 'BoolEquals':
      return typeof value === 'boolean' ? value === (f.value === true || f.value === 'true') : false;
    default:
      return false;
  }
}
