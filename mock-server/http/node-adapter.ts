/**
 * node:http adapter: serves the app on a port.
 *
 * For a handler made by `fetchHandler` (createApp's, the usual case) requests take a direct path:
 * the body is read from the socket into one Buffer, the app sees a light request
 * (`IncomingRequest`), and a `Reply` is written with one `res.end`. No WHATWG Request, Headers, AbortSignal, Response or web stream is
 * built per request (they were about a sixth of the server's time under load). Requests that a
 * fetch `Request` could not represent (forbidden methods, a Host that is no host, control
 * characters in headers) and any other fetch-style handler take the fetch path, as before.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { bodyIdle, bodyLate, tooLarge } from './body';
import { badRequest } from './errors';
import { APP, type AppHandler, type Handler } from './handler';
import type { BodyLimits, HeaderBag, IncomingRequest } from './request';
import { Reply } from './respond';

export interface Listening {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export interface ListenOptions {
  port?: number;
  host?: string;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * All of a request's headers must arrive within this many milliseconds (default 20 s), or Node
   * answers 408 and closes the connection: headers sent a byte at a time hold no socket for long.
   */
  headersTimeoutMs?: number;
  /**
   * The app's body deadline (default 300 s). Node's own limit on a whole request is set 5 s past
   * headers + body, a backstop behind the app's 408 (which carries the error body).
   */
  bodyTimeoutMs?: number;
}

/** Node's defaults keep a stalled request for 300 s (requestTimeout) and look every 30 s; these are ours. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 20_000;

export function listen(handler: Handler, options: ListenOptions = {}): Promise<Listening> {
  const host = options.host ?? '127.0.0.1';
  const scheme = options.tls ? 'https' : 'http';
  const app = (handler as Handler & { [APP]?: AppHandler })[APP];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const request = app ? nodeRequest(req, host, scheme) : undefined;
    const served = request ? serveDirect(app!, request, req, res) : serve(handler, req, res, host, scheme);
    served.catch((error) => {
      console.error('[modelport] failed to write a response:', error);
      res.destroy();
    });
  };
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const timeouts = {
    headersTimeout,
    requestTimeout: headersTimeout + (options.bodyTimeoutMs ?? 300_000) + 5_000,
    // How often Node looks for connections past those timeouts (its default, 30 s, would let a
    // 20 s header timeout run to 50 s).
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(headersTimeout / 4))),
  };
  const server: Server = options.tls
    ? createTlsServer({ cert: options.tls.cert, key: options.tls.key, ...timeouts }, onRequest)
    : createServer(timeouts, onRequest);
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        server,
        url: `${scheme}://${shownHost}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

// ---- the direct path ----

/** Methods a fetch Request takes as they are (others, TRACE and CONNECT among them, go the fetch way). */
const DIRECT_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** What `Headers` refuses in a value (node's parser lets some through). */
const FORBIDDEN_IN_VALUE = /[\0\r\n]/;
const EMPTY = new Uint8Array(0);

async function serveDirect(app: AppHandler, request: IncomingRequest, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const result = await app(request);
  if (!req.complete) {
    // Answered before its body was all in (401, 403, 429, an early 503, a 408): the connection
    // closes after the answer, rather than waiting for the rest of a body that may never come.
    res.shouldKeepAlive = false;
    // A body nobody has read (the answer came from the headers alone) is read and dropped for a
    // moment first: a client still sending when the connection closes reports the broken write
    // (Node 24's fetch does), not the answer. A body being read (a 408, a 413) is not waited for.
    if (req.readableFlowing === null) await drainBriefly(req);
  }
  if (result instanceof Reply) writeReply(result, res);
  else await writeResponse(result, res);
}

function writeReply(reply: Reply, res: ServerResponse): void {
  const { body, headers } = reply;
  if (body === null) {
    res.writeHead(reply.status, headers).end();
    return;
  }
  headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  res.writeHead(reply.status, headers).end(body);
}

/**
 * The request as the app reads it, or undefined when a fetch Request would see it differently
 * (or refuse it): then the fetch path answers, exactly as it always has.
 */
function nodeRequest(req: IncomingMessage, host: string, scheme: string): IncomingRequest | undefined {
  const method = req.method!;
  if (!DIRECT_METHODS.has(method)) return undefined;
  const raw = req.rawHeaders;
  const headers = new Map<string, string>();
  for (let i = 0; i < raw.length; i += 2) {
    let value = raw[i + 1]!;
    if (FORBIDDEN_IN_VALUE.test(value)) return undefined;
    if (value.length && (isHttpWhitespace(value.charCodeAt(0)) || isHttpWhitespace(value.charCodeAt(value.length - 1))))
      value = value.replace(/^[\t ]+|[\t ]+$/g, '');
    const name = raw[i]!.toLowerCase();
    const current = headers.get(name);
    headers.set(name, current === undefined ? value : `${current}, ${value}`);
  }
  let url: URL;
  try {
    url = new URL(`${scheme}://${req.headers.host ?? host}${req.url ?? '/'}`);
  } catch {
    return undefined;
  }
  if (url.username || url.password) return undefined;
  const hasBody = method !== 'GET' && method !== 'HEAD';
  let body: Promise<Uint8Array> | undefined;
  return {
    method,
    url: url.href,
    headers: new MapHeaders(headers),
    bytes(maxBytes, timeouts) {
      body ??= hasBody ? readNodeBody(req, headers.get('content-length'), maxBytes, timeouts) : Promise.resolve(EMPTY);
      return body;
    },
  };
}

function isHttpWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

class MapHeaders implements HeaderBag {
  constructor(private readonly map: Map<string, string>) {}

  get(name: string): string | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const name of [...this.map.keys()].sort()) callback(this.map.get(name)!, name);
  }
}

