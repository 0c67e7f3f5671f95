/** Reads a request body within a size limit and parses it by content type. */
import { HttpError, badRequest } from './errors';
import type { BodyLimits, HeaderBag } from './request';

/** A fetch `Request`'s body within `maxBytes` (the node:http adapter reads its own, in node-adapter.ts). */
export async function readBody(request: Request, maxBytes: number, timeouts?: BodyLimits): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  const deadline = timeouts ? performance.now() + timeouts.totalMs : Number.POSITIVE_INFINITY;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = timeouts ? await readWithin(reader, timeouts, deadline) : await reader.read();
    } catch (error) {
      // A stalled body (408): not cancelled, which would destroy a node:http request's socket
      // before the answer; the 408 closes the connection instead.
      if (error instanceof HttpError) throw error;
      // The client went away before sending all it announced: bad input, not a server error.
      throw badRequest(`the request body ended early (${(error as Error).message})`, undefined, 'malformed_body');
    }
    const { done, value } = chunk;
    if (done) break;
    timeouts?.onChunk?.(value.byteLength);
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * How deep a JSON body may nest. Tensor data nests one level per dimension (32 at most), inside a
 * few levels of request; deeper documents would overflow the stack of everything that walks them
 * (JSON.stringify in the journal, idempotency fingerprints, responses that echo them).
 */
export const MAX_JSON_DEPTH = 64;

export function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badRequest('request body is not valid UTF-8', undefined, 'malformed_body');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${(error as Error).message}`, undefined, 'malformed_json');
  }
  // No document nests deeper than it has `[` and `{` bytes: counting them (memchr) spares walking
  // every element of a tensor's data; only bodies with many of them are walked.
  if (openersExceed(bytes, MAX_JSON_DEPTH)) checkJsonDepth(value);
  return value;
}

function openersExceed(bytes: Uint8Array, limit: number): boolean {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count = 0;
  for (const opener of OPENERS) {
    for (let at = buffer.indexOf(opener); at !== -1; at = buffer.indexOf(opener, at + 1)) if (++count > limit) return true;
  }
  return false;
}

const OPENERS = [0x5b, 0x7b]; // [ {

/** A 400 for JSON nested deeper than MAX_JSON_DEPTH (checked without recursion). */
export function checkJsonDepth(value: unknown, where = '/'): void {
  if (typeof value !== 'object' || value === null) return;
  // Two parallel stacks and an indexed loop over arrays: tensor data is long arrays of numbers,
  // which this walks without boxing each element.
  const nodes: object[] = [value];
  const depths: number[] = [1];
  while (nodes.length) {
    const node = nodes.pop()!;
    const depth = depths.pop()!;
    if (depth > MAX_JSON_DEPTH) {
      throw badRequest(`JSON nested more than ${MAX_JSON_DEPTH} levels deep`, [
        { path: where, message: `nests more than ${MAX_JSON_DEPTH} levels deep` },
      ]);
    }
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const child: unknown = node[i];
        if (typeof child === 'object' && child !== null) {
          nodes.push(child);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const child of Object.values(node)) {
        if (typeof child === 'object' && child !== null) {
          nodes.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaType(request: { headers: HeaderBag }): string | undefined {
  const header = request.headers.get('content-type');
  return header ? header.split(';')[0]!.trim().toLowerCase() : undefined;
}

/** The next chunk, or a 408 when none comes within the idle timeout or the body's deadline passes. */
function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  timeouts: BodyLimits,
  deadline: number,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  const left = deadline - performance.now();
  const idle = timeouts.idleMs <= left;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(idle ? bodyIdle(timeouts.idleMs) : bodyLate(timeouts.totalMs)),
      Math.max(0, idle ? timeouts.idleMs : left),
    );
  });
  return Promise.race([reader.read(), late]).finally(() => clearTimeout(timer));
}

/** 408 for a body of which nothing arrived for `idleMs`. */
export function bodyIdle(idleMs: number): HttpError {
  return requestTimeout(`no byte of the request body arrived for ${seconds(idleMs)}; the limit is ${idleMs} ms (--body-idle-timeout-ms)`);
}

/** 408 for a body not complete `totalMs` after it began. */
export function bodyLate(totalMs: number): HttpError {
  return requestTimeout(`the request body was not complete after ${seconds(totalMs)}; the limit is ${totalMs} ms (--body-timeout-ms)`);
}

function requestTimeout(message: string): HttpError {
  return new HttpError(408, 'request_timeout', message, undefined, { connection: 'close' });
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** The rest of the body is not read, so the connection cannot be reused: it is closed after the answer. */
export function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'payload_too_large', `request body exceeds ${maxBytes} bytes`, undefined, { connection: 'close' });
}
