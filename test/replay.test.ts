/**
 * Replay with msw (issue #21, item 2): `replayHandlers` from `modelport/replay` in msw/node's
 * setupServer, called by the real SDK, over a cassette that `modelport record` recorded from a real
 * server (test/helpers/replay-recording.ts). The server is closed before any replay: every answer
 * here comes from the cassette.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Modelport, NotFoundError } from 'modelport';
import { bytesOfBody, createReplayer } from 'modelport/cassette';
import { replayHandlers } from 'modelport/replay';
import { plain, recordReplayCassette, type RecordedPrediction, type ReplayRecording } from './helpers/replay-recording';

const BASE = 'http://replay.test:8700';
const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-replay-'));
const mocks = setupServer();
let recording: ReplayRecording;
const unhandled: string[] = [];
/** Every response the client got, for its replay headers and bytes. */
let seen: { headers: Headers; bytes: Uint8Array }[] = [];

const client = new Modelport({
  baseUrl: BASE,
  maxRetries: 0,
  fetch: async (input, init) => {
    const response = await fetch(input, init);
    seen.push({ headers: response.headers, bytes: new Uint8Array(await response.clone().arrayBuffer()) });
    return response;
  },
});
const lastHeaders = () => seen.at(-1)!.headers;
const replayHeaders = () => ({
  replay: lastHeaders().get('modelport-replay'),
  seq: lastHeaders().get('modelport-replay-seq'),
  nearest: lastHeaders().get('modelport-replay-nearest'),
});
const predict = (call: Pick<RecordedPrediction, 'model' | 'binary'>, input: Float32Array) =>
  client.predict(call.model, input, { binary: call.binary });

beforeAll(async () => {
  recording = await recordReplayCassette(work);
  // An unhandled request goes on to the network (where replay.test does not resolve) and is listed here.
  mocks.listen({ onUnhandledRequest: (request) => void unhandled.push(`${request.method} ${request.url}`) });
}, 120_000);

// Fresh handlers per test: each set has its own positions in sequences of recordings.
beforeEach(() => {
  mocks.resetHandlers(...replayHandlers(recording.text));
  seen = [];
});

afterEach(() => {
  expect(unhandled.splice(0), 'requests no replay handler took').toEqual([]);
});

afterAll(() => {
  mocks.close();
  rmSync(work, { recursive: true, force: true });
});

