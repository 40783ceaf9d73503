/**
 * The request pipeline every simulated request goes through — from the TLS-terminating proxy and
 * from in-process dispatch alike: parse, fault injection, token validation (→ req.principal),
 * the service handler, service-shaped error envelopes, x-ms-request-id, and the request log.
 * It never throws: any failure becomes an HTTP answer.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, Principal, Service, SimRequest, SimResponse } from '../contract';
import { SimError } from '../contract';
import type { FaultInjector } from './faults';
import type { RequestLog } from './request-log';
import { principalFromClaims, type TokenIssuer } from './tokens';

export interface RawRequest {
  method: string;
  host: string;
  /** Path with query string, as on the request line. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Fault injection: send nothing and close the connection after this many ms. */
  dropAfterMs?: number;
}

/** Largest request body accepted (Key Vault's and ARM's own limits are far below this). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

interface ServiceProfile {
  /** Error code for a request body that is not valid JSON. */
  jsonErrorCode?: string;
  /** Token audiences the service accepts (trailing slash ignored); undefined = any audience. */
  audiences?: string[];
  errorBody(code: string, message: string, req: SimRequest | undefined, requestId: string, now: number): unknown;
  /** 401 answer for a missing or invalid token. */
  unauthorized(problem: AuthProblem, tenantId: string): { code: string; message: string; headers: Record<string, string> };
  extraHeaders?(requestId: string, req: SimRequest | undefined): Record<string, string>;
}

type AuthProblem =
  | { kind: 'missing' }
  | { kind: 'invalid'; message: string }
  | { kind: 'expired'; exp?: number }
  | { kind: 'audience'; audience: string; expected: string[] }
  | { kind: 'tenant'; tenant: string };

const ARM_AUDIENCES = ['https://management.azure.com', 'https://management.core.windows.net'];

const plainEnvelope = (code: string, message: string) => ({ error: { code, message } });

