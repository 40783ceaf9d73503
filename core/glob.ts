/**
 * Case-insensitive glob matching for resource-group patterns: `*` is any run of characters,
 * `?` exactly one; everything else is literal (resource group names may contain `.`, `(`, `)`).
 */
import { ValidationError } from './errors';

const GLOB_TEXT = /^[\p{L}\p{N}_().*?-]{1,90}$/u;

export function isValidGlob(pattern: string): boolean {
  return GLOB_TEXT.test(pattern);
}

function globToRegExp(pattern: string, field = 'pattern'): RegExp {
  if (!isValidGlob(pattern)) {
    throw new ValidationError(
      `${field}: ${JSON.stringify(pattern)} is not a valid resource-group pattern (letters, digits, _ ( ) . - plus * and ?; 1–90 chars)`,
      { field },
    );
  }
  const body = [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'iu');
}

function matchesGlob(value: string, pattern: string): boolean {
  return globToRegExp(pattern).test(value);
}

export function matchesAnyGlob(value: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => matchesGlob(value, p));
}
