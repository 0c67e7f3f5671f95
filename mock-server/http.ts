/** node:http adapter: serves a fetch-style handler on a port. */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Handler } from './app';

export interface Listening {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export function listen(handler: Handler, options: { port?: number; host?: string; tls?: { cert: string | Buffer; key: string | Buffer } } = {}): Promise<Listening> {
  const host = options.host ?? '127.0.0.1';
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    serve(handler, req, res, host, options.tls ? 'https' : 'http').catch((error) => {
      console.error('[modelport] failed to write a response:', error);
      res.destroy();
    });
  };
  const server: Server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createServer(onRequest);
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        server,
        url: `${options.tls ? 'https' : 'http'}://${shownHost}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function serve(handler: Handler, req: IncomingMessage, res: ServerResponse, host: string, scheme: string): Promise<void> {
  const url = `${scheme}://${req.headers.host ?? host}${req.url ?? '/'}`;
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  let request: Request;
  try {
    request = new Request(url, {
      method: req.method,
      headers,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' } : {}),
    } as RequestInit);
  } catch (error) {
    // Node's parser accepted it but fetch cannot represent it (a TRACE method, a Host that is no host).
    const requestId = randomUUID();
    const body = { error: `malformed request: ${(error as Error).message}`, code: 'invalid_request', status: 400, request_id: requestId };
    res.writeHead(400, { 'content-type': 'application/json', 'x-request-id': requestId }).end(JSON.stringify(body));
    return;
  }
  const response = await handler(request);
  res.statusCode = response.status;
  response.headers.forEach((value, key) => res.setHeader(key, value));
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.on('close', () => reader.cancel().catch(() => undefined));
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}
