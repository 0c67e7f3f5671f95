/**
 * Load shedding (bench/overload.ts measures the figures; this only checks behaviour). A burst far
 * beyond what a model's in-flight limit and queue admit is answered with 503 + Retry-After (the
 * Error body, code `overloaded`) for the excess and 200 for the rest, never anything else; a key
 * past its rate limit gets 429 + Retry-After + RateLimit-*; when the burst ends the server serves
 * normally again, with no tensor left behind and no request still counted in flight.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../mock-server/http';
import { createModelServer, type ModelServer } from '../mock-server/server';
import { loadMnistSplit } from '../mock-server/models/mnist-split';
import { addModel, BUNDLED, tempDataDir } from './helpers/data-dir';
import { kill, startChildServer } from './helpers/child-server';

const BURST = 640;
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
  fetch(`${url}/v2/models/digits/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) } });

/** Checks a burst's answers: only 200 and 503, at least one of each, every 503 a proper shed. */
async function expectShed(responses: Response[]): Promise<{ ok: number; shed: number }> {
  const statuses = responses.map((r) => r.status);
  expect(statuses.filter((s) => s !== 200 && s !== 503), 'only 200 or 503').toEqual([]);
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

describe('overload', () => {
  it(`a server in another process sheds a burst of ${BURST} concurrent requests and recovers`, async () => {
    const server = await startChildServer(data.dir, ['--max-in-flight', '32']);
    try {
      for (let i = 0; i < 3; i++) expect((await infer(server.url)).status).toBe(200);
      const { ok, shed } = await expectShed(await Promise.all(Array.from({ length: BURST }, () => infer(server.url))));
      console.log(`overload burst over HTTP: ${BURST} concurrent requests → ${ok} × 200, ${shed} × 503 + Retry-After (32 in flight per model, queue ${BATCHING.max_queue_size} samples)`);
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
      const direct = () => server.handler(new Request('http://local/v2/models/digits/infer', { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` } }));
      const { shed } = await expectShed(await Promise.all(Array.from({ length: 200 }, direct)));
      expect(shed).toBe(196);
      for (let i = 0; i < 10; i++) expect((await infer(listening.url, server.adminKey)).status).toBe(200);
      expect(server.state.inFlight.get('digits') ?? 0).toBe(0);
      expect(tf.memory().numTensors).toBe(tensors);
    });

    it('answers a key past its rate limit with 429, Retry-After and RateLimit-*, then serves it again', async () => {
      const { secret } = await server.state.keys.create({ name: 'limited', scopes: ['inference'], rate_limit: { requests_per_second: 5, burst: 5 } });
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