const PROFILES: Record<string, ServiceProfile> = {
  arm: {
    audiences: ARM_AUDIENCES,
    errorBody: plainEnvelope,
    unauthorized(problem, tenantId) {
      const description =
        problem.kind === 'missing'
          ? "The authentication failed because of missing 'Authorization' header."
          : 'The access token is invalid.';
      const headers = {
        'www-authenticate':
          `Bearer authorization_uri="https://login.microsoftonline.com/${tenantId}", error="invalid_token", ` +
          `error_description="${description}"`,
      };
      switch (problem.kind) {
        case 'missing':
          return { code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is missing.", headers };
        case 'expired':
          return {
            code: 'ExpiredAuthenticationToken',
            message:
              `The access token expiry UTC time ` +
              `'${problem.exp ? new Date(problem.exp * 1000).toUTCString() : 'unknown'}' is earlier than current ` +
              `UTC time '${new Date().toUTCString()}'.`,
            headers,
          };
        case 'audience':
          return {
            code: 'InvalidAuthenticationTokenAudience',
            message:
              `The access token has been obtained for wrong audience or resource '${problem.audience}'. It should ` +
              `exactly match with one of the allowed audiences ` +
              `${ARM_AUDIENCES.flatMap((a) => [`'${a}/'`, `'${a}'`]).join(',')}.`,
            headers,
          };
        case 'tenant':
          return {
            code: 'InvalidAuthenticationTokenTenant',
            message:
              `The access token is from the wrong issuer 'https://sts.windows.net/${problem.tenant}/'. It must ` +
              `match the tenant 'https://sts.windows.net/${tenantId}/' associated with this subscription.`,
            headers,
          };
        default:
          return { code: 'InvalidAuthenticationToken', message: 'The access token is invalid.', headers };
      }
    },
    extraHeaders: (requestId) => ({
      'x-ms-correlation-request-id': requestId,
      'x-ms-routing-request-id': `SIMULATOR:${new Date().toISOString().replace(/[-:.]/g, '')}:${requestId}`,
    }),
  },
  graph: {
    jsonErrorCode: 'BadRequest',
    audiences: ['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000'],
    errorBody(code, message, req, requestId, now) {
      return {
        error: {
          code,
          message,
          innerError: {
            date: new Date(now).toISOString().replace(/\.\d+Z$/, ''),
            'request-id': requestId,
            'client-request-id': headerOf(req, 'client-request-id') ?? requestId,
          },
        },
      };
    },
    unauthorized(problem) {
      const headers = {
        'www-authenticate':
          'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", ' +
          'client_id="00000003-0000-0000-c000-000000000000"',
      };
      switch (problem.kind) {
        case 'missing':
          return { code: 'InvalidAuthenticationToken', message: 'Access token is empty.', headers };
        case 'expired':
          return { code: 'InvalidAuthenticationToken', message: 'Lifetime validation failed, the token is expired.', headers };
        case 'audience':
          return { code: 'InvalidAuthenticationToken', message: 'Invalid audience.', headers };
        default:
          return { code: 'InvalidAuthenticationToken', message: 'Access token validation failure. Invalid audience.', headers };
      }
    },
    extraHeaders: (requestId, req) => ({ 'request-id': requestId, 'client-request-id': headerOf(req, 'client-request-id') ?? requestId }),
  },
  keyvault: {
    audiences: ['https://vault.azure.net', 'https://vault.azure.net/'],
    jsonErrorCode: 'BadParameter',
    // Handlers signal Key Vault's inner error as 'Code/InnerCode' (e.g. Forbidden/AccessDenied).
    errorBody(code, message) {
      const [outer, inner] = code.split('/');
      return { error: { code: outer, message, ...(inner ? { innererror: { code: inner } } : {}) } };
    },
    unauthorized(problem, tenantId) {
      const headers = {
        'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`,
      };
      switch (problem.kind) {
        case 'missing':
          return { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.', headers };
        case 'expired':
          return { code: 'Unauthorized', message: 'AKV10022: Invalid audience or token lifetime: the token is expired.', headers };
        case 'audience':
          return {
            code: 'Unauthorized',
            message: `AKV10022: Invalid audience. Expected https://vault.azure.net, found: ${problem.audience}.`,
            headers,
          };
        case 'tenant':
          return {
            code: 'Unauthorized',
            message:
              `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${tenantId}/, found ` +
              `https://sts.windows.net/${problem.tenant}/.`,
            headers,
          };
        default:
          return { code: 'Unauthorized', message: `AKV10000: ${problem.message}`, headers };
      }
    },
  },
  login: {
    errorBody(code, message, _req, requestId, now) {
      return {
        error: code,
        error_description: `${message}\r\nTrace ID: ${requestId}\r\nCorrelation ID: ${requestId}\r\nTimestamp: ${new Date(now)
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, 'Z')}`,
        error_codes: aadstsCodes(message),
        timestamp: new Date(now)
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, 'Z'),
        trace_id: requestId,
        correlation_id: requestId,
      };
    },
    unauthorized: () => ({ code: 'invalid_request', message: 'authentication is not required here', headers: {} }),
  },
  eventgrid: {
    audiences: ['https://eventgrid.azure.net'],
    errorBody: plainEnvelope,
    unauthorized: (problem) => ({
      code: 'Unauthorized',
      message:
        problem.kind === 'missing'
          ? 'The request did not contain the aeg-sas-key, aeg-sas-token or Authorization header.'
          : 'The access token is invalid.',
      headers: {},
    }),
  },
};

const DEFAULT_PROFILE: ServiceProfile = {
  errorBody: plainEnvelope,
  unauthorized: () => ({ code: 'Unauthorized', message: 'The access token is missing or invalid.', headers: {} }),
};

/**
 * A service that also accepts other credentials (Event Grid's aeg-sas-key / aeg-sas-token) but
 * validates an `Authorization: Bearer` token like any authenticated service when one is sent:
 * a valid token sets `req.principal`, a bad one is a 401 before the handler runs.
 */
export interface OptionalBearerService extends Service {
  readonly optionalBearerAuth: true;
}

function acceptsOptionalBearer(service: Service): service is OptionalBearerService {
  return (service as Partial<OptionalBearerService>).optionalBearerAuth === true;
}

export interface PipelineDeps {
  clock: Clock;
  tokens: TokenIssuer;
  faults: FaultInjector;
  log: RequestLog;
  tenantId: () => string;
  /** Tenants whose tokens a service accepts (the simulated directory's tenants). */
  knownTenant: (tenantId: string) => boolean;
  debug: (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export class Pipeline {
  private readonly services: Service[] = [];

  constructor(private readonly deps: PipelineDeps) {}

  mount(service: Service): void {
    this.services.push(service);
  }

  serviceFor(host: string): Service | undefined {
    const h = host.toLowerCase();
    return this.services.find((s) => s.matches(h));
  }

  async handle(raw: RawRequest): Promise<RawResponse> {
    const started = Date.now();
    const requestId = randomUUID();
    const host = raw.host.toLowerCase().replace(/:443$/, '');
    const service = this.serviceFor(host);
    const profile = (service && PROFILES[service.name]) ?? DEFAULT_PROFILE;
    let req: SimRequest | undefined;
    let operation = 'unknown';
    let fault = false;
    let dropAfterMs: number | undefined;
    let response: SimResponse;
    try {
      if (!service) throw new SimError(404, 'HostNotSimulated', `The Azure simulator does not serve the host '${host}'.`);
      req = buildRequest(raw, host, requestId);
      operation = safeOperation(service, req);
      // Rules for one principal are judged after authentication (below); the others before it, as they always were.
      const decision = this.deps.faults.decide(service.name, operation, req.method);
      if (decision.latencyMs > 0) await new Promise((r) => setTimeout(r, decision.latencyMs));
      if (decision.fail) {
        fault = true;
        const f = decision.fail;
        if (f.dropAfterMs !== undefined) {
          dropAfterMs = f.dropAfterMs;
          throw new SimError(f.status, 'ConnectionDropped', `Injected connection fault (rule ${f.ruleId}).`);
        }
        const headers: Record<string, string> = {};
        if (f.retryAfterSeconds !== undefined || f.status === 429 || f.status === 503)
          headers['retry-after'] = String(f.retryAfterSeconds ?? 1);
        throw new SimError(f.status, f.code ?? defaultCode(f.status), f.message ?? `Injected fault (rule ${f.ruleId}).`, headers);
      }
      if (raw.body.length > MAX_BODY_BYTES)
        throw new SimError(413, 'RequestEntityTooLarge', `The request body is ${raw.body.length} bytes; the limit is ${MAX_BODY_BYTES}.`);
      parseJsonBody(req, profile.jsonErrorCode ?? 'InvalidRequestContent');
      if (service.requiresAuth) req.principal = this.authenticate(req, service, profile);
      else if (acceptsOptionalBearer(service) && headerOf(req, 'authorization') !== undefined)
        req.principal = this.authenticate(req, service, profile);
      if (req.principal && this.deps.faults.hasPrincipalRules()) {
        const own = this.deps.faults.decide(service.name, operation, req.method, req.principal.objectId, true);
        if (own.latencyMs > 0) await new Promise((r) => setTimeout(r, own.latencyMs));
        if (own.fail) {
          fault = true;
          const f = own.fail;
          if (f.dropAfterMs !== undefined) {
            dropAfterMs = f.dropAfterMs;
            throw new SimError(f.status, 'ConnectionDropped', `Injected connection fault (rule ${f.ruleId}).`);
          }
          const headers: Record<string, string> = {};
          if (f.retryAfterSeconds !== undefined || f.status === 429 || f.status === 503)
            headers['retry-after'] = String(f.retryAfterSeconds ?? 1);
          throw new SimError(f.status, f.code ?? defaultCode(f.status), f.message ?? `Injected fault (rule ${f.ruleId}).`, headers);
        }
      }
      response = await service.handle(req);
    } catch (err) {
      response = this.errorResponse(err, profile, req, requestId, service?.name ?? 'none', operation);
    }
    let out: RawResponse;
    try {
      out = this.serialize(response, profile, requestId, req);
    } catch (err) {
      this.deps.debug('error', 'response could not be serialized', {
        service: service?.name,
        operation,
        requestId,
        error: (err as Error).message,
      });
      out = this.serialize(
        {
          status: 500,
          body: profile.errorBody(
            'InternalServerError',
            `The simulated service failed to serialize its answer (x-ms-request-id ${requestId}).`,
            req,
            requestId,
            this.deps.clock.now(),
          ),
        },
        profile,
        requestId,
        req,
      );
    }
    this.deps.log.add({
      time: new Date(this.deps.clock.now()).toISOString(),
      requestId,
      service: service?.name ?? 'none',
      operation,
      method: raw.method,
      host,
      path: raw.url.split('?')[0] ?? raw.url,
      status: out.status,
      principal: req?.principal?.objectId ?? 'anonymous',
      principalName: req?.principal?.displayName,
      durationMs: Date.now() - started,
      ...(fault ? { fault: true } : {}),
    });
    return dropAfterMs === undefined ? out : { ...out, dropAfterMs };
  }

  private authenticate(req: SimRequest, service: Service, profile: ServiceProfile): Principal {
    const tenantId = this.deps.tenantId();
    const fail = (problem: AuthProblem): never => {
      const u = profile.unauthorized(problem, tenantId);
      throw new SimError(401, u.code, u.message, u.headers);
    };
    const header = headerOf(req, 'authorization');
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) return fail({ kind: 'missing' });
    const check = this.deps.tokens.verify(match[1]!);
    if (!check.ok)
      return check.reason === 'expired'
        ? fail({ kind: 'expired', exp: check.claims?.exp })
        : fail({ kind: 'invalid', message: check.message });
    const claims = check.claims;
    if (profile.audiences) {
      const aud = String(claims.aud).replace(/\/$/, '');
      if (!profile.audiences.some((a) => a.replace(/\/$/, '') === aud))
        return fail({ kind: 'audience', audience: String(claims.aud), expected: profile.audiences });
    }
    if (!this.deps.knownTenant(claims.tid)) return fail({ kind: 'tenant', tenant: claims.tid });
    void service;
    return principalFromClaims(claims);
  }

  private errorResponse(
    err: unknown,
    profile: ServiceProfile,
    req: SimRequest | undefined,
    requestId: string,
    service: string,
    operation: string,
  ): SimResponse {
    if (err instanceof URIError) err = new SimError(400, 'BadRequest', `The request URI has malformed percent-encoding: ${err.message}.`);
    if (err instanceof SimError) {
      return {
        status: err.status,
        headers: err.headers,
        body: profile.errorBody(err.code, err.message, req, requestId, this.deps.clock.now()),
      };
    }
    this.deps.debug('error', 'handler failed', {
      service,
      operation,
      requestId,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    return {
      status: 500,
      body: profile.errorBody(
        'InternalServerError',
        `The simulated service failed to process the request (x-ms-request-id ${requestId}).`,
        req,
        requestId,
        this.deps.clock.now(),
      ),
    };
  }

  private serialize(res: SimResponse, profile: ServiceProfile, requestId: string, req: SimRequest | undefined): RawResponse {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers ?? {})) headers[k.toLowerCase()] = v;
    headers['x-ms-request-id'] ??= requestId;
    Object.assign(headers, profile.extraHeaders?.(requestId, req) ?? {});
    let body: Buffer;
    if (res.body === undefined || res.body === null) body = Buffer.alloc(0);
    else if (Buffer.isBuffer(res.body)) body = res.body;
    else if (typeof res.body === 'string') {
      body = Buffer.from(res.body, 'utf8');
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      body = Buffer.from(JSON.stringify(res.body), 'utf8');
      headers['content-type'] ??= 'application/json; charset=utf-8';
    }
    return { status: res.status, headers, body };
  }
}

function buildRequest(raw: RawRequest, host: string, requestId: string): SimRequest {
  const q = raw.url.indexOf('?');
  const path = q >= 0 ? raw.url.slice(0, q) : raw.url;
  const query = new URLSearchParams(q >= 0 ? raw.url.slice(q + 1) : '');
  return {
    method: raw.method.toUpperCase(),
    host,
    path: path || '/',
    query,
    headers: lowerHeaders(raw.headers),
    body: raw.body,
    requestId,
  };
}

function parseJsonBody(req: SimRequest, errorCode: string): void {
  if (req.body.length === 0) return;
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (!type.includes('json')) return;
  try {
    req.json = JSON.parse(req.body.toString('utf8'));
  } catch (err) {
    throw new SimError(400, errorCode, `The request content was invalid and could not be deserialized: '${(err as Error).message}'.`);
  }
}

function safeOperation(service: Service, req: SimRequest): string {
  try {
    return service.operationOf(req);
  } catch {
    return `${req.method} unknown`;
  }
}

function lowerHeaders(headers: RawRequest['headers']): SimRequest['headers'] {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

export function headerOf(req: SimRequest | undefined, name: string): string | undefined {
  const v = req?.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function defaultCode(status: number): string {
  const codes: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    429: 'TooManyRequests',
    500: 'InternalServerError',
    502: 'BadGateway',
    503: 'ServiceUnavailable',
    504: 'GatewayTimeout',
  };
  return codes[status] ?? `Http${status}`;
}

function aadstsCodes(message: string): number[] {
  const m = /AADSTS(\d+)/.exec(message);
  return m ? [Number(m[1])] : [];
}
