/** Load generation: autocannon for throughput, a sequential node:http loop for sub-ms latencies. */
import { Agent, request as httpRequest } from 'node:http';
import autocannon from 'autocannon';

export interface Target {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface LoadResult {
  connections: number;
  /** Successful (2xx) responses per second over the measured window. */
  rps: number;
  /** Milliseconds. autocannon records whole milliseconds; the sequential loop microseconds. */
  p50: number;
  p99: number;
  mean: number;
  /** Connection errors, timeouts and non-2xx responses. */
  errors: number;
  requests: number;
  seconds: number;
  tool: 'autocannon' | 'sequential';
}

/** A warm-up run (discarded), then a measured autocannon run. */
export async function cannon(target: Target, connections: number, durations: { warmup: number; duration: number }): Promise<LoadResult> {
  if (durations.warmup > 0) await runCannon(target, connections, durations.warmup);
  return runCannon(target, connections, durations.duration);
}

async function runCannon(target: Target, connections: number, duration: number): Promise<LoadResult> {
  const result = await autocannon({
    url: target.url,
    method: target.method ?? 'POST',
    headers: target.headers,
    body: typeof target.body === 'string' || target.body === undefined ? target.body : Buffer.from(target.body),
    connections,
    pipelining: 1,
    duration,
    timeout: 10,
  });
  const seconds = result.duration;
  const ok = result['2xx'];
  return {
    connections,
    rps: ok / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.average,
    errors: result.errors + result.non2xx,
    requests: ok + result.non2xx,
    seconds,
    tool: 'autocannon',
  };
}

/**
 * Concurrency 1 with microsecond timing: one keep-alive connection, one request after another,
 * for `warmup` then `duration` seconds (autocannon's histogram has 1 ms resolution, too coarse
 * for the 1.5 ms target).
 */
export async function sequential(target: Target, durations: { warmup: number; duration: number }): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(target.url);
  const body = typeof target.body === 'string' ? Buffer.from(target.body) : target.body ? Buffer.from(target.body) : undefined;
  const headers = { ...target.headers, ...(body ? { 'content-length': String(body.byteLength) } : {}) };
  const once = () =>
    new Promise<number>((resolve) => {
      const started = process.hrtime.bigint();
      const req = httpRequest(
        { host: url.hostname, port: url.port, path: url.pathname + url.search, method: target.method ?? 'POST', headers, agent },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () =>
            resolve(res.statusCode! >= 200 && res.statusCode! < 300 ? Number(process.hrtime.bigint() - started) / 1e6 : -1),
          );
        },
      );
      req.on('error', () => resolve(-1));
      req.end(body);
    });
  try {
    const until = (s: number) => performance.now() + s * 1000;
    for (const end = until(durations.warmup); performance.now() < end; ) await once();
    const latencies: number[] = [];
    let errors = 0;
    const started = performance.now();
    for (const end = until(durations.duration); performance.now() < end; ) {
      const ms = await once();
      if (ms < 0) errors++;
      else latencies.push(ms);
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      connections: 1,
      rps: latencies.length / seconds,
      ...summarise(latencies),
      errors,
      requests: latencies.length + errors,
      seconds,
      tool: 'sequential',
    };
  } finally {
    agent.destroy();
  }
}

export function summarise(latencies: number[]): { p50: number; p99: number; mean: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), mean: sorted.reduce((n, v) => n + v, 0) / Math.max(1, sorted.length) };
}
