/**
 * Maps Azure SDK failures (RestError from the ARM / Key Vault pipelines, GraphError from the
 * Microsoft Graph client, identity errors, network errors) onto the core error kinds, with
 * "retryable or not" carried as data so it survives the activity → orchestrator boundary.
 *
 * Retrying itself is the SDK pipelines' job (see {@link SDK_RETRY_OPTIONS}); by the time an error
 * reaches this mapper the pipeline has already backed off and given up, so a retryable error here
 * means "try again later" (a durable timer in the orchestrator), not "loop now".
 */
import {
  AdeError,
  ConflictError,
  NotFoundError,
  PermissionError,
  ThrottledError,
  TransientError,
  UnsupportedError,
  ValidationError,
} from '../core/errors';

/**
 * Retry settings for every Azure SDK client (core-rest-pipeline `retryOptions`).
 *
 * The default pipeline already retries 429 and 503 honouring `Retry-After` (throttling strategy),
 * and 408 / 5xx / network errors with exponential backoff and jitter. We only bound it: a few
 * attempts, and no single wait longer than 30 s, so one activity invocation stays well inside the
 * Functions timeout. Anything still failing surfaces as a retryable ThrottledError/TransientError
 * and the orchestration waits with a durable timer instead of holding a worker. Stacking our own
 * loop on top would multiply attempts (4 × 4) and hammer an already throttled subscription.
 */
export const SDK_RETRY_OPTIONS = {
  maxRetries: 4,
  retryDelayInMs: 800,
  maxRetryDelayInMs: 30_000,
} as const;

/** Graph client RetryHandler settings: same intent as {@link SDK_RETRY_OPTIONS} (seconds there). */
export const GRAPH_RETRY_OPTIONS = {
  /** Initial delay in seconds when the response carries no Retry-After. */
  delaySeconds: 2,
  maxRetries: 4,
} as const;

/** Minimal view of an SDK error, so the mapper is testable with plain objects. */
interface ErrorLike {
  name?: string;
  message?: string;
  statusCode?: number;
  code?: string;
  /** RestError: `response.headers` (HttpHeaders with get()) or a plain record. */
  response?: { headers?: unknown; status?: number };
  /** GraphError: `headers` (fetch Headers). */
  headers?: unknown;
  /** GraphError request id, for support. */
  requestId?: string;
}

/** ARM / Key Vault / Graph codes that are worth retrying even though their status says conflict. */
const RETRYABLE_CONFLICT_CODES = new Set(
  [
    'AnotherOperationInProgress',
    'OperationNotAllowed/AnotherOperationInProgress',
    'RetryableError',
    'ConflictingOperationInProgress',
    'OperationPreempted',
    'PreconditionFailed',
    // Entra replication lag: a just-created principal is not visible yet.
    'PrincipalNotFound',
  ].map((c) => c.toLowerCase()),
);

