import { RestError, createHttpHeaders } from '@azure/core-rest-pipeline';
import { GraphError } from '@microsoft/microsoft-graph-client';
import { describe, expect, it } from 'vitest';
import { AdeError, ConflictError, errorInfoOf, toActivityError, type ErrorKind } from '../../core/errors';
import { callAzure, callAzureOrUndefined, mapAzureError, retryAfterMsOf } from '../../azure/errors';

function restError(statusCode: number | undefined, code?: string, headers: Record<string, string> = {}): RestError {
  const response =
    statusCode === undefined ? undefined : ({ status: statusCode, headers: createHttpHeaders(headers), request: {} as never } as never);
  return new RestError(`service says ${code ?? 'nothing'}`, { statusCode, code, response });
}

function graphError(statusCode: number, code: string, headers: Record<string, string> = {}): GraphError {
  const e = new GraphError(statusCode, `graph says ${code}`);
  e.code = code;
  e.headers = new Headers(headers);
  return e;
}

describe('mapAzureError: status → kind and retryability', () => {
  const cases: Array<{ name: string; error: unknown; kind: ErrorKind; retryable: boolean; retryAfterMs?: number }> = [
    { name: 'ARM 400 InvalidParameter', error: restError(400, 'InvalidParameter'), kind: 'validation', retryable: false },
    { name: 'ARM 401', error: restError(401, 'InvalidAuthenticationToken'), kind: 'permission', retryable: false },
    { name: 'ARM 403 AuthorizationFailed', error: restError(403, 'AuthorizationFailed'), kind: 'permission', retryable: false },
    { name: 'Key Vault 403 Forbidden (access policy)', error: restError(403, 'Forbidden'), kind: 'permission', retryable: false },
    { name: 'ARM 404 ResourceNotFound', error: restError(404, 'ResourceNotFound'), kind: 'not-found', retryable: false },
    { name: 'ARM 409 Conflict', error: restError(409, 'Conflict'), kind: 'conflict', retryable: false },
    { name: 'ARM 409 AnotherOperationInProgress', error: restError(409, 'AnotherOperationInProgress'), kind: 'conflict', retryable: true },
    { name: 'ARM 412 precondition (ETag)', error: restError(412, 'PreconditionFailed'), kind: 'conflict', retryable: true },
    { name: 'ARM 400 PrincipalNotFound (replication lag)', error: restError(400, 'PrincipalNotFound'), kind: 'conflict', retryable: true },
    {
      name: 'ARM 429 with Retry-After seconds',
      error: restError(429, 'TooManyRequests', { 'retry-after': '17' }),
      kind: 'throttled',
      retryable: true,
      retryAfterMs: 17_000,
    },
    {
      name: 'Key Vault 429 with retry-after-ms',
      error: restError(429, 'Throttled', { 'retry-after-ms': '1500' }),
      kind: 'throttled',
      retryable: true,
      retryAfterMs: 1500,
    },
    { name: 'ARM 500', error: restError(500, 'InternalServerError'), kind: 'transient', retryable: true },
    {
      name: 'ARM 503 with Retry-After',
      error: restError(503, 'ServiceUnavailable', { 'Retry-After': '3' }),
      kind: 'transient',
      retryable: true,
      retryAfterMs: 3000,
    },
    { name: '408 timeout', error: restError(408, 'RequestTimeout'), kind: 'transient', retryable: true },
    {
      name: 'network: REQUEST_SEND_ERROR without status',
      error: restError(undefined, 'REQUEST_SEND_ERROR'),
      kind: 'transient',
      retryable: true,
    },
    { name: 'plain Error', error: new Error('socket hang up'), kind: 'transient', retryable: true },
    {
      name: 'Graph 403 Authorization_RequestDenied',
      error: graphError(403, 'Authorization_RequestDenied'),
      kind: 'permission',
      retryable: false,
    },
    { name: 'Graph 404 Request_ResourceNotFound', error: graphError(404, 'Request_ResourceNotFound'), kind: 'not-found', retryable: false },
    {
      name: 'Graph 429 with Retry-After',
      error: graphError(429, 'TooManyRequests', { 'Retry-After': '9' }),
      kind: 'throttled',
      retryable: true,
      retryAfterMs: 9000,
    },
    { name: 'Graph network error (statusCode -1)', error: graphError(-1, 'TypeError'), kind: 'transient', retryable: true },
    {
      name: 'identity CredentialUnavailableError',
      error: Object.assign(new Error('no MSI endpoint'), { name: 'CredentialUnavailableError' }),
      kind: 'permission',
      retryable: false,
    },
    {
      name: 'identity AuthenticationError 400',
      error: Object.assign(new Error('AADSTS7000215 invalid client secret'), { name: 'AuthenticationError', statusCode: 400 }),
      kind: 'permission',
      retryable: false,
    },
    {
      name: 'identity AuthenticationError 503',
      error: Object.assign(new Error('login unavailable'), { name: 'AuthenticationError', statusCode: 503 }),
      kind: 'transient',
      retryable: true,
    },
  ];

  it.each(cases)('$name', ({ error, kind, retryable, retryAfterMs }) => {
    const mapped = mapAzureError(error, 'Do the thing');
    expect(mapped).toBeInstanceOf(AdeError);
    expect(mapped.kind).toBe(kind);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.retryAfterMs).toBe(retryAfterMs);
    expect(mapped.message.startsWith('Do the thing')).toBe(true);
  });

  it('keeps the service code and HTTP status in the message and as data', () => {
    const mapped = mapAzureError(restError(409, 'VaultAlreadyExists'), 'Create vault kv1');
    expect(mapped.code).toBe('VaultAlreadyExists');
    expect(mapped.message).toContain('HTTP 409 VaultAlreadyExists');
    expect(mapped.message).toContain('service says VaultAlreadyExists');
  });

  it('passes AdeErrors through untouched', () => {
    const original = new ConflictError('already mapped', { retryable: true });
    expect(mapAzureError(original, 'x')).toBe(original);
  });

  it('survives the activity boundary as data (kind, retryable, retryAfterMs)', () => {
    const wire = toActivityError(mapAzureError(restError(429, 'TooManyRequests', { 'retry-after': '4' }), 'List VMs'));
    expect(errorInfoOf(new Error(`Activity failed: ${wire.message}`))).toMatchObject({
      kind: 'throttled',
      retryable: true,
      retryAfterMs: 4000,
      code: 'TooManyRequests',
    });
  });
});

