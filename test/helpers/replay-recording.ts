/**
 * A cassette recorded for the replay tests the way users record one: a real server (real iris and
 * digits models, auth on), `modelport record` (the CLI, a child process) in front of it, and the
 * SDK calling through the proxy. What the SDK decoded and the exact bytes it got are kept, so a
 * replay can be compared with the real answers. The server is closed before this returns.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Modelport, type Tensor } from '../../src/index';
import { parseCassette, type Cassette } from '../../src/cassette/format';
import { startMockServer } from '../../mock-server/index';
import { loadIrisSplit } from '../../mock-server/datasets/iris-split';
import { loadMnistSplit } from '../../mock-server/datasets/mnist-split';
import { startRecordingProxy } from '../support/recording-proxy';

// serve-replay.test.ts runs the CLI with the same settings.
export { CLI, cleanEnv } from '../support/recording-proxy';

export interface RecordedPrediction {
  model: 'iris' | 'digits';
  binary: boolean;
  input: Float32Array;
  /** What the SDK decoded from the real server. */
  output: { name: string; data: number[]; shape: number[] };
  /** The response body's exact bytes from the real server. */
  responseBytes: Uint8Array;
  /** The seq of its interaction in the cassette. */
  seq: number;
}

export interface ReplayRecording {
  file: string;
  text: string;
  cassette: Cassette;
  predictions: RecordedPrediction[];
  serverMetadata: unknown;
  irisMetadata: unknown;
  digitsMetadata: unknown;
  live: unknown;
  /** The `GET /v1/models?limit=2` body. */
  models: unknown;
}

/**
 * Records, in this order: GET /v2/health/ready answered 503 (a fault injected for one request)
 * then 200, live, server metadata, iris and digits metadata, /v1/models, then 5 iris predictions
 * as JSON, 5 as binary, 5 digits as JSON and 5 as binary (different digits each time).
 */
export async function recordReplayCassette(work: string): Promise<ReplayRecording> {
  const server = await startMockServer({ dataDir: path.join(work, 'repo') });
  const file = path.join(work, 'replay.cassette.jsonl');
  const recorder = await startRecordingProxy(server.url, file).catch(async (error: unknown) => {
    await server.close();
    throw error;
  });
  try {
    const proxy = recorder.url;
    const bodies: Uint8Array[] = [];
    const client = new Modelport({
      baseUrl: proxy,
      apiKey: server.adminKey,
      maxRetries: 0,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        bodies.push(new Uint8Array(await response.clone().arrayBuffer()));
        return response;
      },
    });

    server.controls.inject({ path: '^/v2/health/ready$', status: 503, count: 1 });
    const notReady = await client.health.ready();
    if (notReady.ready) throw new Error('the injected 503 on /v2/health/ready did not answer');
    if (!(await client.health.ready()).ready) throw new Error('/v2/health/ready is not 200 after the injected 503');
    const live = await client.health.live();
    const serverMetadata = await client.server.metadata();
    const irisMetadata = await client.models.metadata('iris');
    const digitsMetadata = await client.models.metadata('digits');
    const models = await (await fetch(`${proxy}/v1/models?limit=2`, { headers: { authorization: `Bearer ${server.adminKey}` } })).json();

    const iris = loadIrisSplit().test.x;
    const digits = loadMnistSplit().test.x;
    const calls: { model: 'iris' | 'digits'; binary: boolean; input: Float32Array }[] = [];
    for (let i = 0; i < 10; i++) calls.push({ model: 'iris', binary: i >= 5, input: iris.slice(i * 4, i * 4 + 4) });
    for (let i = 0; i < 10; i++) calls.push({ model: 'digits', binary: i >= 5, input: digits.slice(i * 784, i * 784 + 784) });
    const predictions: Omit<RecordedPrediction, 'seq'>[] = [];
    for (const call of calls) {
      const prediction = await client.predict(call.model, call.input, { binary: call.binary });
      predictions.push({ ...call, output: plain(prediction.output), responseBytes: bodies.at(-1)! });
    }

    const { code } = await recorder.stop();
    if (code !== 0) throw new Error(`modelport record exited with ${code}`);
    const text = readFileSync(file, 'utf8');
    const cassette = parseCassette(text);
    const inferSeqs = cassette.interactions.filter((interaction) => interaction.request.path.endsWith('/infer')).map((i) => i.seq);
    if (inferSeqs.length !== predictions.length) throw new Error(`recorded ${inferSeqs.length} predictions of ${predictions.length}`);
    return {
      file,
      text,
      cassette,
      predictions: predictions.map((prediction, i) => ({ ...prediction, seq: inferSeqs[i]! })),
      serverMetadata,
      irisMetadata,
      digitsMetadata,
      live,
      models,
    };
  } finally {
    recorder.kill();
    await server.close();
  }
}

export function plain(tensor: Tensor): { name: string; data: number[]; shape: number[] } {
  return { name: tensor.name, data: Array.from(tensor.data as Float32Array), shape: [...tensor.shape] };
}
