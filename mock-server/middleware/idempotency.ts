/**
 * Idempotency keys, for the operations whose openapi.yaml parameters include `Idempotency-Key`
 * (the POSTs that create things): a retry with the same key gets the first answer
 * (http/idempotency-store.ts keeps them). Keys are per caller: the same key from another API key
 * (or, without auth, from nobody in particular) is another key, so one caller never receives what
 * another created (an upload's version, a new key's secret). Two requests are the same when their
 * method, path, query and body are; a multipart body counts by its parts, not its boundary.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Exchange, Middleware } from '../server/context';

/** Who calls when no key is asked for (auth off): one shared caller, as there is nothing to tell callers apart. */
const ANONYMOUS = 'anonymous';

export const idempotency: Middleware = (c, next) => {
  const operation = c.operation!;
  const key = operation.idempotent ? c.request.headers.get('idempotency-key') : null;
  if (!key) return next(c);
  const request = { caller: c.principal?.keyId ?? ANONYMOUS, operationId: operation.operationId, path: c.url.pathname, key };
  return c.state.idempotency.run(request, fingerprintOf(c), () => next(c));
};

function fingerprintOf(c: Exchange): string {
  const hash = createHash('sha256');
  hash.update(c.request.method).update('\0').update(c.url.pathname).update('\0').update(c.url.search).update('\0');
  const boundary = multipartBoundary(c.request.headers.get('content-type'));
  if (c.rawBody && boundary) hashMultipart(hash, c.rawBody, boundary);
  else if (c.rawBody) hash.update(c.rawBody);
  else if (c.body !== undefined) hash.update(JSON.stringify(c.body));
  return hash.digest('hex');
}

/** The boundary of a multipart body (RFC 2046: 1-70 characters, maybe quoted), or undefined. */
function multipartBoundary(contentType: string | null): string | undefined {
  if (!contentType?.toLowerCase().startsWith('multipart/')) return undefined;
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

/**
 * A multipart body as its parts: every occurrence of the boundary (which by definition occurs in
 * no part) is hashed as one fixed separator, so the part headers (names, file names, types) and
 * contents count, and the boundary a client picks anew on every send does not.
 */
function hashMultipart(hash: Hash, body: Uint8Array, boundary: string): void {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(boundary, 'latin1');
  let start = 0;
  for (let at = bytes.indexOf(delimiter, start); at !== -1; at = bytes.indexOf(delimiter, start)) {
    hash.update(bytes.subarray(start, at)).update('\0boundary\0');
    start = at + delimiter.length;
  }
  hash.update(bytes.subarray(start));
}
