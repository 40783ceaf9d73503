/**
 * Host keys, as the real host has them: a master key (accepted everywhere), a default function key (for
 * authLevel 'function'), and system keys for the Event Grid and Durable Task extensions. Keys travel in the
 * `code` query parameter or the `x-functions-key` header. Never logged by the host except when printed at startup.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface HostKeys {
  master: string;
  function: string;
  eventGrid: string;
  durable: string;
}

export type KeysOption = Partial<HostKeys> | false | undefined;

/** Same shape as Azure's generated keys: 40+ url-safe characters. */
export function generateKey(): string {
  return randomBytes(40).toString('base64url');
}

export function resolveKeys(option: KeysOption): HostKeys | undefined {
  if (option === false) return undefined;
  return {
    master: option?.master || generateKey(),
    function: option?.function || generateKey(),
    eventGrid: option?.eventGrid || generateKey(),
    durable: option?.durable || generateKey(),
  };
}

/** The key a request presents, from `code` (query) or `x-functions-key` (header). */
export function presentedKey(url: URL, headers: Record<string, string | string[] | undefined>): string | undefined {
  const header = headers['x-functions-key'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  return fromHeader || url.searchParams.get('code') || undefined;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export type AccessLevel = 'anonymous' | 'function' | 'admin' | 'system:eventGrid' | 'system:durable';

/** Whether `key` grants `level`. The master key grants everything. */
export function keyGrants(keys: HostKeys | undefined, level: AccessLevel, key: string | undefined): boolean {
  if (!keys || level === 'anonymous') return true;
  if (!key) return false;
  if (same(key, keys.master)) return true;
  switch (level) {
    case 'function':
      return same(key, keys.function);
    case 'system:eventGrid':
      return same(key, keys.eventGrid);
    case 'system:durable':
      return same(key, keys.durable);
    default:
      return false;
  }
}
