/**
 * Request routing of the host, independent of the socket layer: built-in routes first (admin, Event Grid and
 * Durable webhooks), then HTTP-trigger routes under the routePrefix, then the durable engine's rpc base path.
 * Every failure becomes a status code; nothing a client sends can crash the host.
 */
import type { DurableEngine, HostHttpRequest, HostHttpResponse, RegisteredFunction, RpcTypedData } from '../contract';
import { browserRequestRefusal } from './browser-guard';
import { handleEventGridWebhook } from './event-grid';
import { keyGrants, presentedKey, type AccessLevel, type HostKeys } from './keys';
import { errorMessage, type LoadedApp } from './load-app';
import { compileRoute, matchRoute, sortRoutes, type CompiledRoute } from './routes';
import { timerPayload } from './timers';

export interface DispatcherOptions {
  runtime: LoadedApp;
  keys: HostKeys | undefined;
  durable: () => DurableEngine | undefined;
  /** Origin the functions see in request.url when no Host header came with the request. */
  origin: () => string;
  startedAt: number;
}

interface HttpRoute {
  fn: RegisteredFunction;
  methods: Set<string> | undefined;
  authLevel: AccessLevel;
}

const empty = (status: number, headers: Record<string, string> = {}): HostHttpResponse => ({ status, headers, body: '' });
const text = (status: number, body: string): HostHttpResponse => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
  body,
});
const json = (status: number, value: unknown): HostHttpResponse => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: JSON.stringify(value),
});

export function routePrefixOf(hostJson: Record<string, any>): string {
  const prefix = hostJson?.extensions?.http?.routePrefix;
  return (typeof prefix === 'string' ? prefix : 'api').replace(/^\/+|\/+$/g, '');
}

