/**
 * Load shedding (bench/overload.ts measures the figures; this only checks behaviour, and asserts
 * no speed). A burst far beyond what a model's in-flight limit and queue admit is answered with
 * 503 + Retry-After (the Error body, code `overloaded`) for the excess and 200 for the rest, never
 * anything else; a key past its rate limit gets 429 + Retry-After + RateLimit-*; when the burst
 * ends the server serves normally again, with no tensor left behind and no request still counted
 * in flight.
 *
 * Bounded latency and memory, without timing anything: under a sustained flood no more requests
 * are admitted than the limit, so an admitted request is answered after at most a few others
 * (counted, not timed) and tensors stay bounded; and a server in another process that is sent far
 * more request bytes than it admits does not hold them (its RSS grows by a fraction of them).
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../mock-server/http/node-adapter';
import { createModelServer, type ModelServer } from '../mock-server/server/create-server';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { addModel, BUNDLED, tempDataDir } from './helpers/data-dir';
import { kill, startChildServer } from './helpers/child-server';

const BURST = 640;
const CHILD_LIMIT = 32;
const PADDED_BYTES = 512 * 1024;
const pixels = Array.from(loadMnistSplit().test.x.subarray(0, 784));
const body = JSON.stringify({ inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', data: pixels }] });
const BATCHING = { max_batch_size: 8, max_queue_delay_ms: 2, max_queue_size: 16 };

let data: Awaited<ReturnType<typeof tempDataDir>>;

beforeAll(async () => {
  data = await tempDataDir();
  await addModel(data.dir, 'digits', path.join(BUNDLED, 'digits'), (c) => ({ ...c, batching: BATCHING }));
});
afterAll(() => data?.remove());

const infer = (url: string, key?: string) =>
  fetch(`${url}/v2/models/digits/infer`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
  });

/** Checks a burst's answers: only 200 and 503, at least one of each, every 503 a proper shed. */
async function expectShed(responses: Response[]): Promise<{ ok: number; shed: number }> {
  const statuses = responses.map((r) => r.status);
  expect(
    statuses.filter((s) => s !== 200 && s !== 503),
    'only 200 or 503',
  ).toEqual([]);
  const shed = responses.filter((r) => r.status === 503);
  const ok = responses.filter((r) => r.status === 200);
  expect(shed.length).toBeGreaterThan(0);
  expect(ok.length).toBeGreaterThan(0);
  for (const response of shed) {
    expect(response.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(await response.json()).toMatchObject({ status: 503, code: 'overloaded', request_id: response.headers.get('x-request-id') });
  }
  for (const response of ok) expect((await response.json()).outputs[0].shape).toEqual([1, 10]);
  return { ok: ok.length, shed: shed.length };
}

function count(values: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** The resident memory of a process, from /proc (Linux). */
function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

describe('overload', () => {
  it(`a server in another process sheds a burst of ${BURST} concurrent requests and recovers`, async () => {
    // Bodies being received are bounded in bytes (slots are taken once a body is in): room for CHILD_LIMIT padded bodies.
    const server = await startChildServer(data.dir, [
      '--max-in-flight',
      String(CHILD_LIMIT),
      '--max-body-bytes-in-progress',
      String(CHILD_LIMIT * PADDED_BYTES),
    ]);
    try {
      for (let i = 0; i < 3; i++) expect((await infer(server.url)).status).toBe(200);
      const { ok, shed } = await expectShed(await Promise.all(Array.from({ length: BURST }, () => infer(server.url))));
      console.log(
        `overload burst over HTTP: ${BURST} concurrent requests → ${ok} × 200, ${shed} × 503 + Retry-After (${CHILD_LIMIT} in flight per model, queue ${BATCHING.max_queue_size} samples)`,
      );
      for (let i = 0; i < 20; i++) expect((await infer(server.url)).status).toBe(200);

      // Memory: every request of a second burst announces a 512 KB body and holds it back. The
      // first CHILD_LIMIT fill the bytes the server may be receiving at once and wait for theirs;
      // every other one must be refused at once, on its headers. Then all the bodies are sent anyway (a client that ignores the
      // early answer): the server must drop what it refused, not buffer the burst.
      const padded = Buffer.from(body + ' '.repeat(PADDED_BYTES - body.length)); // JSON allows the whitespace
      const offeredMb = (BURST * padded.byteLength) / 2 ** 20;
      const pid = server.child.pid!;
      const before = rssMb(pid);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 20);
      const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
      let answered = 0;
      let allRefused: () => void = () => undefined;
      const refused = new Promise<void>((resolve) => (allRefused = resolve));
      const url = new URL(server.url);
      try {
        const held = Array.from({ length: BURST }, () => {
          const req = request({
            host: url.hostname,
            port: url.port,
            path: '/v2/models/digits/infer',
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': String(padded.byteLength) },
          });
          const answer = new Promise<{ status: number; retryAfter: string | undefined; text: string }>((resolve, reject) => {
            req.on('response', (res) => {
              if (++answered === BURST - CHILD_LIMIT) allRefused();
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (text += chunk));
              res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, text }));
              res.on('error', reject);
            });
            // A refused request's connection may be closed while its body is still on the way.
            req.on('error', (error) =>
              answered >= BURST - CHILD_LIMIT ? resolve({ status: 0, retryAfter: undefined, text: String(error) }) : reject(error),
            );
          });
          req.flushHeaders();
          return { req, answer };
        });
        // Bounded wait (a server that admitted more would never answer them all without bodies).
        await Promise.race([refused, new Promise((r) => setTimeout(r, 30_000))]);
        const early = answered;
        for (const { req } of held) req.end(padded);
        const answers = await Promise.all(held.map((h) => h.answer));
        const byStatus = count(answers.map((a) => a.status));
        console.log(
          `held-body burst: ${BURST} requests of ${PADDED_BYTES / 1024} KB (${offeredMb.toFixed(0)} MB) → ${early} refused on their headers; then ${Object.entries(
            byStatus,
          )
            .map(([s, n]) => `${n} × ${s === '0' ? 'connection closed after the 503' : s}`)
            .join(', ')}; server RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MB`,
        );
        expect(early, 'refused before their bodies were sent').toBe(BURST - CHILD_LIMIT);
        // The admitted ones then meet the model's batching queue (16 samples), which sheds in turn.
        const ok = answers.filter((a) => a.status === 200).length;
        expect(ok).toBeGreaterThan(0);
        expect(ok).toBeLessThanOrEqual(CHILD_LIMIT);
        expect(answers.filter((a) => a.status === 503).length).toBe(BURST - ok);
        for (const a of answers.filter((a) => a.status === 503)) {
          expect(a.retryAfter).toMatch(/^[1-9]\d*$/);
          expect(JSON.parse(a.text)).toMatchObject({ status: 503, code: 'overloaded' });
        }
        for (const a of answers.filter((a) => a.status === 200)) expect(JSON.parse(a.text).outputs[0].shape).toEqual([1, 10]);
      } finally {
        clearInterval(sampler);
        agent.destroy();
      }
      peak = Math.max(peak, rssMb(pid));
      // Holding the refused bodies would take the whole burst; the admitted ones take CHILD_LIMIT × 512 KB.
      expect(peak - before, `RSS growth (MB) during a burst of ${offeredMb.toFixed(0)} MB`).toBeLessThan(offeredMb / 3);
      for (let i = 0; i < 20; i++) expect((await infer(server.url)).status).toBe(200);
    } finally {
      await kill(server, 'SIGTERM');
    }
  });

  describe('in process', () => {
    let server: ModelServer;
    let listening: Listening;
    beforeAll(async () => {
      server = await createModelServer({ auth: true, dataDir: data.dir, maxInFlightPerModel: 4 });
      listening = await listen(server.handler);
    });
    afterAll(async () => {
      await listening?.close();
      await server?.close();
    });

    it('leaves no tensor and no in-flight count behind a shed burst', async () => {
      const { tf } = server.state.runtime;
      for (let i = 0; i < 3; i++) expect((await infer(listening.url, server.adminKey)).status).toBe(200);
      const tensors = tf.memory().numTensors;
      // Straight into the handler: all 200 arrive before any is answered (admission is synchronous).
      const direct = () =>
        server.handler(
          new Request('http://local/v2/models/digits/infer', {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
          }),
        );
      const { shed } = await expectShed(await Promise.all(Array.from({ length: 200 }, direct)));
      expect(shed).toBe(196);
      for (let i = 0; i < 10; i++) expect((await infer(listening.url, server.adminKey)).status).toBe(200);
      expect(server.state.inFlight.get('digits') ?? 0).toBe(0);
      expect(tf.memory().numTensors).toBe(tensors);
    });

    it('admits no more than the limit under a sustained flood: each admitted request waits for a few others at most, and nothing is left behind', async () => {
      const { tf } = server.state.runtime;
      const LIMIT = 4; // maxInFlightPerModel above
      const CLIENTS = 48;
      const ADMITTED = 120;
      const MAX_ATTEMPTS = 200_000; // a bound on the loop, never reached when the server admits
      const direct = () =>
        server.handler(
          new Request('http://local/v2/models/digits/infer', {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
          }),
        );
      expect((await direct()).status).toBe(200);
      const tensors = tf.memory().numTensors;
      let completed = 0;
      let attempts = 0;
      let shed = 0;
      let maxInFlight = 0;
      const ahead: number[] = [];
      const others: string[] = [];
      // Clients that send again as soon as they are answered: far more than the model can serve.
      const flood = async () => {
        while (completed < ADMITTED && attempts < MAX_ATTEMPTS) {
          attempts += 1;
          const before = completed;
          const answer = direct();
          maxInFlight = Math.max(maxInFlight, server.state.inFlight.get('digits') ?? 0);
          const response = await answer;
          if (response.status === 200) {
            expect((await response.json()).outputs[0].shape).toEqual([1, 10]);
            ahead.push(completed - before); // answers to others between this one's arrival and its answer
            completed += 1;
          } else if (response.status === 503) {
            shed += 1;
            expect(response.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
            expect((await response.json()).code).toBe('overloaded');
          } else {
            others.push(`${response.status} ${await response.text()}`);
          }
          await new Promise((r) => setImmediate(r));
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, flood));
      console.log(
        `sustained flood in process: ${CLIENTS} clients, ${attempts} requests → ${completed} × 200, ${shed} × 503 + Retry-After; at most ${maxInFlight} in flight (limit ${LIMIT}); an admitted request waited for at most ${Math.max(...ahead)} others`,
      );
      expect(others).toEqual([]);
      expect(completed).toBeGreaterThanOrEqual(ADMITTED);
      expect(shed, 'the flood must be shed, not queued').toBeGreaterThan(completed);
      expect(maxInFlight).toBeLessThanOrEqual(LIMIT);
      // With at most LIMIT admitted at a time, an admitted request is answered after at most the
      // others admitted with it (LIMIT - 1), in batches: never after the flood's backlog.
      expect(Math.max(...ahead)).toBeLessThanOrEqual(2 * LIMIT);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(server.state.inFlight.get('digits') ?? 0).toBe(0);
      expect((await direct()).status).toBe(200);
    });

    it('answers a key past its rate limit with 429, Retry-After and RateLimit-*, then serves it again', async () => {
      const { secret } = await server.state.keys.create({
        name: 'limited',
        scopes: ['inference'],
        rate_limit: { requests_per_second: 5, burst: 5 },
      });
      const responses: Response[] = [];
      for (let i = 0; i < 30; i++) responses.push(await infer(listening.url, secret));
      const limited = responses.filter((r) => r.status === 429);
      expect(responses.filter((r) => r.status !== 200 && r.status !== 429)).toEqual([]);
      expect(limited.length).toBeGreaterThanOrEqual(15);
      for (const response of limited) {
        expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(response.headers.get('ratelimit-limit')).toBe('5');
        expect(response.headers.get('ratelimit-remaining')).toBe('0');
        expect(await response.json()).toMatchObject({ status: 429, code: 'rate_limited' });
      }
      await new Promise((r) => setTimeout(r, Number(limited.at(-1)!.headers.get('retry-after')) * 1000 + 100));
      expect((await infer(listening.url, secret)).status).toBe(200);
    });
  });
});
