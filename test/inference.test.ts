import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, Modelport, NotFoundError } from '../src/index';
import { HEADER_LENGTH_HEADER, encodeBinaryBody } from '../src/core/binary';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { loadIrisSplit } from '../mock-server/datasets/iris-split';

let server: RunningMockServer;
let client: Modelport;
const mnist = loadMnistSplit().test;
const iris = loadIrisSplit().test;
const recorded = (model: string) =>
  JSON.parse(readFileSync(new URL(`../mock-server/models/${model}/1/version.json`, import.meta.url), 'utf8')).metrics;

beforeAll(async () => {
  server = await startMockServer({ auth: false });
  client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
});
afterAll(() => server?.close());

/** Accuracy of a model over a labelled set, predicted in batches through the SDK. */
async function accuracy(model: string, x: Float32Array, y: ArrayLike<number>, width: number, options: { binary?: boolean } = {}) {
  let correct = 0;
  const batch = 250;
  for (let start = 0; start < y.length; start += batch) {
    const end = Math.min(y.length, start + batch);
    const prediction = await client.predict(model, x.subarray(start * width, end * width), options);
    prediction.classes!.forEach((row, i) => (correct += row[0]!.index === y[start + i] ? 1 : 0));
  }
  return correct / y.length;
}

describe('bundled models give their recorded held-out accuracy through the server', () => {
  it('digits (CNN) on 2,000 held-out digits', async () => {
    expect(await accuracy('digits', mnist.x, mnist.y, 784)).toBe(recorded('digits').accuracy);
  });
  it('digits-mlp on the same digits, over binary tensors', async () => {
    expect(await accuracy('digits-mlp', mnist.x, mnist.y, 784, { binary: true })).toBe(recorded('digits-mlp').accuracy);
  });
  it('iris on its 30 held-out flowers', async () => {
    expect(Math.round((await accuracy('iris', iris.x, iris.y, 4)) * 1e4) / 1e4).toBe(recorded('iris').accuracy);
  });
});

describe('predict and infer', () => {
  const first = () => mnist.x.subarray(0, 784 * 3);

  it('predict returns shapes, probabilities and labels for a classifier', async () => {
    const prediction = await client.predict('digits', first(), { topK: 3 });
    expect(prediction).toMatchObject({ model: 'digits', version: '1' });
    expect(prediction.output).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [3, 10] });
    const rows = Array.from({ length: 3 }, (_, r) => Array.from((prediction.output.data as Float32Array).subarray(r * 10, r * 10 + 10)));
    for (const row of rows) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(prediction.labels).toEqual(Array.from(mnist.y.subarray(0, 3), String));
    expect(prediction.classes!.map((r) => r.length)).toEqual([3, 3, 3]);
  });

  it('accepts nested arrays and { data, shape } alike', async () => {
    const flat = Array.from(iris.x.subarray(0, 8));
    const nested = [flat.slice(0, 4), flat.slice(4, 8)];
    const a = await client.predict('iris', nested);
    const b = await client.predict('iris', { features: { data: flat, shape: [2, 4] } });
    expect(Array.from(a.output.data as Float32Array)).toEqual(Array.from(b.output.data as Float32Array));
    expect(a.output.shape).toEqual([2, 3]);
  });

  it('JSON and binary tensors give identical outputs', async () => {
    const json = await client.predict('digits', first());
    const binary = await client.predict('digits', first(), { binary: true });
    expect(binary.output.data).toBeInstanceOf(Float32Array);
    expect(Array.from(binary.output.data as Float32Array)).toEqual(Array.from(json.output.data as Float32Array));
  });

  it('raw OIP infer with a version, an id, output selection and classification', async () => {
    const response = await client.inference.infer(
      'iris',
      {
        id: 'req-7',
        inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
        outputs: [{ name: 'probabilities', parameters: { classification: 2 } }],
      },
      { version: 1 },
    );
    expect(response).toMatchObject({ model_name: 'iris', model_version: '1', id: 'req-7' });
    expect(response.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'BYTES', shape: [1, 2] });
    const [best, second] = response.outputs[0]!.data as string[];
    expect(best).toMatch(/^0\.9\d*:0:setosa$/);
    expect(second).toMatch(/:(1:versicolor|2:virginica)$/);
  });

  it('binary infer through the SDK decodes a binary response', async () => {
    const pixels = mnist.x.subarray(0, 784);
    const response = await client.inference.inferBinary(
      'digits',
      {
        inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', parameters: { binary_data_size: pixels.byteLength } }],
        outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
      },
      { binaryInputs: [new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength)] },
    );
    const probabilities = response.outputs[0]!.data as Float32Array;
    expect(probabilities.length).toBe(10);
    expect(probabilities.indexOf(Math.max(...probabilities))).toBe(mnist.y[0]);
  });

  it('model metadata and readiness, with and without a version', async () => {
    const metadata = await client.models.metadata('digits');
    expect(metadata).toMatchObject({
      name: 'digits',
      versions: ['1'],
      version: '1',
      platform: 'tfjs_layers',
      task: 'image-classification',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 28, 28, 1] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }],
    });
    expect(await client.models.ready('digits', { version: 1 })).toEqual({ name: 'digits', ready: true });
  });
});

