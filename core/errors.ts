/**
 * The one errors module. Every failure the app reports is one of these kinds.
 *
 * durable-functions loses error classes when an activity's error crosses into the orchestrator
 * (only `message` survives, and the `name` is folded into it). So each error also serialises to a
 * plain {@link ErrorInfo} — kind, retryable flag, message — which activities return or embed in the
 * message, and which orchestrators read back with {@link errorInfoOf}.
 */

export type ErrorKind = 'validation' | 'not-found' | 'conflict' | 'throttled' | 'transient' | 'permission' | 'unsupported';

/** Plain-data form of an error: safe to put in durable history (it never carries secrets). */
export interface ErrorInfo {
  kind: ErrorKind;
  message: string;
  retryable: boolean;
  /** Milliseconds the service asked us to wait (Retry-After), when known. */
  retryAfterMs?: number;
  /** Machine-readable code from the service (e.g. ARM `code`), when known. */
  code?: string;
}

const DEFAULT_RETRYABLE: Record<ErrorKind, boolean> = {
  validation: false,
  'not-found': false,
  conflict: false,
  throttled: true,
  transient: true,
  permission: false,
  unsupported: false,
};

export class AdeError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly code?: string;

  constructor(
    kind: ErrorKind,
    message: string,
    options: { retryable?: boolean; retryAfterMs?: number; code?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.retryable = options.retryable ?? DEFAULT_RETRYABLE[kind];
    this.retryAfterMs = options.retryAfterMs;
    this.code = options.code;
  }

  toInfo(): ErrorInfo {
    const info: ErrorInfo = { kind: this.kind, message: this.message, retryable: this.retryable };
    if (this.retryAfterMs !== undefined) info.retryAfterMs = this.retryAfterMs;
    if (this.code !== undefined) info.code = this.code;
    return info;
  }
}

export class ValidationError extends AdeError {
  /** Dotted path of the offending field, e.g. `data.resourceUri` or `ADE_VOLUME_TYPE`. */
  readonly field?: string;
  constructor(message: string, options: { field?: string; code?: string; cause?: unknown } = {}) {
    super('validation', message, options);
    this.field = options.field;
  }
}
export class NotFoundError extends AdeError {
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super('not-found', message, options);
  }
}
export class ConflictError extends AdeError {
  constructor(message: string, options: { code?: string; retryable?: boolean; cause?: unknown } = {}) {
    super('conflict', message, options);
  }
}
export class ThrottledError extends AdeError {
  constructor(message: string, options: { retryAfterMs?: number; code?: string; cause?: unknown } = {}) {
    super('throttled', message, options);
  }
}
export class TransientError extends AdeError {
  constructor(message: string, options: { retryAfterMs?: number; code?: string; cause?: unknown } = {}) {
    super('transient', message, options);
  }
}
export class PermissionError extends AdeError {
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super('permission', message, options);
  }
}
export class UnsupportedError extends AdeError {
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super('unsupported', message, options);
  }
}

const KINDS: readonly ErrorKind[] = ['validation', 'not-found', 'conflict', 'throttled', 'transient', 'permission', 'unsupported'];
const MARKER = 'ade-error:';

/** Error an activity throws so that its ErrorInfo survives the trip into the orchestrator. */
export function toActivityError(error: unknown): Error {
  const info = toErrorInfo(error);
  const wire = new Error(MARKER + JSON.stringify(info));
  wire.name = 'AdeActivityError';
  return wire;
}

/** Any thrown value → ErrorInfo. Unknown errors count as transient (retryable) unless proven otherwise. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof AdeError) return error.toInfo();
  const parsed = errorInfoOf(error);
  if (parsed) return parsed;
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : 'Unknown error';
  return { kind: 'transient', message, retryable: true };
}

/** Reads an ErrorInfo back out of an error (or message) that crossed the activity boundary. */
export function errorInfoOf(error: unknown): ErrorInfo | undefined {
  const text = error instanceof Error ? error.message : typeof error === 'string' ? error : undefined;
  if (text === undefined) return undefined;
  const at = text.indexOf(MARKER);
  if (at < 0) return undefined;
  const json = extractJsonObject(text.slice(at + MARKER.length));
  if (json === undefined) return undefined;
  try {
    const value = JSON.parse(json) as Partial<ErrorInfo>;
    if (typeof value.message !== 'string' || !KINDS.includes(value.kind as ErrorKind) || typeof value.retryable !== 'boolean')
      return undefined;
    return value as ErrorInfo;
  } catch {
    return undefined;
  }
}

function extractJsonObject(text: string): string | undefined {
  if (!text.startsWith('{')) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(0, i + 1);
  }
  return undefined;
}