const NETWORK_CODES = new Set([
  'REQUEST_SEND_ERROR',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Turns any thrown value from an Azure call into an AdeError. `operation` names what we were doing
 * (e.g. "read VM /subscriptions/…/vm1"); it goes first in the message so logs say what failed.
 * Messages never include request bodies, only the service's own error text (which for these APIs
 * never echoes secrets).
 */
export function mapAzureError(error: unknown, operation: string, options_: { keepCause?: boolean } = {}): AdeError {
  if (error instanceof AdeError) return error;
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as ErrorLike;
  const status = statusOf(e);
  const code = typeof e.code === 'string' && e.code !== '' ? e.code : undefined;
  const serviceMessage = cleanMessage(e.message);
  const where = status ? ` (HTTP ${status}${code ? ` ${code}` : ''})` : code ? ` (${code})` : '';
  const message = `${operation} failed${where}: ${serviceMessage}`;
  // The SDK error references the request (body included). When that body carried a secret, the
  // caller drops the cause so no logger walking the error chain can reach it.
  const options = { code, cause: options_.keepCause === false ? undefined : error };

  if (e.name === 'AbortError') return new TransientError(`${operation} was aborted: ${serviceMessage}`, options);
  if (e.name === 'CredentialUnavailableError')
    return new PermissionError(`${operation} failed: no usable Azure credential: ${serviceMessage}`, options);
  if (e.name === 'AuthenticationError' && (status === undefined || status < 500)) {
    return new PermissionError(`${operation} failed: could not authenticate: ${serviceMessage}`, options);
  }

  if (status === undefined) {
    // No HTTP answer at all: a network failure (or an SDK bug, which retrying will not fix but
    // which is rare enough that treating it as transient costs little).
    return new TransientError(
      code !== undefined && NETWORK_CODES.has(code) ? `${operation} failed: network error (${code}): ${serviceMessage}` : message,
      options,
    );
  }
  const retryAfterMs = retryAfterMsOf(e);
  if (status === 429) return new ThrottledError(message, { ...options, retryAfterMs });
  if (status === 408 || status >= 500) return new TransientError(message, { ...options, retryAfterMs });
  if (status === 401 || status === 403) return new PermissionError(message, options);
  if (status === 404) return new NotFoundError(message, options);
  if (status === 409 || status === 412) {
    const retryable = status === 412 || (code !== undefined && RETRYABLE_CONFLICT_CODES.has(code.toLowerCase()));
    return new ConflictError(message, { ...options, retryable });
  }
  if (status === 400 && code !== undefined && RETRYABLE_CONFLICT_CODES.has(code.toLowerCase())) {
    // Entra replication lag shows up as 400 PrincipalNotFound on access-policy / role writes.
    return new ConflictError(message, { ...options, retryable: true });
  }
  if (status === 400 || status === 422) return new ValidationError(message, options);
  if (status === 405 || status === 501) return new UnsupportedError(message, options);
  return new ValidationError(message, options);
}

/** Runs an SDK call and maps whatever it throws (`keepCause: false` when the request held a secret). */
export async function callAzure<T>(operation: string, call: () => Promise<T>, options: { keepCause?: boolean } = {}): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw mapAzureError(error, operation, options);
  }
}

/** Like {@link callAzure}, but a not-found answer becomes `undefined` (for get-or-create flows). */
export async function callAzureOrUndefined<T>(operation: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    const mapped = mapAzureError(error, operation);
    if (mapped.kind === 'not-found') return undefined;
    throw mapped;
  }
}

function statusOf(e: ErrorLike): number | undefined {
  const candidates = [e.statusCode, e.response?.status];
  for (const c of candidates) if (typeof c === 'number' && Number.isInteger(c) && c >= 100 && c <= 599) return c;
  // GraphError uses -1 when there was no response.
  return undefined;
}

/**
 * Retry-After as milliseconds, from `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After`
 * (delta-seconds or an HTTP date). Undefined when absent or unparseable.
 */
export function retryAfterMsOf(e: { response?: { headers?: unknown }; headers?: unknown }, now: number = Date.now()): number | undefined {
  const headerSources = [e.response?.headers, e.headers];
  for (const source of headerSources) {
    for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
      const value = headerOf(source, name);
      if (value !== undefined && /^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value));
    }
    const retryAfter = headerOf(source, 'retry-after');
    if (retryAfter !== undefined) {
      const trimmed = retryAfter.trim();
      if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
      const date = Date.parse(trimmed);
      if (!Number.isNaN(date)) return Math.max(0, date - now);
    }
  }
  return undefined;
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  if (typeof h.get === 'function') {
    const value = h.get(name);
    return typeof value === 'string' ? value : undefined;
  }
  const key = Object.keys(h).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : h[key];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

function cleanMessage(message: string | undefined): string {
  const text = (message ?? '').replace(/\s+/g, ' ').trim();
  if (text === '') return 'no error message from the service';
  // Service messages can be long JSON blobs; keep logs readable.
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}
