/**
 * fetch for clients that are not Azure SDKs (Microsoft Graph), honouring HTTPS_PROXY / HTTP_PROXY /
 * NO_PROXY the way the Azure SDK pipelines do. Node's global fetch ignores those variables, so a
 * Graph call would silently bypass a corporate proxy (or the local simulator) otherwise.
 */
import type { Middleware } from '@microsoft/microsoft-graph-client';
import { EnvHttpProxyAgent, fetch as undiciFetch, type Dispatcher } from 'undici';

let sharedDispatcher: Dispatcher | undefined;

/**
 * One dispatcher per process (connection pooling across invocations). It reads the proxy
 * variables when first used; {@link resetProxyDispatcher} forgets it (tests change the env).
 */
function proxyDispatcher(): Dispatcher {
  sharedDispatcher ??= new EnvHttpProxyAgent();
  return sharedDispatcher;
}

export async function resetProxyDispatcher(): Promise<void> {
  const current = sharedDispatcher;
  sharedDispatcher = undefined;
  if (current) await current.close();
}

/** fetch bound to the proxy-aware dispatcher. */
const proxyFetch = ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
  undiciFetch(input, { ...init, dispatcher: proxyDispatcher() })) as unknown as typeof globalThis.fetch;

/**
 * Last link of the Graph middleware chain, in place of the default HTTPMessageHandler (which calls
 * the global fetch): sends the request through {@link proxyFetch}.
 */
export class ProxyAwareFetchHandler implements Middleware {
  async execute(context: Parameters<Middleware['execute']>[0]): Promise<void> {
    const { request, options } = context;
    const url = typeof request === 'string' ? request : (request as { url: string }).url;
    const init: Record<string, unknown> = { ...(options ?? {}) };
    if (typeof request !== 'string') {
      // A Request object: carry its method/headers/body over (Graph normally passes a URL string).
      const r = request as Request;
      init.method ??= r.method;
      init.headers ??= Object.fromEntries(r.headers.entries());
      if (init.body === undefined && r.body) {
        init.body = await r.text();
      }
    }
    context.response = (await proxyFetch(url, init as RequestInit)) as Response;
  }
}
