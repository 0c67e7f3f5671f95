/** Per model-version counters and latency, in the shape of Triton's statistics extension. */
import type { components } from 'modelport';

export type ModelStatistics = components['schemas']['ModelStatistics'];
const WINDOW = 1024;

export class VersionStats {
  lastInference = 0;
  inferenceCount = 0;
  executionCount = 0;
  success = { count: 0, ns: 0 };
  fail = { count: 0, ns: 0 };
  queue = { count: 0, ns: 0 };
  compute = { count: 0, ns: 0 };
  private readonly latencies = new Float64Array(WINDOW);
  private latencyCount = 0;

  recordExecution(samples: number, computeNs: number): void {
    this.executionCount += 1;
    this.inferenceCount += samples;
    this.compute.count += 1;
    this.compute.ns += computeNs;
  }

  recordQueue(ns: number): void {
    this.queue.count += 1;
    this.queue.ns += ns;
  }

  recordRequest(ok: boolean, ns: number): void {
    const bucket = ok ? this.success : this.fail;
    bucket.count += 1;
    bucket.ns += ns;
    if (ok) {
      this.lastInference = Date.now();
      this.latencies[this.latencyCount % WINDOW] = ns / 1e6;
      this.latencyCount += 1;
    }
  }

  percentiles(): { p50: number; p95: number; p99: number } | undefined {
    const n = Math.min(this.latencyCount, WINDOW);
    if (n === 0) return undefined;
    const sorted = this.latencies.slice(0, n).sort();
    const at = (q: number) => Math.round(sorted[Math.min(n - 1, Math.floor(q * n))]! * 1000) / 1000;
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
  }

  toJSON(name: string, version: string): ModelStatistics {
    const latency = this.percentiles();
    return {
      name,
      version,
      last_inference: this.lastInference,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: { ...this.success },
        fail: { ...this.fail },
        queue: { ...this.queue },
        compute_infer: { ...this.compute },
      },
      ...(latency ? { latency_ms: latency } : {}),
    };
  }
}
