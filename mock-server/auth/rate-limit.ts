/**
 * Token buckets per API key: `requests_per_second` refill, `burst` capacity. openapi.yaml bounds
 * both (0.001 to 1,000,000); a setting from elsewhere (an old keys file, a caller in process) is
 * clamped to the same range, so Retry-After is always a whole number of seconds, 1 to 1,000.
 */
import type { RateLimitConfig } from './keys';

export const RATE_LIMIT_RANGE = { min: 0.001, max: 1_000_000 } as const;

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
    const rate = clamp(config.requests_per_second, RATE_LIMIT_RANGE.min, RATE_LIMIT_RANGE.max);
    const capacity = Math.floor(clamp(config.burst ?? Math.ceil(2 * rate), 1, RATE_LIMIT_RANGE.max));
    const bucket = this.buckets.get(key) ?? { tokens: capacity, updated: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.updated) / 1000) * rate);
    bucket.updated = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, limit: capacity, remaining: Math.floor(bucket.tokens), resetSeconds: 0 };
    }
    const resetSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
    return { allowed: false, limit: capacity, remaining: 0, resetSeconds };
  }

  reset(): void {
    this.buckets.clear();
  }
}

/** `value` within [min, max]; NaN counts as min. */
function clamp(value: number, min: number, max: number): number {
  return value >= min ? Math.min(value, max) : min;
}
