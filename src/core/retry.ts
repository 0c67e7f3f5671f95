/**
 * When the SDK tries a request again, and how long it waits first, as ky's `retry` option:
 * connection errors, 408, 409, 429 and 5xx; `Retry-After` (or a rate-limit reset header) on
 * 409, 429 and 503, capped at a minute; otherwise exponential backoff with equal jitter up to
 * 8 s. Idempotent methods retry; a POST or PATCH only with an idempotency key, which the server
 * uses to perform it at most once. An attempt that times out is retried like a connection error
 * (ky's `retryOnTimeout`): the `timeout` is per attempt, under the same method rule.
 */
import type { RetryOptions, ShouldRetryState } from 'ky';

/** 409 is retried only when the server says when: an idempotent request still in flight. */
const STATUS_CODES = [408, 409, 429, 500, 502, 503, 504];
const RETRY_AFTER_STATUS_CODES = [409, 429, 503];
const IDEMPOTENT_METHODS = ['get', 'put', 'head', 'delete', 'options', 'trace'];
const MAX_RETRY_AFTER_MS = 60_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_LIMIT_MS = 8_000;

/** The retry option for one call: `limit` retries after the first attempt, if `method` may retry at all. */
export function retryPolicy(method: string, limit: number, idempotencyKey: string | undefined): RetryOptions {
  const name = method.toLowerCase();
  return {
    limit,
    methods: idempotencyKey !== undefined || IDEMPOTENT_METHODS.includes(name) ? [name] : [],
    statusCodes: STATUS_CODES,
    afterStatusCodes: RETRY_AFTER_STATUS_CODES,
    maxRetryAfter: MAX_RETRY_AFTER_MS,
    backoffLimit: BACKOFF_LIMIT_MS,
    delay: backoff,
    jitter,
    shouldRetry: conflictNeedsRetryAfter,
    retryOnTimeout: true,
  };
}

/** Milliseconds before retry number `retryCount` (1, 2, …): 500, 1,000, 2,000, … */
const backoff = (retryCount: number): number => BACKOFF_BASE_MS * 2 ** (retryCount - 1);

/** Equal jitter: half the delay fixed, half random, so a herd spreads out yet never retries at once. */
const jitter = (delay: number): number => delay / 2 + Math.random() * (delay / 2);

/** A 409 without `Retry-After` is a real conflict (a name taken): no retry. Else ky's rules decide. */
function conflictNeedsRetryAfter({ error }: ShouldRetryState): false | undefined {
  const response = (error as { response?: Response }).response;
  return error.name === 'HTTPError' && response?.status === 409 && !response.headers.has('retry-after') ? false : undefined;
}
