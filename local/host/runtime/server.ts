/** The socket layer: Node's http server in front of the dispatcher, with the host's request-size limit. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostHttpRequest, HostHttpResponse, HostLogger } from '../contract';
import { errorMessage } from './load-app';

/** The Functions host's default maxRequestBodySize (100 MB). */
export const DEFAULT_MAX_BODY_BYTES = 104_857_600;

export interface HostServer {
  port: number;
  close(): Promise<void>;
}

export async function startServer(options: {
  port: number;
  host?: string;
  maxBodyBytes?: number;
  logger: HostLogger;
  handle: (req: HostHttpRequest) => Promise<HostHttpResponse>;
}): Promise<HostServer> {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const server = http.createServer((req, res) => {
    const reply = (response: HostHttpResponse & { cookies?: string[] }) => {
      if (res.headersSent) return;
      const headers: http.OutgoingHttpHeaders = { ...(response.headers ?? {}) };
      if (response.cookies?.length) headers['set-cookie'] = response.cookies;
      const body = response.body ?? '';
      headers['content-length'] = Buffer.byteLength(body);
      res.writeHead(response.status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const tooLarge = () => {
      res.setHeader('connection', 'close');
      reply({
        status: 413,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: `Request body too large (limit ${limit} bytes)`,
      });
      req.resume();
    };
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      if (aborted) return;
      size += chunk.length;
      if (size > limit) {
        aborted = true;
        chunks.length = 0;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      aborted = true;
    });
    req.on('end', () => {
      if (aborted) return;
      const hostReq: HostHttpRequest = {
        method: (req.method ?? 'GET').toUpperCase(),
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      options.handle(hostReq).then(reply, (err: unknown) => {
        options.logger.log(
          'error',
          'Host.Http',
          `Unhandled error serving ${hostReq.method} ${hostReq.url.split('?')[0]}: ${errorMessage(err)}`,
        );
        reply({ status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'Internal Server Error' });
      });
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
