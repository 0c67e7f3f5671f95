/**
 * The request against openapi.yaml before any handler runs: the body is read within its limit
 * (413) and its timeouts (408), parsed as JSON or kept as bytes, and path, query, header
 * parameters and the JSON body are validated (400 with `details`). A bad request never reaches a
 * model. Bodies being received at once are bounded in bytes (`maxBodyBytesInProgress`, 503): what
 * the in-flight limit bounded when slots were taken before the body, now that they are taken once
 * it is in (middleware/admission.ts).
 *
 * What a body is, is decided before it is read, and decides its limit: an inference body is binary
 * when it carries `Inference-Header-Content-Length` and JSON when it does not, whatever its
 * Content-Type (as Triton does; http/binary-tensors.ts); any other body by its Content-Type (JSON
 * types parsed, the types the operation declares kept as bytes, 415 for others). A compressed body
 * is refused unread (415, http/codings.ts).
 */
import { mediaType, parseJson } from '../http/body';
import { BINARY_TENSOR_MEDIA_TYPE, binaryHeaderLength, checkBinaryHeaderLength } from '../http/binary-tensors';
import { checkBodyCodings } from '../http/codings';
import { HttpError, badRequest } from '../http/errors';
import type { HeaderBag } from '../http/request';
import type { RouteResult } from '../http/respond';
import type { Exchange, Middleware, Next } from '../server/context';

