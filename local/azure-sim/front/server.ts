/**
 * One loopback HTTP server that is both an HTTPS proxy and the control API:
 *  - CONNECT <azure-host>:443 → TLS terminated with a certificate from the simulator's CA, and the
 *    decrypted HTTP/1.1 requests go through the pipeline. Hosts no service answers for are refused.
 *  - plain requests on the port → `/_sim/**` control API and the managed-identity endpoint.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { CertificateAuthority } from './ca';
import { MAX_BODY_BYTES, type Pipeline, type RawRequest, type RawResponse } from './pipeline';

export interface ControlHandler {
  handle(req: { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }): Promise<RawResponse>;
}

export interface SimServerOptions {
  ca: CertificateAuthority;
  pipeline: Pipeline;
  control: ControlHandler;
  /** Host the loopback managed-identity endpoint forwards to in the pipeline. */
  managedIdentityHost: string;
  /** Loopback path of the managed-identity endpoint. */
  managedIdentityPath: string;
  /** Whether the proxy may open a tunnel to the host (a mounted service answers for it). */
  isSimulatedHost(host: string): boolean;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

const SIM_HOST = Symbol('azureSimHost');
type TaggedSocket = TLSSocket & { [SIM_HOST]?: string };

export class SimServer {
  private readonly outer: Server;
  private readonly inner: Server;
  private readonly sockets = new Set<Duplex>();
  port = 0;
  /** Counters for the health endpoint (tunnel reuse matters for throughput). */
  readonly stats = { tunnels: 0, tunnelledRequests: 0, refusedTunnels: 0 };

  constructor(private readonly opts: SimServerOptions) {
    this.outer = createServer((req, res) => void this.onDirect(req, res));
    this.inner = createServer((req, res) => void this.onTunnelled(req, res));
    // Long idle timeouts: a client reusing a kept-alive connection just as the server closes it gets
    // ECONNRESET (seen with fetch to the control API after a 5 s pause).
    this.outer.keepAliveTimeout = 65_000;
    this.inner.keepAliveTimeout = 120_000;
    this.outer.headersTimeout = 66_000;
    this.inner.headersTimeout = 121_000;
    this.outer.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onConnect(req, socket, head));
    this.outer.on('connection', (s: Socket) => this.track(s));
    this.outer.on('clientError', (_err, socket) => socket.destroy());
    this.inner.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.outer.once('error', reject);
      this.outer.listen(port, '127.0.0.1', () => {
        this.outer.off('error', reject);
        const address = this.outer.address();
        this.port = typeof address === 'object' && address ? address.port : port;
        resolve(this.port);
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.outer.close(() => resolve()));
    this.inner.close();
  }

  private track(s: Duplex): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private onConnect(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const target = req.url ?? '';
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
    const host = m?.[1]?.toLowerCase() ?? '';
    const port = Number(m?.[2] ?? 0);
    if (!m || port !== 443 || !this.opts.isSimulatedHost(host)) {
      const reason = !m
        ? `malformed CONNECT target '${target}'`
        : port !== 443
          ? `only port 443 is simulated (got ${host}:${port})`
          : `'${host}' is not an Azure host this simulator serves (login.microsoftonline.com, ` +
            `management.azure.com, graph.microsoft.com, <vault>.vault.azure.net of an existing vault, ` +
            `<topic>.<region>-1.eventgrid.azure.net)`;
      this.stats.refusedTunnels++;
      this.opts.log('warn', 'proxy refused CONNECT', { target, reason });
      const body = `azure-sim proxy refused the tunnel: ${reason}.\n`;
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: ` +
          `${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    this.stats.tunnels++;
    socket.write('HTTP/1.1 200 Connection Established\r\nProxy-Agent: azure-sim\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    let secureContext;
    try {
      secureContext = this.opts.ca.secureContextFor(host);
    } catch (err) {
      this.opts.log('error', 'could not issue a certificate', { host, error: (err as Error).message });
      socket.destroy();
      return;
    }
    const tls = new TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] }) as TaggedSocket;
    tls[SIM_HOST] = host;
    tls.on('error', () => tls.destroy());
    this.track(tls);
    this.inner.emit('connection', tls);
  }

  private async onTunnelled(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = (req.socket as TaggedSocket)[SIM_HOST] ?? String(req.headers.host ?? '').replace(/:\d+$/, '');
    this.stats.tunnelledRequests++;
    try {
      const body = await readBody(req, res);
      if (!body) return;
      const raw: RawRequest = { method: req.method ?? 'GET', host, url: req.url ?? '/', headers: req.headers, body };
      send(res, await this.opts.pipeline.handle(raw), req.method === 'HEAD');
    } catch (err) {
      // The pipeline answers every failure itself; this is the last line so nothing can crash the process.
      this.opts.log('error', 'tunnelled request failed outside the pipeline', { host, error: (err as Error).message });
      send(
        res,
        {
          status: 500,
          headers: { 'content-type': 'application/json' },
          body: Buffer.from(
            JSON.stringify({ error: { code: 'InternalServerError', message: 'The simulator failed to process the request.' } }),
          ),
        },
        false,
      );
    }
  }

  private async onDirect(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (/^[a-z]+:\/\//i.test(url)) {
      const body = `azure-sim proxy refused '${url}': only HTTPS through CONNECT is proxied; plain HTTP proxying is not supported.\n`;
      res.writeHead(403, { 'content-type': 'text/plain' }).end(body);
      return;
    }
    const body = await readBody(req, res);
    if (!body) return;
    const path = url.split('?')[0] ?? '/';
    try {
      if (path === this.opts.managedIdentityPath) {
        send(
          res,
          await this.opts.pipeline.handle({
            method: req.method ?? 'GET',
            host: this.opts.managedIdentityHost,
            url,
            headers: req.headers,
            body,
          }),
          false,
        );
        return;
      }
      send(res, await this.opts.control.handle({ method: req.method ?? 'GET', url, headers: req.headers, body }), req.method === 'HEAD');
    } catch (err) {
      this.opts.log('error', 'control request failed', { url, error: (err as Error).message });
      const payload = Buffer.from(JSON.stringify({ error: { code: 'InternalError', message: (err as Error).message } }));
      send(res, { status: 500, headers: { 'content-type': 'application/json' }, body: payload }, false);
    }
  }
}

/** Reads the body with a size cap; answers 413 itself and returns undefined when too large. */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () => {
      const payload = JSON.stringify({
        error: { code: 'RequestEntityTooLarge', message: `The request body exceeds ${MAX_BODY_BYTES} bytes.` },
      });
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' }).end(payload);
      req.resume();
      resolve(undefined);
    };
    if (declared > MAX_BODY_BYTES) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        done = true;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', () => {
      if (!done) resolve(undefined);
      done = true;
    });
  });
}

function send(res: ServerResponse, out: RawResponse, head: boolean): void {
  if (res.headersSent || res.destroyed) return;
  if (out.dropAfterMs !== undefined) {
    // Injected connection fault: no answer; the connection closes (at once, or after hanging like a timeout).
    const drop = () => res.socket?.destroy();
    if (out.dropAfterMs > 0) setTimeout(drop, out.dropAfterMs).unref();
    else drop();
    return;
  }
  const headers: Record<string, string | number> = { ...out.headers };
  headers['content-length'] = out.body.length;
  res.writeHead(out.status, headers);
  res.end(head ? undefined : out.body);
}
