/**
 * Idempotency keys, for the operations whose openapi.yaml parameters include `Idempotency-Key`
 * (the POSTs that create things): a retry with the same key gets the first answer
 * (http/idempotency-store.ts keeps them). Two requests are the same when their method, path and
 * body are.
 */
import { createHash } from 'node:crypto';
import type { Exchange, Middleware } from '../server/context';

export const idempotency: Middleware = (c, next) => {
  const operation = c.operation!;
  const key = operation.idempotent ? c.request.headers.get('idempotency-key') : null;
  if (!key) return next(c);
  const id = `${operation.operationId} ${c.url.pathname} ${key}`;
  return c.state.idempotency.run(id, key, fingerprintOf(c), () => next(c));
};

function fingerprintOf(c: Exchange): string {
  const hash = createHash('sha256');
  hash.update(c.request.method).update(c.url.pathname);
  // Multipart boundaries change on every send, so an upload is identified by its key alone.
  if (c.rawBody && !c.request.headers.get('content-type')?.startsWith('multipart/')) hash.update(c.rawBody);
  else if (c.body !== undefined) hash.update(JSON.stringify(c.body));
  return hash.digest('hex');
}
