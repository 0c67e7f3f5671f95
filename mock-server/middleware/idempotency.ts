/**
 * Idempotency keys for POSTs that create things: the first answer for a key is replayed for
 * 24 hours; a retry that arrives while the first is still running gets 409 with Retry-After,
 * which the SDK waits out; reusing a key for a different request is a 422.
 */
import { createHash } from 'node:crypto';
import type { RequestContext, RouteHandler } from '../http/context';
import { HttpError } from '../http/errors';
import { toResponse, type RouteResult } from '../http/respond';

const TTL_MS = 24 * 60 * 60 * 1000;
const MAX_ENTRIES = 10_000;

interface Entry {
  fingerprint: string;
  expires: number;
  response?: { status: number; headers: [string, string][]; body: ArrayBuffer };
}

/** Wraps a handler so that repeated requests with the same Idempotency-Key get the first answer. */
export function idempotent(handler: RouteHandler): RouteHandler {
  return (context) => context.state.idempotency.run(context, handler);
}

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  async run(context: RequestContext, handler: RouteHandler): Promise<RouteResult> {
    const key = context.request.headers.get('idempotency-key');
    if (!key) return handler(context);
    this.evictExpired();
    const id = `${context.operation.operationId} ${context.url.pathname} ${key}`;
    const fingerprint = fingerprintOf(context);
    const existing = this.entries.get(id);
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        throw new HttpError(422, 'idempotency_key_reused', `Idempotency-Key '${key}' was used for a different request`);
      }
      if (!existing.response) {
        throw new HttpError(409, 'idempotency_in_progress', `a request with Idempotency-Key '${key}' is still in progress`, undefined, { 'retry-after': '1' });
      }
      const { status, headers, body } = existing.response;
      return new Response(body.slice(0), { status, headers: [...headers, ['idempotent-replayed', 'true']] });
    }
    const entry: Entry = { fingerprint, expires: Date.now() + TTL_MS };
    this.entries.set(id, entry);
    try {
      const response = toResponse(await handler(context));
      // Only successes are remembered: a failed create may be retried with the same key.
      if (response.status >= 400) {
        this.entries.delete(id);
        return response;
      }
      const body = await response.arrayBuffer();
      entry.response = { status: response.status, headers: [...response.headers], body };
      return new Response(body.slice(0), { status: response.status, headers: response.headers });
    } catch (error) {
      this.entries.delete(id);
      throw error;
    }
  }

  clear(): void {
    this.entries.clear();
  }

  private evictExpired(): void {
    const now = Date.now();
    for (const [id, entry] of this.entries) if (entry.expires < now || this.entries.size > MAX_ENTRIES) this.entries.delete(id);
  }
}

function fingerprintOf(context: RequestContext): string {
  const hash = createHash('sha256');
  hash.update(context.request.method).update(context.url.pathname);
  // Multipart boundaries change on every send, so an upload is identified by its key alone.
  if (context.rawBody && !context.request.headers.get('content-type')?.startsWith('multipart/')) hash.update(context.rawBody);
  else if (context.body !== undefined) hash.update(JSON.stringify(context.body));
  return hash.digest('hex');
}
