/**
 * Record and replay end to end (issue #21's acceptance): 200 real predictions (iris and digits,
 * JSON and binary) recorded through `modelport record` from a running server; the server stopped;
 * then replayed by the SDK with `modelport/replay`'s msw handlers in a process that cannot load
 * TensorFlow (test/support/forbid-tensorflow.mjs), with identical decoded outputs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import { parseCassette, type Cassette } from '../src/cassette/index';
import { replayHandlers } from '../src/replay/index';
import { setupServer } from 'msw/node';
import { startMockServer } from '../mock-server/index';
import { loadIrisSplit } from '../mock-server/datasets/iris-split';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { startRecordingProxy } from './support/recording-proxy';
import { defaultTritonState, startTritonStub } from './support/triton-stub';
import type { RecordedCall, ReplayChildReport } from './support/replay-child';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-replay-acceptance-'));
const cassettePath = path.join(work, 'predictions.jsonl');
const callsPath = path.join(work, 'calls.json');
const calls: RecordedCall[] = [];
const recorded: { data: number[]; shape: number[] }[] = [];
let recordedHealth: unknown;
let recordedServerMetadata: unknown;
let apiKey = '';
let cassette: Cassette;

/** Runs `node --import tsx --import forbid-tensorflow.mjs <script> …args` from the repository root. */
function withoutTensorflow(script: string, ...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--import', './test/support/forbid-tensorflow.mjs', script, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  const server = await startMockServer({ dataDir: path.join(work, 'repo') });
  apiKey = server.adminKey;
  const proxy = await startRecordingProxy(server.url, cassettePath);
  try {
    const client = new Modelport({ baseUrl: proxy.url, apiKey, maxRetries: 0 });
    recordedHealth = await client.health.ready();
    recordedServerMetadata = await client.server.metadata();
    const iris = loadIrisSplit().train.x;
    const digits = loadMnistSplit().test.x;
    // 50 JSON then 50 binary per model, each on a different sample.
    for (let i = 0; i < 100; i++) calls.push({ model: 'iris', binary: i >= 50, input: Array.from(iris.subarray(i * 4, i * 4 + 4)) });
    for (let i = 0; i < 100; i++)
      calls.push({ model: 'digits', binary: i >= 50, input: Array.from(digits.subarray(i * 784, i * 784 + 784)) });
    for (const call of calls) {
      const prediction = await client.predict(call.model, Float32Array.from(call.input), { binary: call.binary });
      recorded.push({ data: Array.from(prediction.output.data as Float32Array), shape: prediction.output.shape });
    }
  } finally {
    expect((await proxy.stop()).code).toBe(0);
    await server.close();
  }
  writeFileSync(callsPath, JSON.stringify(calls));
  cassette = parseCassette(readFileSync(cassettePath, 'utf8'));
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('record 200 predictions through the proxy, replay them without TensorFlow', () => {
  it('the cassette holds the 200 predictions, JSON and binary, and no secret', () => {
    const infers = cassette.interactions.filter((i) => i.request.method === 'POST');
    expect(infers).toHaveLength(200);
    const kinds = infers.map((i) => `${i.model?.name} ${'base64' in (i.request.body ?? {}) ? 'binary' : 'json'}`);
    for (const kind of ['iris json', 'iris binary', 'digits json', 'digits binary'])
      expect(kinds.filter((k) => k === kind)).toHaveLength(50);
    const text = readFileSync(cassettePath, 'utf8');
    expect(text).not.toContain(apiKey);
    expect(text).not.toMatch(/authorization|x-api-key/i);
  });

  it('the check bites: a process started this way cannot import TensorFlow', () => {
    const script = path.join(work, 'load-tensorflow.mjs');
    writeFileSync(script, "await import('@tensorflow/tfjs-node');\n");
    const result = withoutTensorflow(script);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('TensorFlow may not load in this process: @tensorflow/tfjs-node');
  });

  describe('replayed by the SDK through msw, server stopped, TensorFlow unloadable', () => {
    let report: ReplayChildReport;

    beforeAll(() => {
      const result = withoutTensorflow('test/support/replay-child.ts', cassettePath, callsPath);
      expect(result.stderr).not.toMatch(/TensorFlow may not load/);
      expect(result.code, result.stderr).toBe(0);
      report = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    }, 150_000);

    it('no TensorFlow library was mapped into the process', () => {
      expect(report.tensorflowMapped).toBe(false);
    });

    it('every decoded output is identical to the recorded one, and health and server metadata replay', () => {
      expect(report.outputs).toHaveLength(200);
      expect(report.outputs).toEqual(recorded);
      expect(report.health).toEqual(recordedHealth);
      expect(report.serverMetadata).toEqual(recordedServerMetadata);
    });

    it('inputs moved by 1e-7 still match and replay the same outputs', () => {
      expect(report.perturbed).toEqual(recorded);
    });

    it('strict: one pixel changed by 0.5 is refused with the closest recording named', () => {
      const first = cassette.interactions.find((i) => i.request.method === 'POST' && i.model?.name === 'digits')!;
      expect(report.strict.status).toBe(404);
      expect(report.strict.message).toContain(`seq ${first.seq} (model digits`);
      expect(report.strict.message).toMatch(/input '[^']+': 1 of 784 elements outside tolerance, max \|Δ\| 0\.5 at element 0/);
    });

    it('nearest: the same request is answered by the closest recording, flagged in a header', () => {
      const first = cassette.interactions.find((i) => i.request.method === 'POST' && i.model?.name === 'digits')!;
      expect(report.nearest.replayHeader).toBe('nearest');
      expect(report.nearest.seqHeader).toBe(String(first.seq));
      expect(report.nearest.nearestHeader).toMatch(/0\.5/);
      expect(report.nearest.data).toEqual(recorded[100]!.data);
    });
  });
});

describe('a server that is not modelport: a Triton-like one (test/support/triton-stub.ts)', () => {
  it("records Triton's empty-bodied probes, its metadata and JSON and binary infers, and replays them as Triton answered", async () => {
    const state = defaultTritonState();
    state.readyModels.delete('densenet/2');
    const triton = await startTritonStub(state);
    const cassettePath = path.join(work, 'triton.jsonl');
    const proxy = await startRecordingProxy(triton.url, cassettePath);
    const ask = async (client: Modelport) => ({
      live: await client.health.live(),
      ready: await client.health.ready(),
      model: await client.models.ready('densenet'),
      other: await client.models.ready('densenet', { version: 2 }),
      json: Array.from((await client.predict('densenet', [[1, 2, 3, 4]])).output.data as Float32Array),
      binary: Array.from((await client.predict('densenet', [[5, 6, 7, 8]], { binary: true })).output.data as Float32Array),
    });
    let live: Awaited<ReturnType<typeof ask>>;
    try {
      live = await ask(new Modelport({ baseUrl: proxy.url, maxRetries: 0 }));
    } finally {
      expect((await proxy.stop()).code).toBe(0);
      await triton.close();
    }
    expect(live).toMatchObject({ live: { live: true }, ready: { ready: true }, model: { ready: true }, other: { ready: false } });
    const text = readFileSync(cassettePath, 'utf8');
    const recorded = parseCassette(text);
    const ready = recorded.interactions.find((i) => i.request.path === '/v2/health/ready')!;
    // Triton's probe: 200 with an empty body, recorded as no body at all.
    expect(ready.response).toMatchObject({ status: 200, body: null });
    const infer = recorded.interactions.find((i) => i.request.path === '/v2/models/densenet/infer')!;
    expect(infer.model).toMatchObject({ name: 'densenet', version: null, metadata: { name: 'densenet', platform: expect.any(String) } });

    const mocks = setupServer(...replayHandlers(text, { baseUrl: 'http://triton.test' }));
    mocks.listen({ onUnhandledRequest: 'error' });
    try {
      expect(await ask(new Modelport({ baseUrl: 'http://triton.test', maxRetries: 0 }))).toEqual(live);
    } finally {
      mocks.close();
    }
  });
});
