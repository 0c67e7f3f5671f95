/**
 * Answers remembered by Idempotency-Key: the first answer for a key is replayed for 24 hours; a
 * retry that arrives while the first is still running gets 409 with Retry-After, which the SDK
 * waits out; reusing a key for a different request is a 422. Which requests take part, and what
 * makes two of them "the same", is middleware/idempotency.ts's business. An answer is stored under
 * its caller, operation, path and key together, so a key is never shared between callers.
 */
import { HttpError } from './errors';
import { toResponse, type RouteResult } from './respond';

const TTL_MS = 24 * 60 * 60 * 1000;
const MAX_ENTRIES = 10_000;

/** What a remembered answer is stored under: the same key from another caller, or for another operation or path, is another entry. */
export interface IdempotentRequest {
  /** Who sent it: the API key's id, or one name for every caller when auth is off. */
  caller: string;
  operationId: string;
  path: string;
  /** The Idempotency-Key header. */
  key: string;
}

interface Entry {
  fingerprint: string;
  expires: number;
  response?: { status: number; headers: [string, string][]; body: ArrayBuffer };
}

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  /** The answer remembered for this caller's request with this key, or `answer()`'s, remembered if it succeeds. */
  async run(request: IdempotentRequest, fingerprint: string, answer: () => Promise<RouteResult> | RouteResult): Promise<RouteResult> {
    this.evictExpired();
    const { key } = request;
    const id = JSON.stringify([request.caller, request.operationId, request.path, key]);
    const existing = this.entries.get(id);
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        throw new HttpError(422, 'idempotency_key_reused', `Idempotency-Key '${key}' was used for a different request`);
      }
      if (!existing.response) {
        throw new HttpError(409, 'idempotency_in_progress', `a request with Idempotency-Key '${key}' is still in progress`, undefined, {
          'retry-after': '1',
        });
      }
      const { status, headers, body } = existing.response;
      return new Response(body.slice(0), { status, headers: [...headers, ['idempotent-replayed', 'true']] });
    }
    const entry: Entry = { fingerprint, expires: Date.now() + TTL_MS };
    this.entries.set(id, entry);
    try {
      const response = toResponse(await answer());
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