describe('retryAfterMsOf', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const table: Array<{ headers: Record<string, string>; expected: number | undefined }> = [
    { headers: { 'Retry-After': '5' }, expected: 5000 },
    { headers: { 'retry-after': '0' }, expected: 0 },
    { headers: { 'x-ms-retry-after-ms': '250' }, expected: 250 },
    { headers: { 'Retry-After': 'Thu, 01 Jan 2026 00:00:30 GMT' }, expected: 30_000 },
    { headers: { 'Retry-After': 'Wed, 31 Dec 2025 23:59:00 GMT' }, expected: 0 },
    { headers: { 'Retry-After': 'soon' }, expected: undefined },
    { headers: {}, expected: undefined },
  ];
  it.each(table)('$headers → $expected', ({ headers, expected }) => {
    expect(retryAfterMsOf({ response: { headers: createHttpHeaders(headers) } }, now)).toBe(expected);
    expect(retryAfterMsOf({ headers: new Headers(headers) }, now)).toBe(expected);
  });
});

describe('callAzure helpers', () => {
  it('callAzure maps what the call throws', async () => {
    await expect(callAzure('Read VM vm1', () => Promise.reject(restError(403, 'AuthorizationFailed')))).rejects.toMatchObject({
      kind: 'permission',
      retryable: false,
    });
  });
  it('callAzureOrUndefined turns not-found into undefined but rethrows everything else', async () => {
    await expect(callAzureOrUndefined('Read vault', () => Promise.reject(restError(404, 'ResourceNotFound')))).resolves.toBeUndefined();
    await expect(callAzureOrUndefined('Read vault', () => Promise.reject(restError(500, 'Boom')))).rejects.toMatchObject({
      kind: 'transient',
    });
    await expect(callAzureOrUndefined('Read vault', () => Promise.resolve(42))).resolves.toBe(42);
  });
});