describe('replayHandlers (msw) with the SDK', () => {
  it('answers 10 iris and 10 digits predictions, JSON and binary, with the recorded bytes and identical decoded outputs', async () => {
    expect(recording.predictions.map((p) => `${p.model}:${p.binary ? 'binary' : 'json'}`)).toEqual([
      ...Array(5).fill('iris:json'),
      ...Array(5).fill('iris:binary'),
      ...Array(5).fill('digits:json'),
      ...Array(5).fill('digits:binary'),
    ]);
    for (const recorded of recording.predictions) {
      const prediction = await predict(recorded, recorded.input);
      expect(plain(prediction.output)).toEqual(recorded.output);
      expect(replayHeaders()).toEqual({ replay: 'matched', seq: String(recorded.seq), nearest: null });
      expect(Buffer.from(seen.at(-1)!.bytes).equals(Buffer.from(recorded.responseBytes))).toBe(true);
    }
    const binary = recording.predictions.find((p) => p.model === 'digits' && p.binary)!;
    expect(binary.output.shape).toEqual([1, 10]);
    expect(lastHeaders().get('inference-header-content-length')).toMatch(/^\d+$/);
  });

  it('inputs moved by 1e-7 still match their recordings (rtol 1e-5, atol 1e-6)', async () => {
    for (const recorded of recording.predictions) {
      const moved = recorded.input.map((value) => value + 1e-7);
      expect(moved.some((value, i) => value !== recorded.input[i])).toBe(true);
      const prediction = await predict(recorded, moved);
      expect(plain(prediction.output)).toEqual(recorded.output);
      expect(replayHeaders().seq).toBe(String(recorded.seq));
    }
  });

  it('one digits pixel changed by 0.5 fails in strict mode with 404 naming the closest recording, the input and max |Δ| 0.5', async () => {
    // The first digit recorded as JSON and the first recorded as binary.
    for (const recorded of [recording.predictions[10]!, recording.predictions[15]!]) {
      const changed = recorded.input.slice();
      changed[300] = changed[300]! + 0.5;
      const error = await predict(recorded, changed).catch((caught: Error) => caught);
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).status).toBe(404);
      const message = (error as Error).message;
      expect(message).toContain(
        `404 no recording matches POST /v2/models/digits/infer (rtol 0.00001, atol 0.000001); the closest is seq ${recorded.seq} (model digits, POST /v2/models/digits/infer): input 'image': 1 of 784 elements outside tolerance, max |Δ| 0.5 at element 300 [0, 10, 20, 0] (recorded 0, received 0.5)`,
      );
      expect(replayHeaders()).toEqual({ replay: 'unmatched', seq: null, nearest: null });
    }
  });

  it('nearest mode answers with the closest recording and says so in modelport-replay-nearest', async () => {
    mocks.resetHandlers(...replayHandlers(recording.text, { mode: 'nearest' }));
    const recorded = recording.predictions.find((p) => p.model === 'digits' && p.binary)!;
    const changed = recorded.input.slice();
    changed[300] = changed[300]! + 0.5;
    const prediction = await predict(recorded, changed);
    expect(plain(prediction.output)).toEqual(recorded.output);
    const headers = replayHeaders();
    expect(headers.replay).toBe('nearest');
    expect(headers.seq).toBe(String(recorded.seq));
    expect(headers.nearest).toMatch(
      new RegExp(
        `^seq ${recorded.seq} \\(model digits, POST /v2/models/digits/infer\\): input 'image': 1 of 784 elements outside tolerance, max \\|delta\\| 0\\.5 at element 300 \\[0, 10, 20, 0\\] \\(recorded 0, received 0\\.5\\)$`,
      ),
    );
    // An exact request in nearest mode is still a plain match.
    await predict(recorded, recorded.input);
    expect(replayHeaders()).toEqual({ replay: 'matched', seq: String(recorded.seq), nearest: null });
  });

  it('replays metadata, health, read-only /v1, and ready in the order it was recorded: 503, then 200 from then on', async () => {
    expect(await client.server.metadata()).toEqual(recording.serverMetadata);
    expect(await client.models.metadata('iris')).toEqual(recording.irisMetadata);
    expect(await client.models.metadata('digits')).toEqual(recording.digitsMetadata);
    expect(await client.health.live()).toEqual(recording.live);
    expect(await (await fetch(`${BASE}/v1/models?limit=2`)).json()).toEqual(recording.models);

    const [notReady, ready] = recording.cassette.interactions.filter((i) => i.request.path === '/v2/health/ready');
    expect([notReady!.response.status, ready!.response.status]).toEqual([503, 200]);
    // The SDK reads a 503 from /v2/health/ready as "not ready" (it does not throw).
    expect(await client.health.ready()).toEqual({ ready: false });
    expect(replayHeaders()).toEqual({ replay: 'matched', seq: String(notReady!.seq), nearest: null });
    for (let i = 0; i < 3; i++) {
      expect(await client.health.ready()).toEqual({ ready: true });
      expect(replayHeaders().seq).toBe(String(ready!.seq));
    }
    // New handlers start the sequence again.
    mocks.resetHandlers(...replayHandlers(recording.text));
    expect(await client.health.ready()).toEqual({ ready: false });
  });

  it('a call the cassette never recorded is 404 listing what it has; a query that differs names the query', async () => {
    const unknown = await fetch(`${BASE}/v2/models/digits-mlp/infer`, { method: 'POST', body: '{"inputs":[]}' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('modelport-replay')).toBe('unmatched');
    const { error } = await unknown.json();
    expect(error).toMatch(/^no recording of POST \/v2\/models\/digits-mlp\/infer; the cassette has GET \/v2\/health\/ready ×2, /);
    expect(error).toContain('POST /v2/models/iris/infer ×10, POST /v2/models/digits/infer ×10');
    const otherQuery = await fetch(`${BASE}/v1/models?limit=3`);
    expect(otherQuery.status).toBe(404);
    expect((await otherQuery.json()).error).toMatch(
      /the closest is seq \d+ \(GET \/v1\/models\): recorded query 'limit=2', received 'limit=3'$/,
    );
  });

  it('with baseUrl, answers under that URL only, its own path taken off before matching', async () => {
    mocks.resetHandlers(...replayHandlers(recording.cassette, { baseUrl: 'http://ml.test/serving/' }));
    const scoped = new Modelport({ baseUrl: 'http://ml.test/serving', maxRetries: 0 });
    const recorded = recording.predictions.find((p) => p.model === 'iris')!;
    expect(plain((await scoped.predict('iris', recorded.input)).output)).toEqual(recorded.output);
    // Another origin, or the same origin outside the path, is not answered.
    await expect(fetch(`${BASE}/v2`)).rejects.toThrow();
    await expect(fetch('http://ml.test/v2')).rejects.toThrow();
    expect(unhandled.splice(0)).toEqual([`GET ${BASE}/v2`, 'GET http://ml.test/v2']);
  });
});

describe('createReplayer (the core, without msw)', () => {
  it('answers a Fetch Request on any origin with the recorded status, headers and body bytes', async () => {
    const replayer = createReplayer(recording.text);
    const recorded = recording.cassette.interactions.find((i) => i.request.body && 'base64' in i.request.body)!;
    const response = await replayer.respond(
      new Request(`https://elsewhere.example${recorded.request.path}`, {
        method: 'POST',
        headers: recorded.request.headers,
        body: bytesOfBody(recorded.request.body) as Uint8Array<ArrayBuffer>,
      }),
    );
    expect(response.status).toBe(200);
    expect(Object.fromEntries(response.headers)).toEqual({
      ...recorded.response.headers,
      'modelport-replay': 'matched',
      'modelport-replay-seq': String(recorded.seq),
    });
    expect(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(bytesOfBody(recorded.response.body)))).toBe(true);
  });
});
