/**
 * Small, dependency-free readers for untrusted JSON. Each reader records an issue naming the exact
 * path of the field at fault (e.g. `events[2].data.resourceUri`) instead of throwing, so a parser can
 * report every problem of one event in a single typed ValidationError.
 *
 * Messages describe the expected type and what arrived (its JSON type, never its value): event
 * payloads can carry caller claims, and nothing from them should leak into logs by accident.
 */
import { ValidationError } from '../errors';

export type Result<T> = { ok: true; value: T } | { ok: false; error: ValidationError };

export type JsonObject = Record<string, unknown>;

export interface Issue {
  path: string;
  problem: string;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return value.trim() === '' ? 'an empty string' : 'a string';
  return `a ${typeof value}`;
}

/** Turns collected issues into one ValidationError whose `field` is the first path at fault. */
export function issuesToError(issues: readonly Issue[]): ValidationError {
  const first = issues[0];
  if (!first) return new ValidationError('Invalid input');
  const detail = issues.map((i) => `${i.path}: ${i.problem}`).join('; ');
  return new ValidationError(`Invalid event: ${detail}`, { field: first.path });
}

/**
 * Reads fields of one JSON object. Lookups fall back to a case-insensitive, whitespace-trimmed key
 * match, because Key Vault sends PascalCase where the swagger says camelCase, and published
 * examples even carry keys with trailing spaces.
 */
export class FieldReader {
  private readonly folded = new Map<string, string>();

  constructor(
    readonly object: JsonObject,
    readonly path: string,
    readonly issues: Issue[],
  ) {
    for (const key of Object.keys(object)) {
      const fold = key.trim().toLowerCase();
      if (!this.folded.has(fold)) this.folded.set(fold, key);
    }
  }

  static of(value: unknown, path: string, issues: Issue[]): FieldReader | undefined {
    if (!isObject(value)) {
      issues.push({ path, problem: `expected an object, got ${describeType(value)}` });
      return undefined;
    }
    return new FieldReader(value, path, issues);
  }

  at(key: string): string {
    return `${this.path}.${key}`;
  }

  /** Raw value: exact key first, then the case-insensitive match. */
  raw(key: string): unknown {
    if (Object.prototype.hasOwnProperty.call(this.object, key)) return this.object[key];
    const actual = this.folded.get(key.toLowerCase());
    return actual === undefined ? undefined : this.object[actual];
  }

  has(key: string): boolean {
    const value = this.raw(key);
    return value !== undefined && value !== null;
  }

  requiredString(key: string): string {
    const value = this.raw(key);
    if (typeof value === 'string' && value.trim() !== '') return value;
    this.issues.push({ path: this.at(key), problem: `expected a non-empty string, got ${describeType(value)}` });
    return '';
  }

  /** Optional string; `allowEmpty` keeps '' (Policy sends empty reference ids and reason codes). */
  optionalString(key: string, allowEmpty = true): string | undefined {
    const value = this.raw(key);
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string' && (allowEmpty || value.trim() !== '')) return value;
    this.issues.push({ path: this.at(key), problem: `expected a string, got ${describeType(value)}` });
    return undefined;
  }

  /** Number given as a JSON number or as a numeric string (Key Vault NBF/EXP arrive both ways). */
  optionalNumber(key: string): number | undefined {
    const value = this.raw(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
    this.issues.push({ path: this.at(key), problem: `expected a number or numeric string, got ${describeType(value)}` });
    return undefined;
  }

  /** A timestamp string that Date can parse; returned unchanged (callers keep the wire text). */
  requiredTimestamp(key: string): string {
    const value = this.raw(key);
    if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Date.parse(value))) return value;
    this.issues.push({ path: this.at(key), problem: `expected an ISO-8601 timestamp, got ${describeType(value)}` });
    return '';
  }

  optionalTimestamp(key: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return value;
    this.issues.push({ path: this.at(key), problem: `expected an ISO-8601 timestamp, got ${describeType(value)}` });
    return undefined;
  }

  requiredStringArray(key: string): string[] {
    const value = this.raw(key);
    if (!Array.isArray(value)) {
      this.issues.push({ path: this.at(key), problem: `expected an array of strings, got ${describeType(value)}` });
      return [];
    }
    const out: string[] = [];
    value.forEach((item, i) => {
      if (typeof item === 'string' && item.trim() !== '') out.push(item);
      else this.issues.push({ path: `${this.at(key)}[${i}]`, problem: `expected a non-empty string, got ${describeType(item)}` });
    });
    return out;
  }

  /**
   * An object that may also arrive as a JSON string (ARM's claims/authorization/httpRequest are
   * typed as strings in the 2018 swagger but are objects on the wire).
   */
  optionalObjectOrJsonString(key: string): JsonObject | undefined {
    const value = this.raw(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (isObject(value)) return value;
    if (typeof value === 'string') {
      const parsed = tryParseJson(value);
      if (parsed.ok && isObject(parsed.value)) return parsed.value;
      this.issues.push({ path: this.at(key), problem: 'expected an object or a JSON string holding an object' });
      return undefined;
    }
    this.issues.push({ path: this.at(key), problem: `expected an object, got ${describeType(value)}` });
    return undefined;
  }
}

export function tryParseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** Keeps only string-valued entries (claims and evidence are string maps in the SDK types). */
export function stringMap(object: JsonObject | undefined): Record<string, string> | undefined {
  if (!object) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(object)) {
    if (typeof value === 'string') out[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
  }
  return out;
}