/**
 * The body into one Buffer, within `maxBytes` (as body.ts `readBody` does for a fetch Request)
 * and within `timeouts`: a body that stalls is a 408, and the rest of it is not read.
 */
function readNodeBody(
  req: IncomingMessage,
  contentLength: string | undefined,
  maxBytes: number,
  timeouts?: BodyLimits,
): Promise<Uint8Array> {
  const declared = Number(contentLength ?? NaN);
  if (declared > maxBytes)
    return declared <= maxBytes + DRAIN_BYTES ? drainThenRefuse(req, maxBytes, 0, timeouts) : Promise.reject(tooLarge(maxBytes));
  // Gone already (the client closed while the request waited, e.g. behind an injected latency).
  if (req.destroyed) return Promise.reject(badRequest('the request body ended early (aborted)', undefined, 'malformed_body'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const clock = timeouts && bodyClock(req, timeouts, (error) => finish(error));
    const stop = () => {
      clock?.stop();
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const finish = (error?: Error, bytes?: Uint8Array) => {
      stop();
      if (error) reject(error);
      else resolve(bytes!);
    };
    const onData = (chunk: Buffer) => {
      clock?.progress();
      try {
        timeouts?.onChunk?.(chunk.byteLength);
      } catch (error) {
        chunks.length = 0;
        req.pause();
        finish(error as Error);
        return;
      }
      total += chunk.byteLength;
      if (total > maxBytes) {
        stop();
        chunks.length = 0;
        drainThenRefuse(req, maxBytes, total, timeouts).catch(reject);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      // A plain Uint8Array view (no copy), as a fetch body is: Buffer's `slice` shares memory, and
      // binary tensors rely on `slice` copying an unaligned subarray into an aligned one.
      finish(undefined, new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
    };
    // The client went away before sending all it announced: bad input, not a server error.
    const onError = (error: Error) => finish(badRequest(`the request body ended early (${error.message})`, undefined, 'malformed_body'));
    const onClose = () => onError(new Error('aborted'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * Clients that are still sending when the answer comes and the connection closes (Node 24's
 * fetch, for one) report the broken write, not the 413. So a body at most DRAIN_BYTES over the
 * limit is read to its end and thrown away before the 413; a larger one is refused at once and
 * its connection closed (the 413 says `connection: close`).
 */
const DRAIN_BYTES = 8 * 1024 * 1024;

/** How long an unread body is drained before an early answer: until 300 ms pass without a byte, or 5 s in all. */
const DRAIN_IDLE_MS = 300;
const DRAIN_TOTAL_MS = 5000;

/** Reads and drops the rest of a body nobody read: to its end, or DRAIN_BYTES, or the drain's clocks, whichever comes first. */
function drainBriefly(req: IncomingMessage): Promise<void> {
  if (Number(req.headers['content-length']) > DRAIN_BYTES) return Promise.resolve();
  return new Promise((resolve) => {
    let total = 0;
    let idle = setTimeout(() => done(), DRAIN_IDLE_MS);
    const deadline = setTimeout(() => done(), DRAIN_TOTAL_MS);
    const done = () => {
      clearTimeout(idle);
      clearTimeout(deadline);
      req.off('data', onData).off('end', done).off('error', done).off('close', done);
      req.pause();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > DRAIN_BYTES) return done();
      clearTimeout(idle);
      idle = setTimeout(() => done(), DRAIN_IDLE_MS);
    };
    req.on('data', onData).on('end', done).on('error', done).on('close', done);
    req.resume();
  });
}

function drainThenRefuse(req: IncomingMessage, maxBytes: number, alreadyRead = 0, timeouts?: BodyLimits): Promise<never> {
  return new Promise((_, reject) => {
    let total = alreadyRead;
    // A drain that stalls ends in the 413 it was going to be (the connection is closed either way).
    const clock = timeouts && bodyClock(req, timeouts, () => refuse());
    const refuse = () => {
      clock?.stop();
      req.off('data', onData).off('end', refuse).off('error', refuse).off('close', refuse);
      req.pause();
      reject(tooLarge(maxBytes));
    };
    const onData = (chunk: Buffer) => {
      clock?.progress();
      total += chunk.byteLength;
      if (total > maxBytes + DRAIN_BYTES) refuse();
    };
    req.on('data', onData).on('end', refuse).on('error', refuse).on('close', refuse);
    req.resume();
  });
}

/**
 * The two clocks of a body being read: idle (restarted by every chunk) and total. When either
 * runs out, `expire` gets the 408 and the request stops being read; the 408 says
 * `connection: close`, so the rest of the body is never waited for.
 */
function bodyClock(req: IncomingMessage, timeouts: BodyLimits, expire: (error: Error) => void) {
  const expireWith = (error: Error) => {
    clearTimeout(idle);
    clearTimeout(total);
    req.pause();
    expire(error);
  };
  const idle = setTimeout(() => expireWith(bodyIdle(timeouts.idleMs)), timeouts.idleMs);
  const total = setTimeout(() => expireWith(bodyLate(timeouts.totalMs)), timeouts.totalMs);
  return {
    progress() {
      idle.refresh();
    },
    stop() {
      clearTimeout(idle);
      clearTimeout(total);
    },
  };
}

// ---- the fetch path ----

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
  await writeResponse(await handler(request), res);
}

/** A fetch Response (streams, pages), written as it comes. */
async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
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
