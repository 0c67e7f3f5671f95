/** Token buckets per API key: `requests_per_second` refill, `burst` capacity. */
import type { RateLimitConfig } from './keys';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the next request would be allowed (0 when one is). */
  resetSeconds: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updated: number }>();

  take(key: string, config: RateLimitConfig, now = performance.now()): RateDecision {
    const capacity = config.burst ?? Math.max(1, Math.ceil(2 * config.requests_per_second));
    const bucket = this.buckets.get(key) ?? { tokens: capacity, updated: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.updated) / 1000) * config.requests_per_second);
    bucket.updated = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, limit: capacity, remaining: Math.floor(bucket.tokens), resetSeconds: 0 };
    }
    const resetSeconds = Math.ceil((1 - bucket.tokens) / config.requests_per_second);
    return { allowed: false, limit: capacity, remaining: 0, resetSeconds };
  }

  reset(): void {
    this.buckets.clear();
  }
}
