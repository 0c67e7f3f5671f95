/**
 * The socket side of `modelport serve --replay`: a node:http server whose every request becomes a
 * Fetch `Request` for the replayer (modelport/cassette's createReplayer), and whose `Response` is
 * written back as it is (status, headers, bytes). Nothing here knows about models or TensorFlow.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Replayer } from 'modelport/cassette';
import { answerError } from '../record/proxy-routes';

/** A request body past this is refused with 413 before it is buffered (the recording proxy's limit too). */
export const MAX_REPLAY_BODY_BYTES = 64 * 1024 * 1024;
/** All of a request's headers must arrive within this (as `modelport serve`); the whole request within the second. */
const HEADERS_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 300_000;
/** Only the path and query of a request matter to the replayer; its origin is this. */
const ORIGIN = 'http://127.0.0.1';

export interface ReplayListening {
  url: string;
  /** Stops taking connections; answers under way get `graceMs` to finish, then every socket is closed. */
  close(graceMs: number): Promise<void>;
}

export function listenReplay(replayer: Replayer, port: number, host: string): Promise<ReplayListening> {
  const server: Server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    answer(replayer, req, res).catch((error: Error) => {
      console.error(`modelport serve --replay: ${req.method} ${req.url} failed: ${error.stack ?? error.message}`);
      if (!res.headersSent) answerError(req, res, 500, `modelport serve --replay failed to answer: ${error.message}`);
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({ url: `http://${shownHost}:${(server.address() as AddressInfo).port}`, close: (graceMs) => close(server, graceMs) });
    });
  });
}

async function close(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}

async function answer(replayer: Replayer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const target = req.url ?? '/';
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_REPLAY_BODY_BYTES) return answerError(req, res, 413, tooLarge(declared));
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const body = hasBody ? await readBody(req) : undefined;
  if (body === 'too large') {
    answerError(req, res, 413, tooLarge(undefined));
    // The rest of a body that never ends must not be read: the connection goes once the answer is out.
    res.once('finish', () => req.destroy());
    return;
  }
  if (!hasBody) req.resume();
  let request: Request;
  try {
    // A path starting with '//' stays a path: it is appended to the origin, not resolved against it.
    const url = target.startsWith('/') ? `${ORIGIN}${target}` : new URL(target, ORIGIN).href;
    request = new Request(url, { method, headers: headersOf(req), ...(body === undefined ? {} : { body }) });
  } catch (error) {
    return answerError(req, res, 400, `modelport serve --replay cannot answer ${method} ${target}: ${(error as Error).message}`);
  }
  const response = await replayer.respond(request);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  res.writeHead(response.status, { ...headers, 'content-length': String(bytes.byteLength) });
  res.end(method === 'HEAD' ? undefined : bytes);
}

/** `declared`: the Content-Length; undefined for a chunked body cut at the limit. */
function tooLarge(declared: number | undefined): string {
  const body = declared === undefined ? 'request body' : `request body of ${declared} bytes`;
  return `${body} is over the ${MAX_REPLAY_BODY_BYTES / 1024 / 1024} MiB limit of modelport serve --replay`;
}

/** The body, or 'too large' as soon as it passes the limit (a chunked body declares no length). */
function readBody(req: IncomingMessage): Promise<Uint8Array<ArrayBuffer> | 'too large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      length += chunk.byteLength;
      if (length > MAX_REPLAY_BODY_BYTES) {
        req.off('data', onData).pause();
        chunks.length = 0;
        return resolve('too large');
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      const bytes = new Uint8Array(length);
      let offset = 0;
      for (const chunk of chunks) bytes.set(chunk, (offset += chunk.byteLength) - chunk.byteLength);
      resolve(bytes);
    });
    req.once('error', reject);
  });
}

/** The request's headers as sent, repeated ones included (Node's `req.headers` joins or drops some). */
function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  return headers;
}
