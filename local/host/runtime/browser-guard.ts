/**
 * What keeps a web page out of the host's built-in routes (Durable webhooks and rpc path, /admin): a browser
 * can send a cross-origin "simple" request (text/plain, form posts) without a CORS preflight, and the
 * request still runs even though the page cannot read the answer. So, on these routes, a foreign `Origin`
 * is refused (403) and a body must be declared `application/json` (415). Server-side clients (Event Grid,
 * durable-functions' axios, the Azure CLI) send no `Origin`, and send JSON.
 * See https://developer.mozilla.org/docs/Web/HTTP/CORS#simple_requests
 */
import type { HostHttpRequest, HostHttpResponse } from '../contract';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The origins of `baseUrl` (with the loopback aliases of a loopback base), never the request's own Host header. */
export function ownOrigins(baseUrl: string): Set<string> {
  const base = new URL(baseUrl);
  const origins = new Set([base.origin]);
  if (LOOPBACK.has(base.hostname)) for (const name of LOOPBACK) origins.add(`${base.protocol}//${name}${base.port ? `:${base.port}` : ''}`);
  return origins;
}

function header(req: HostHttpRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const reject = (status: number, message: string): HostHttpResponse => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: JSON.stringify({ Message: message }),
});

/** A refusal for a request a browser page could have forged, or undefined when it may proceed. */
export function browserRequestRefusal(req: HostHttpRequest, baseUrl: string): HostHttpResponse | undefined {
  const origin = header(req, 'origin');
  // Matching against the Host header would let a DNS-rebinding page pass as "same origin".
  if (origin !== undefined && !ownOrigins(baseUrl).has(origin))
    return reject(403, `Cross-origin requests are not accepted here (Origin ${JSON.stringify(origin)}).`);
  const contentType = header(req, 'content-type');
  const hasBody = req.body.length > 0;
  if ((hasBody || contentType !== undefined) && !/^application\/json\s*(;|$)/i.test(contentType ?? ''))
    return reject(415, 'A request body must be sent with Content-Type: application/json.');
  return undefined;
}
