/** Usage metering: requests, errors and handling milliseconds per key and per model, by minute. */
import type { components } from 'modelport';

type UsageRow = components['schemas']['UsageRow'];
const MINUTE = 60_000;
const KEEP_MINUTES = 24 * 60;

interface Counts {
  requests: number;
  errors: number;
  computeMs: number;
}

export class UsageMeter {
  /** minute → ("k:<key>" | "m:<model>") → counts */
  private readonly minutes = new Map<number, Map<string, Counts>>();

  record(key: string, model: string | undefined, status: number, ms: number, now = Date.now()): void {
    const minute = Math.floor(now / MINUTE) * MINUTE;
    let bucket = this.minutes.get(minute);
    if (!bucket) {
      bucket = new Map();
      this.minutes.set(minute, bucket);
      for (const old of this.minutes.keys()) if (old < minute - KEEP_MINUTES * MINUTE) this.minutes.delete(old);
    }
    for (const id of model ? [`k:${key}`, `m:${model}`] : [`k:${key}`]) {
      const counts = bucket.get(id) ?? { requests: 0, errors: 0, computeMs: 0 };
      counts.requests += 1;
      if (status >= 400) counts.errors += 1;
      counts.computeMs += ms;
      bucket.set(id, counts);
    }
  }

  report(from: number, to: number): { by_key: UsageRow[]; by_model: UsageRow[] } {
    const totals = new Map<string, Counts>();
    for (const [minute, bucket] of this.minutes) {
      if (minute + MINUTE <= from || minute > to) continue;
      for (const [id, counts] of bucket) {
        const total = totals.get(id) ?? { requests: 0, errors: 0, computeMs: 0 };
        total.requests += counts.requests;
        total.errors += counts.errors;
        total.computeMs += counts.computeMs;
        totals.set(id, total);
      }
    }
    const rows = (prefix: string, field: 'key' | 'model') =>
      [...totals]
        .filter(([id]) => id.startsWith(prefix))
        .map(
          ([id, c]) =>
            ({
              [field]: id.slice(2),
              requests: c.requests,
              errors: c.errors,
              compute_ms: Math.round(c.computeMs * 1000) / 1000,
            }) as UsageRow,
        )
        .sort((a, b) => String(a[field]).localeCompare(String(b[field])));
    return { by_key: rows('k:', 'key'), by_model: rows('m:', 'model') };
  }

  reset(): void {
    this.minutes.clear();
  }
}