describe('every bad input is a 4xx with the error body', () => {
  const post = (path: string, body: BodyInit, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${server.url}${path}`, { method: 'POST', body, headers });
  const image = (shape: number[], datatype = 'FP32', data: unknown[] = new Array(shape.reduce((a, b) => a * b, 1)).fill(0)) =>
    JSON.stringify({ inputs: [{ name: 'image', shape, datatype, data }] });

  it.each([
    ['unknown model', '/v2/models/digitz/infer', image([1, 28, 28, 1]), 404, 'model_not_found'],
    ['unknown version', '/v2/models/digits/versions/9/infer', image([1, 28, 28, 1]), 404, 'version_not_found'],
    ['wrong shape', '/v2/models/digits/infer', image([1, 28, 28]), 400, 'shape_mismatch'],
    ['wrong datatype', '/v2/models/digits/infer', image([1, 28, 28, 1], 'INT32'), 400, 'datatype_mismatch'],
    ['data length not matching shape', '/v2/models/digits/infer', image([2, 28, 28, 1], 'FP32', [1, 2, 3]), 400, 'data_length_mismatch'],
    [
      'a string where a number belongs',
      '/v2/models/iris/infer',
      JSON.stringify({ inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 'x', 4] }] }),
      400,
      'invalid_tensor_data',
    ],
    ['malformed JSON', '/v2/models/digits/infer', '{"inputs": [', 400, 'malformed_json'],
    [
      'schema violation',
      '/v2/models/digits/infer',
      JSON.stringify({ inputs: [{ name: 'image', shape: 'wide', datatype: 'FP32' }] }),
      400,
      'invalid_request',
    ],
    ['unknown datatype', '/v2/models/digits/infer', image([1, 28, 28, 1], 'FLOAT'), 400, 'invalid_request'],
    [
      'unknown input',
      '/v2/models/iris/infer',
      JSON.stringify({ inputs: [{ name: 'petals', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
      400,
      'unknown_input',
    ],
    [
      'unknown output',
      '/v2/models/iris/infer',
      JSON.stringify({
        inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
        outputs: [{ name: 'logits' }],
      }),
      400,
      'unknown_output',
    ],
  ])('%s', async (_, path, body, status, code) => {
    const response = await post(path, body);
    expect(response.status).toBe(status);
    const error = await response.json();
    expect(error).toMatchObject({ status, code, request_id: response.headers.get('x-request-id') });
    expect(typeof error.error).toBe('string');
  });

  it('names the input, the expected and the received shape', async () => {
    const error = await client.predict('digits', { image: { data: new Float32Array(784), shape: [1, 784] } }).catch((e) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.message).toBe("400 input 'image': expected shape [-1,28,28,1], received [1,784]");
    expect(error.details).toEqual([{ path: '/inputs/0/shape', message: 'expected [-1,28,28,1], received [1,784]' }]);
  });

  it('unknown models are NotFoundError in the SDK', async () => {
    await expect(client.predict('nope', new Float32Array(4))).rejects.toBeInstanceOf(NotFoundError);
  });

  describe('binary header lies', () => {
    const pixels = new Uint8Array(new Float32Array(784).buffer);
    const header = (size: number) => ({
      inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', parameters: { binary_data_size: size } }],
    });
    const send = (body: Uint8Array<ArrayBuffer>, headerLength: string | undefined) =>
      post('/v2/models/digits/infer', body, {
        'content-type': 'application/octet-stream',
        ...(headerLength === undefined ? {} : { [HEADER_LENGTH_HEADER]: headerLength }),
      });

    it.each([
      // Without the header a body is JSON, whatever its Content-Type (as Triton reads it): this one is not.
      ['no header length', () => send(encodeBinaryBody(header(3136), [pixels]).body, undefined), 'malformed_json'],
      ['header length beyond the body', () => send(encodeBinaryBody(header(3136), [pixels]).body, '999999'), 'invalid_binary_header'],
      ['header length cutting the JSON', () => send(encodeBinaryBody(header(3136), [pixels]).body, '10'), 'invalid_binary_header'],
      [
        'binary_data_size beyond the body',
        () => {
          const b = encodeBinaryBody(header(4000), [pixels]);
          return send(b.body, String(b.headerLength));
        },
        'invalid_binary_header',
      ],
      [
        'extra bytes after the inputs',
        () => {
          const b = encodeBinaryBody(header(3136), [pixels, new Uint8Array(8)]);
          return send(b.body, String(b.headerLength));
        },
        'invalid_binary_header',
      ],
      [
        'size not matching the shape',
        () => {
          const b = encodeBinaryBody(header(3132), [pixels.subarray(0, 3132)]);
          return send(b.body, String(b.headerLength));
        },
        'data_length_mismatch',
      ],
    ])('%s', async (_, request, code) => {
      const response = await request();
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ status: 400, code });
    });
  });
});

describe('repository and statistics', () => {
  it('counts inferences and executions per version, and exports Prometheus text', async () => {
    const before = (await (await fetch(`${server.url}/v2/models/iris/versions/1/stats`)).json()).model_stats[0];
    await client.predict('iris', iris.x.subarray(0, 8));
    await client.predict('iris', iris.x.subarray(0, 4));
    const after = (await (await fetch(`${server.url}/v2/models/iris/versions/1/stats`)).json()).model_stats[0];
    expect(after.inference_count - before.inference_count).toBe(3);
    expect(after.inference_stats.success.count - before.inference_stats.success.count).toBe(2);
    expect(after.latency_ms.p50).toBeGreaterThan(0);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain(`modelport_inference_samples_total{model="iris",version="1"} ${after.inference_count}`);
  });

  it('unload makes a model unavailable (503) and load brings it back', async () => {
    const unloaded = await (await fetch(`${server.url}/v2/repository/models/iris/unload`, { method: 'POST' })).json();
    expect(unloaded).toEqual([{ name: 'iris', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    expect(await client.models.ready('iris')).toEqual({ name: 'iris', ready: false });
    const refused = await fetch(`${server.url}/v2/models/iris/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    const index = await (
      await fetch(`${server.url}/v2/repository/index`, { method: 'POST', body: JSON.stringify({ ready: true }) })
    ).json();
    expect(index.map((e: { name: string }) => e.name)).toEqual(['digits', 'digits-mlp']);
    const loaded = await (await fetch(`${server.url}/v2/repository/models/iris/load`, { method: 'POST' })).json();
    expect(loaded).toEqual([{ name: 'iris', version: '1', state: 'READY' }]);
    expect((await client.predict('iris', iris.x.subarray(0, 4))).labels).toHaveLength(1);
  });
});