/** Media types read as JSON: curl's default form type too, as OIP servers accept it. */
const JSON_MEDIA_TYPES = new Set([undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded']);
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export const validateRequest: Middleware = (c, next) => {
  if (!c.operation!.bodyContentTypes.length) {
    validate(c);
    return next(c);
  }
  return readThenValidate(c, next);
};

async function readThenValidate(c: Exchange, next: Next): Promise<RouteResult> {
  await readBody(c);
  validate(c);
  return next(c);
}

async function readBody(c: Exchange): Promise<void> {
  const operation = c.operation!;
  const type = mediaType(c.request);
  const { options } = c.state;
  checkBodyCodings(c.request.headers);
  const kind = bodyKind(c, type);
  const json = kind === 'json';
  // JSON is parsed on the main thread in one step (~0.5 s per 4 MiB on a busy core), so it has a smaller limit.
  const jsonLimit = json && !operation.isUpload && options.maxJsonBodyBytes < options.maxBodyBytes;
  const maxBytes = operation.isUpload ? options.maxUploadBytes : jsonLimit ? options.maxJsonBodyBytes : options.maxBodyBytes;
  const counted = countBodyBytes(c, maxBytes);
  let bytes: Uint8Array;
  try {
    bytes = await c.request.bytes(maxBytes, {
      idleMs: options.bodyIdleTimeoutMs,
      totalMs: options.bodyTimeoutMs,
      onChunk: counted.onChunk,
    });
  } catch (error) {
    throw jsonLimit && error instanceof HttpError && error.status === 413 ? jsonTooLarge(maxBytes, options.maxBodyBytes, error) : error;
  } finally {
    c.state.bodyBytesInProgress -= counted.bytes();
  }
  if (bytes.byteLength === 0) {
    if (operation.bodyRequired) throw badRequest('request body is required', [{ path: '/', message: 'is required' }]);
  } else if (json) {
    if (!operation.bodyContentTypes.includes('application/json')) throw unsupported(type, operation.bodyContentTypes);
    c.body = type === BINARY_TENSOR_MEDIA_TYPE ? parseJsonSentAsBinary(bytes) : parseJson(bytes);
  } else if (kind === 'binary' || (type && operation.bodyContentTypes.includes(type))) {
    c.rawBody = bytes;
  } else {
    throw unsupported(type, operation.bodyContentTypes);
  }
}

/**
 * `binary` for an inference body with `Inference-Header-Content-Length` (its JSON header checked
 * against the JSON limit here, before the body is read), `json` for one without it, whatever the
 * Content-Type of either; other bodies by their Content-Type.
 */
function bodyKind(c: Exchange, type: string | undefined): 'json' | 'binary' | 'other' {
  if (c.operation!.bodyContentTypes.includes(BINARY_TENSOR_MEDIA_TYPE)) {
    const headerLength = binaryHeaderLength(c.request.headers);
    if (headerLength === undefined) return 'json';
    checkBinaryHeaderLength(headerLength, c.state.options.maxJsonBodyBytes);
    return 'binary';
  }
  return JSON_MEDIA_TYPES.has(type) || type?.endsWith('+json') === true ? 'json' : 'other';
}

/** An octet-stream body without the binary header is JSON (aiohttp's type for bytes); when it is not, the refusal says what binary needs. */
function parseJsonSentAsBinary(bytes: Uint8Array): unknown {
  try {
    return parseJson(bytes);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    throw new HttpError(
      error.status,
      error.code,
      `${error.message} (an application/octet-stream body without the Inference-Header-Content-Length header is read as JSON; a binary body needs that header)`,
      error.details,
      error.headers,
    );
  }
}

/**
 * Counts the body against the bytes the server may be receiving at once: its declared length
 * before it is read (503 at once when it would pass them), or, without a Content-Length, each
 * chunk as it arrives (503 and the connection closed when one would pass them). One body alone
 * may always be received, so a limit below the largest body starves nothing.
 */
function countBodyBytes(c: Exchange, maxBytes: number): { bytes(): number; onChunk?(byteLength: number): void } {
  const { state } = c;
  const declared = Number(c.request.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) return { bytes: () => 0 }; // refused (413) without being kept
  if (Number.isInteger(declared) && declared >= 0) {
    if (state.bodyBytesInProgress > 0 && state.bodyBytesInProgress + declared > state.options.maxBodyBytesInProgress) {
      throw receivingTooMuch(state.bodyBytesInProgress, declared, state.options.maxBodyBytesInProgress);
    }
    state.bodyBytesInProgress += declared;
    return { bytes: () => declared };
  }
  let counted = 0;
  return {
    bytes: () => counted,
    onChunk(byteLength) {
      const others = state.bodyBytesInProgress - counted;
      if (others > 0 && state.bodyBytesInProgress + byteLength > state.options.maxBodyBytesInProgress) {
        throw receivingTooMuch(others, counted + byteLength, state.options.maxBodyBytesInProgress, { connection: 'close' });
      }
      counted += byteLength;
      state.bodyBytesInProgress += byteLength;
    },
  };
}

function receivingTooMuch(others: number, bytes: number, limit: number, headers: Record<string, string> = {}): HttpError {
  return new HttpError(
    503,
    'overloaded',
    `the server is receiving ${size(others)} of other request bodies; this one's ${size(bytes)} would pass the limit of ${size(limit)} (--max-body-bytes-in-progress); retry shortly`,
    undefined,
    { 'retry-after': '1', ...headers },
  );
}

function size(bytes: number): string {
  return bytes < 1024 ** 2 ? `${bytes.toLocaleString('en-US')} bytes` : `${Number((bytes / 1024 ** 2).toFixed(2))} MiB`;
}

function jsonTooLarge(maxBytes: number, maxBodyBytes: number, error: HttpError): HttpError {
  return new HttpError(
    413,
    'payload_too_large',
    `the JSON body exceeds ${maxBytes.toLocaleString('en-US')} bytes, the limit for JSON (--max-json-body-bytes); larger tensors go in binary (with Inference-Header-Content-Length, up to ${maxBodyBytes.toLocaleString('en-US')} bytes)`,
    undefined,
    error.headers,
  );
}

function validate(c: Exchange): void {
  const operation = c.operation!;
  // Header parameters are validated only for operations that declare some.
  const header = operation.hasHeaderParams ? headerRecord(c.request.headers) : NO_HEADERS;
  // Coerces `c.query` in place (limit=5 becomes a number) and fills in defaults.
  const details = operation.validateParams({ path: c.params, query: c.query, header });
  if (c.body !== undefined && operation.validateBody) details.push(...operation.validateBody(c.body));
  if (details.length) {
    const summary = details.map((d) => `${d.path} ${d.message}`).slice(0, 3);
    throw badRequest(`invalid request: ${summary.join('; ')}`, details);
  }
}

/** Header parameters as ajv validates them: lower-case names, repeated headers joined. */
function headerRecord(headers: HeaderBag): Record<string, string> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    record[name] = value;
  });
  return record;
}

function unsupported(type: string | undefined, accepted: string[]): HttpError {
  return new HttpError(415, 'unsupported_media_type', `content type '${type}' is not supported here; use ${accepted.join(' or ')}`);
}