export function createDispatcher(options: DispatcherOptions) {
  const { runtime, keys } = options;
  const prefix = routePrefixOf(runtime.hostJson);
  const httpRoutes = sortRoutes(
    runtime
      .list()
      .filter((fn) => fn.trigger.type === 'httpTrigger')
      .map((fn): CompiledRoute<HttpRoute> => {
        const methods =
          Array.isArray(fn.trigger.methods) && fn.trigger.methods.length
            ? new Set((fn.trigger.methods as string[]).map((m) => m.toUpperCase()))
            : undefined;
        const level = String(fn.trigger.authLevel ?? 'function').toLowerCase();
        const authLevel: AccessLevel = level === 'anonymous' ? 'anonymous' : level === 'admin' ? 'admin' : 'function';
        const route = typeof fn.trigger.route === 'string' && fn.trigger.route !== '' ? fn.trigger.route : fn.name;
        return compileRoute(prefix ? `${prefix}/${route.replace(/^\/+/, '')}` : route, { fn, methods, authLevel });
      }),
  );

  const authorized = (level: AccessLevel, url: URL, req: HostHttpRequest) => keyGrants(keys, level, presentedKey(url, req.headers));

  function urlOf(req: HostHttpRequest): URL {
    const host = req.headers.host;
    const origin = typeof host === 'string' && host ? `http://${host}` : options.origin();
    try {
      return new URL(req.url, origin);
    } catch {
      return new URL(req.url.replace(/[^\x21-\x7e]/g, encodeURIComponent), options.origin());
    }
  }

  async function dispatch(req: HostHttpRequest): Promise<HostHttpResponse> {
    const url = urlOf(req);
    const path = url.pathname;
    const lower = path.toLowerCase();

    if (lower === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      return {
        status: 200,
        headers: { 'content-type': 'text/html; charset=utf-8' },
        body: '<html><body><h1>Your Functions 4.0 app is up and running</h1></body></html>',
      };
    }
    if (lower === '/admin' || lower.startsWith('/admin/')) return admin(req, url);
    if (lower === '/runtime/webhooks/eventgrid') {
      if (!authorized('system:eventGrid', url, req)) return empty(401);
      return handleEventGridWebhook(req, url, runtime);
    }
    const durable = options.durable();
    if (lower === '/runtime/webhooks/durabletask' || lower.startsWith('/runtime/webhooks/durabletask/')) {
      if (!authorized('system:durable', url, req)) return empty(401);
      return (await durable?.handleHttp(req)) ?? empty(404);
    }

    // The client's rpc base path (a separate loopback listener in Azure) must not be shadowed by app routes.
    const rpc = await durable?.handleHttp(req);
    if (rpc) return rpc;

    const candidates = httpRoutes
      .map((route) => ({ route, params: matchRoute(route, path) }))
      .filter((c): c is { route: CompiledRoute<HttpRoute>; params: Record<string, string> } => c.params !== undefined);
    const hit = candidates.find((c) => !c.route.target.methods || c.route.target.methods.has(req.method));
    if (hit) {
      if (!authorized(hit.route.target.authLevel, url, req)) return empty(401);
      return invokeHttp(hit.route.target.fn, req, url, hit.params);
    }
    // A route that exists for other methods is still "not found" to the host's router.
    return empty(404);
  }

  async function invokeHttp(
    fn: RegisteredFunction,
    req: HostHttpRequest,
    url: URL,
    params: Record<string, string>,
  ): Promise<HostHttpResponse> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    const http = { method: req.method, url: url.href, headers, params, body: { bytes: new Uint8Array(req.body) } };
    let result;
    try {
      result = await runtime.invoke(fn.name, { triggerData: { http } });
    } catch {
      // The real host hides the exception from the caller (it is in the log).
      return empty(500);
    }
    const outputName = Object.entries(fn.bindings).find(([, b]) => b.direction === 'out' && b.type === 'http')?.[0];
    const data = outputName === '$return' ? result.returnValue : outputName ? result.outputData[outputName] : result.returnValue;
    if (!data?.http) return empty(data ? 500 : 204);
    return fromRpcHttp(data.http as RpcHttpResponse);
  }

  async function admin(req: HostHttpRequest, url: URL): Promise<HostHttpResponse> {
    const refusal = browserRequestRefusal(req, options.origin());
    if (refusal) return refusal;
    if (!authorized('admin', url, req)) return empty(401);
    const parts = url.pathname.replace(/\/+$/, '').split('/').slice(2).map(safeDecode);
    if (parts[0]?.toLowerCase() === 'host' && parts[1]?.toLowerCase() === 'status' && req.method === 'GET') {
      return json(200, { id: 'local-host', state: 'Running', version: '4.1037.0', processUptime: Date.now() - options.startedAt });
    }
    if (parts[0]?.toLowerCase() !== 'functions') return empty(404);
    if (parts.length === 1 && req.method === 'GET') return json(200, runtime.list().map(describeFunction));
    if (parts.length !== 2) return empty(404);
    const fn = runtime.get(parts[1]) ?? runtime.list().find((f) => f.name.toLowerCase() === parts[1].toLowerCase());
    if (!fn) return empty(404);
    if (req.method === 'GET') return json(200, describeFunction(fn));
    if (req.method !== 'POST') return empty(405);
    return adminInvoke(fn, req);
  }

  function describeFunction(fn: RegisteredFunction) {
    const route =
      fn.trigger.type === 'httpTrigger'
        ? typeof fn.trigger.route === 'string' && fn.trigger.route
          ? fn.trigger.route
          : fn.name
        : undefined;
    return {
      name: fn.name,
      config: { bindings: Object.values(fn.bindings) },
      invoke_url_template: route !== undefined ? `${options.origin()}/${prefix ? `${prefix}/` : ''}${route}` : null,
      isDisabled: false,
    };
  }

  function adminInvoke(fn: RegisteredFunction, req: HostHttpRequest): HostHttpResponse {
    const type = fn.trigger.type;
    if (type === 'httpTrigger') return text(400, `Function '${fn.name}' is HTTP-triggered: call its route instead.`);
    if (type === 'orchestrationTrigger' || type === 'activityTrigger' || type === 'entityTrigger') {
      return text(400, `Function '${fn.name}' is a Durable ${type}: start it through the durable client.`);
    }
    let input: unknown = '';
    if (req.body.length) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(req.body.toString('utf8'));
      } catch (err) {
        return text(400, `Request body is not valid JSON: ${errorMessage(err)}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
        return text(400, 'Request body must be an object like {"input": "<string>"}');
      input = (parsed as { input?: unknown }).input ?? '';
    }
    let triggerData: RpcTypedData;
    if (type === 'timerTrigger') triggerData = { json: JSON.stringify(timerPayload(null, false)) };
    else triggerData = { string: typeof input === 'string' ? input : JSON.stringify(input) };
    // Fire and forget, like the real host: the outcome goes to the log.
    runtime.invoke(fn.name, { triggerData }).catch((err: unknown) => {
      runtime.logger.log('error', `Function.${fn.name}`, `Admin invocation of '${fn.name}' failed: ${errorMessage(err)}`, {
        functionName: fn.name,
      });
    });
    return empty(202);
  }

  return {
    dispatch,
    routePrefix: prefix,
    httpRoutes: httpRoutes.map((r) => ({
      name: r.target.fn.name,
      template: r.template,
      methods: r.target.methods ? [...r.target.methods] : ['*'],
      authLevel: r.target.authLevel,
    })),
  };
}

interface RpcNullable<T> {
  value?: T;
}
interface RpcHttpResponse {
  statusCode?: string | number;
  headers?: Record<string, string>;
  cookies?: {
    name: string;
    value: string;
    domain?: RpcNullable<string>;
    path?: RpcNullable<string>;
    expires?: RpcNullable<{ seconds?: number }>;
    secure?: RpcNullable<boolean>;
    httpOnly?: RpcNullable<boolean>;
    sameSite?: string;
    maxAge?: RpcNullable<number>;
  }[];
  body?: RpcTypedData;
}

function fromRpcHttp(http: RpcHttpResponse): HostHttpResponse {
  const status = http.statusCode === undefined || http.statusCode === '' ? 200 : Number(http.statusCode);
  const headers: Record<string, string> = { ...(http.headers ?? {}) };
  const cookies = (http.cookies ?? []).map((c) => {
    let cookie = `${c.name}=${c.value}`;
    if (c.domain?.value) cookie += `; domain=${c.domain.value}`;
    if (c.path?.value) cookie += `; path=${c.path.value}`;
    if (c.expires?.value?.seconds) cookie += `; expires=${new Date(c.expires.value.seconds * 1000).toUTCString()}`;
    if (c.maxAge?.value !== undefined) cookie += `; max-age=${c.maxAge.value}`;
    if (c.secure?.value) cookie += '; secure';
    if (c.sameSite === 'lax') cookie += '; samesite=lax';
    else if (c.sameSite === 'strict') cookie += '; samesite=strict';
    else if (c.sameSite === 'explicitNone') cookie += '; samesite=none';
    if (c.httpOnly?.value) cookie += '; httponly';
    return cookie;
  });
  const body = http.body;
  const payload = body?.bytes
    ? Buffer.from(body.bytes)
    : body?.string !== undefined
      ? body.string
      : body?.json !== undefined
        ? body.json
        : '';
  const response: HostHttpResponse & { cookies?: string[] } = {
    status: Number.isInteger(status) && status >= 100 && status <= 999 ? status : 500,
    headers,
    body: payload,
  };
  if (cookies.length) response.cookies = cookies;
  return response;
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
