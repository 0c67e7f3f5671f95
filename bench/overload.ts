/**
 * Overload (`npm run bench:overload`; not part of `npm test`, which only checks that the server
 * sheds, in test/overload.test.ts). A `modelport serve` child on 127.0.0.1 serves the digits CNN;
 * this process measures its capacity (closed loop, 32 connections), then offers 10× that rate as an
 * open loop (requests are sent on schedule whatever the answers; latency counts from the scheduled
 * time, so queueing in the client is not hidden), then stops and measures again.
 *
 *   npm run bench:overload                            10× for 10 s, binary digits requests
 *   npm run bench:overload -- --factor 10 --seconds 10 --payload json --queue 256 --max-in-flight 64 --sockets 512
 *   npm run bench:overload -- --honour-retry-after     clients wait Retry-After seconds after a 503
 *
 * Reports: capacity, offered and answered rates, answers by status, Retry-After on every shed
 * answer, latency of admitted (200) requests, the server's RSS before/peak/after, and recovery.
 */
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { payloads, INFER_PATH } from './lib/payloads';
import { startChild } from './lib/procs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    factor: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    payload: { type: 'string', default: 'binary' },
    connections: { type: 'string', default: '32' },
    /** The model's batching queue (samples) during the run: what bounds admitted latency. */
    queue: { type: 'string', default: '256' },
    /** The server's in-flight limit per model (`--max-in-flight`): beyond it, 503 before the body is read. */
    'max-in-flight': { type: 'string', default: '64' },
    /** Connections of the open loop (clients); each carries one request at a time. */
    sockets: { type: 'string', default: '512' },
    /** Clients that honour Retry-After: a shed client waits that long before its next request. */
    'honour-retry-after': { type: 'boolean', default: false },
  },
});
const FACTOR = Number(args.factor);
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);

interface Outcome {
  status: number;
  ms: number;
  /** Seconds, when the answer carried a valid Retry-After. */
  retryAfter: number | undefined;
}

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'modelport-overload-'));
const server = await startChild(
  'modelport',
  process.execPath,
  [
    path.join(ROOT, 'mock-server/bin/modelport.js'),
    'serve',
    '--port',
    '0',
    '--no-auth',
    '--data-dir',
    dataDir,
    '--max-in-flight',
    String(args['max-in-flight']),
  ],
  {
    readyPattern: /listening on (http:\/\/\S+)/,
  },
);
const base = new URL(server.ready);
const pid = server.proc.pid!;
const p = payloads();
const body = args.payload === 'json' ? Buffer.from(p.json) : Buffer.from(p.binary);
const headers = args.payload === 'json' ? p.jsonHeaders : p.binaryHeaders;

