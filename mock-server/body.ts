/** Reads a request body within a size limit and parses it by content type. */
import { HttpError, badRequest } from './errors';

export interface ParsedBody {
  json: unknown;
  raw: Uint8Array | undefined;
}

export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
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

export function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badRequest('request body is not valid UTF-8', undefined, 'malformed_body');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${(error as Error).message}`, undefined, 'malformed_json');
  }
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaType(request: Request): string | undefined {
  const header = request.headers.get('content-type');
  return header ? header.split(';')[0]!.trim().toLowerCase() : undefined;
}

/** The rest of the body is not read, so the connection cannot be reused: it is closed after the answer. */
function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'payload_too_large', `request body exceeds ${maxBytes} bytes`, undefined, { connection: 'close' });
}