try {
  // A bounded batching queue for the digits model: beyond it the server answers 503 at once.
  await call(
    'PATCH',
    '/v1/models/digits',
    JSON.stringify({ batching: { max_batch_size: 64, max_queue_delay_ms: 2, max_queue_size: Number(args.queue) } }),
    { 'content-type': 'application/json' },
  );
  await call('POST', '/v1/models/digits/versions/1/unload');
  await call('POST', '/v1/models/digits/versions/1/load');

  const rssStart = rssMb();
  await closedLoop(CONNECTIONS, 2); // warm-up
  const capacity = await closedLoop(CONNECTIONS, 5);
  const rate = capacity.rps * FACTOR;
  console.log(
    `capacity: ${capacity.rps.toFixed(0)} req/s at ${CONNECTIONS} connections (p50 ${capacity.p50.toFixed(1)} ms, p99 ${capacity.p99.toFixed(1)} ms)`,
  );
  console.log(
    `overload: offering ${rate.toFixed(0)} req/s (${FACTOR}×) for ${SECONDS} s, open loop over ${args.sockets} connections${args['honour-retry-after'] ? ' whose clients honour Retry-After' : ''}`,
  );

  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(rssMb()), 200);
  const overload = await openLoop(rate, SECONDS);
  clearInterval(sampler);
  const stoppedAt = performance.now();
  // The server's own view of admitted requests: queue wait + batch run, last 1,024 successes.
  const serverSide = await stats();
  // Recovery: how soon a lone request is answered 200, then capacity again.
  let firstOk = Number.NaN;
  for (;;) {
    const outcome = await send(new Agent({ keepAlive: false }));
    if (outcome.status === 200) {
      firstOk = performance.now() - stoppedAt;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const after = await closedLoop(CONNECTIONS, 5);
  const rssAfter = rssMb();

  const byStatus = count(overload.outcomes.map((o) => o.status));
  const admitted = overload.outcomes
    .filter((o) => o.status === 200)
    .map((o) => o.ms)
    .sort((a, b) => a - b);
  const shed = overload.outcomes.filter((o) => o.status === 503 || o.status === 429);
  const report = {
    capacity_rps: round(capacity.rps),
    capacity_p99_ms: round(capacity.p99),
    offered_rps: round(rate),
    sent: overload.sent,
    sent_rps: round(overload.sent / SECONDS),
    not_sent_all_connections_busy: overload.notSent,
    answered: overload.outcomes.length,
    by_status: byStatus,
    shed_fraction: round(shed.length / Math.max(1, overload.outcomes.length)),
    shed_with_retry_after: `${shed.filter((o) => o.retryAfter !== undefined).length}/${shed.length}`,
    admitted_rps: round(admitted.length / SECONDS),
    admitted_p50_ms: round(percentile(admitted, 0.5)),
    admitted_p99_ms: round(percentile(admitted, 0.99)),
    admitted_max_ms: round(admitted.at(-1) ?? Number.NaN),
    admitted_over_1s: admitted.filter((ms) => ms > 1000).length,
    admitted_server_side_ms: serverSide,
    shed_p50_ms: round(
      percentile(
        shed.map((o) => o.ms).sort((a, b) => a - b),
        0.5,
      ),
    ),
    shed_p99_ms: round(
      percentile(
        shed.map((o) => o.ms).sort((a, b) => a - b),
        0.99,
      ),
    ),
    client_errors: overload.errors,
    server_rss_mb: { before: rssStart, peak: Math.max(...rssSamples), after: rssAfter, peak_per_5s: peaks(rssSamples, 25) },
    recovery_first_200_ms: round(firstOk),
    after_rps: round(after.rps),
    after_p99_ms: round(after.p99),
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
}

/** `connections` requests always in flight for `seconds`. */
async function closedLoop(connections: number, seconds: number): Promise<{ rps: number; p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const end = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const outcome = await send(agent);
        if (outcome.status === 200) latencies.push(outcome.ms);
      }
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

/**
 * Requests on a fixed schedule (`rate` per second), whatever the server answers, from up to
 * `sockets` connections (as many clients). A request due while every connection waits for an
 * answer is not sent and counted as `not_sent`: queueing it in this process would measure the
 * load generator, not the server.
 */
async function openLoop(rate: number, seconds: number): Promise<{ sent: number; notSent: number; outcomes: Outcome[]; errors: number }> {
  const sockets = Number(args.sockets);
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  // Connect every client first: a burst of new connections would measure the kernel's SYN
  // retransmissions (1 s, 3 s, ...) when the listen backlog overflows, not the server.
  await Promise.all(Array.from({ length: sockets }, () => send(agent, performance.now(), '/v2/health/live')));
  const outcomes: Outcome[] = [];
  const pending = new Set<Promise<void>>();
  let errors = 0;
  let sent = 0;
  let notSent = 0;
  const start = performance.now();
  const total = Math.round(rate * seconds);
  for (let due = 0; sent + notSent < total; ) {
    due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    while (sent + notSent < due) {
      if (pending.size >= sockets) {
        notSent += 1;
        continue;
      }
      sent += 1;
      const one: Promise<void> = send(agent)
        .then(
          async (o) => {
            outcomes.push(o);
            // A polite client is silent for Retry-After seconds after a 503 or 429 (its slot stays taken).
            if (args['honour-retry-after'] && o.retryAfter !== undefined && (o.status === 503 || o.status === 429))
              await new Promise((r) => setTimeout(r, o.retryAfter! * 1000));
          },
          () => void errors++,
        )
        .finally(() => pending.delete(one));
      pending.add(one);
    }
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  agent.destroy();
  return { sent, notSent, outcomes, errors };
}

function send(agent: Agent, scheduled = performance.now(), pathname = INFER_PATH): Promise<Outcome> {
  const get = pathname !== INFER_PATH;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        path: pathname,
        method: get ? 'GET' : 'POST',
        agent,
        headers: get ? {} : { ...headers, 'content-length': String(body.byteLength) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - scheduled,
            retryAfter: /^\d+$/.test(String(res.headers['retry-after'] ?? '')) ? Number(res.headers['retry-after']) : undefined,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(get ? undefined : body);
  });
}

function stats(): Promise<unknown> {
  return new Promise((resolve, reject) => {
    request({ host: base.hostname, port: base.port, path: '/v2/models/digits/versions/1/stats' }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve((JSON.parse(text) as { model_stats: { latency_ms?: unknown }[] }).model_stats[0]?.latency_ms));
    })
      .on('error', reject)
      .end();
  });
}

function call(method: string, pathname: string, payload?: string, extra: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, path: pathname, method, headers: extra }, (res) => {
      res.resume();
      res.on('end', () => ((res.statusCode ?? 500) < 300 ? resolve() : reject(new Error(`${method} ${pathname}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function rssMb(): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

function percentile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : Number.NaN;
}

/** The highest sample of each window of `size` samples (200 ms apart): a plateau, or a climb. */
function peaks(samples: number[], size: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < samples.length; i += size) out.push(Math.max(...samples.slice(i, i + size)));
  return out;
}

function count(values: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
