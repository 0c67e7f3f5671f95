import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import { toBytes } from '../src/core/binary';
import { createModelServer, startMockServer } from '../mock-server/index';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { addModel, BUNDLED, tempDataDir } from './helpers/data-dir';
import { tf, tfNode } from './helpers/tf';
import type * as tfTypes from '../mock-server/runtime/tfjs';

const mnist = loadMnistSplit().test;
const digit = (i: number) => mnist.x.subarray(i * 784, (i + 1) * 784);

describe('a SavedModel exported by Python TensorFlow 2.21 / Keras 3', () => {
  const fixture = new URL('./fixtures/savedmodel/', import.meta.url).pathname;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let server: Awaited<ReturnType<typeof startMockServer>>;

  beforeAll(async () => {
    data = await tempDataDir();
    const target = path.join(data.dir, 'models', 'tiny-classifier');
    await mkdir(target, { recursive: true });
    await cp(path.join(fixture, 'tiny-classifier'), path.join(target, '1'), { recursive: true });
    const signature = {
      platform: 'tensorflow_savedmodel',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }],
      outputs: [{ name: 'scores', datatype: 'FP32', shape: [-1, 4] }],
    };
    await writeFile(
      path.join(target, 'config.json'),
      JSON.stringify({ name: 'tiny-classifier', task: 'tabular-classification', ...signature }),
    );
    await writeFile(
      path.join(target, '1', 'version.json'),
      JSON.stringify({ version: 1, ...signature, signature: 'serving_default', tags: ['serve'] }),
    );
    server = await startMockServer({ auth: false, dataDir: data.dir });
  });
  afterAll(async () => {
    await server?.close();
    await data?.remove();
  });

  it("is served and matches Python's outputs to 1e-5", async () => {
    const expected = JSON.parse(await readFile(path.join(fixture, 'expected.json'), 'utf8'));
    const client = new Modelport({ baseUrl: server.url });
    const metadata = await client.models.metadata('tiny-classifier');
    expect(metadata.platform).toBe('tensorflow_savedmodel');
    const prediction = await client.predict('tiny-classifier', expected.input_rows.features);
    expect(prediction.output.shape).toEqual([5, 4]);
    const got = Array.from(prediction.output.data as Float32Array);
    const want = (expected.expected_outputs.scores as number[][]).flat();
    const maxDelta = Math.max(...got.map((v, i) => Math.abs(v - want[i]!)));
    expect(maxDelta).toBeLessThanOrEqual(1e-5);
  });
});

describe('tensors, batching and load shedding in one process', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let server: Awaited<ReturnType<typeof startMockServer>>;
  let client: Modelport;

  beforeAll(async () => {
    data = await tempDataDir();
    await addModel(data.dir, 'digits', path.join(BUNDLED, 'digits'));
    await addModel(data.dir, 'iris', path.join(BUNDLED, 'iris'));
    await addModel(data.dir, 'digits-tiny-queue', path.join(BUNDLED, 'digits'), (c) => ({
      ...c,
      batching: { max_batch_size: 1, max_queue_delay_ms: 0, max_queue_size: 2 },
    }));
    server = await startMockServer({ auth: false, dataDir: data.dir });
    client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await data?.remove();
  });

  it('tf.memory().numTensors is the same before and after 1,000 requests', async () => {
    const mix = async (i: number) => {
      switch (i % 5) {
        case 0:
          return client.predict('digits', digit(i % 100));
        case 1:
          return client.predict('digits', digit(i % 100), { binary: true });
        case 2:
          return client.predict('iris', [[5.1, 3.5, 1.4, 0.2]]);
        case 3:
          return client.predict('digits', { image: { data: digit(0), shape: [1, 784] } }).catch((e) => e); // 400
        default:
          return client.inference.infer('iris', {
            inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
            outputs: [{ name: 'probabilities', parameters: { classification: 2 } }],
          });
      }
    };
    for (let i = 0; i < 20; i++) await mix(i); // warm every path first
    const before = tf.memory().numTensors;
    for (let start = 0; start < 1000; start += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => mix(start + j)));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('dynamic batching runs concurrent requests together', async () => {
    const stats = async () => (await (await fetch(`${server.url}/v2/models/digits/stats`)).json()).model_stats[0];
    const before = await stats();
    const predictions = await Promise.all(Array.from({ length: 64 }, (_, i) => client.predict('digits', digit(i))));
    const after = await stats();
    expect(after.inference_count - before.inference_count).toBe(64);
    expect(after.execution_count - before.execution_count).toBeLessThan(64);
    // Batching must not mix up whose answer is whose: compare with each digit predicted alone.
    for (let i = 0; i < 64; i++) {
      const alone = await client.predict('digits', digit(i));
      expect(predictions[i]!.labels).toEqual(alone.labels);
      const delta = Math.max(
        ...Array.from(alone.output.data as Float32Array, (v, k) => Math.abs(v - (predictions[i]!.output.data as Float32Array)[k]!)),
      );
      expect(delta).toBeLessThan(1e-5);
    }
  });

  it('a full queue sheds load with 503 and Retry-After instead of growing', async () => {
    const modelServer = await createModelServer({ auth: false, dataDir: data.dir });
    try {
      const body = JSON.stringify({ inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', data: Array.from(digit(0)) }] });
      const responses = await Promise.all(
        Array.from({ length: 30 }, () =>
          modelServer.handler(
            new Request('http://local/v2/models/digits-tiny-queue/infer', {
              method: 'POST',
              body,
              headers: { 'content-type': 'application/json' },
            }),
          ),
        ),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
      const shed = responses.filter((r) => r.status === 503);
      expect(shed.length).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
      expect(shed[0]!.headers.get('retry-after')).toBe('1');
      expect(await shed[0]!.json()).toMatchObject({ code: 'overloaded', status: 503 });
    } finally {
      await modelServer.close();
    }
  });

  it('image models accept PNG bytes, in JSON (base64) and in binary', async () => {
    const samples = [0, 1, 2, 3];
    const pngs = await Promise.all(
      samples.map((i) => tfNode.encodePng(tf.tidy(() => tf.tensor(digit(i), [28, 28, 1]).mul(255).round().toInt()) as tfTypes.Tensor3D)),
    );
    const fromPixels = await client.predict('digits', mnist.x.subarray(0, 784 * samples.length));
    const json = await client.predict('digits', {
      image: { data: pngs.map((b) => Buffer.from(b).toString('base64')), shape: [samples.length], datatype: 'BYTES' },
    });
    const binary = await client.inference.inferBinary(
      'digits',
      {
        inputs: [
          {
            name: 'image',
            shape: [samples.length],
            datatype: 'BYTES',
            parameters: { binary_data_size: pngs.reduce((n, b) => n + 4 + b.byteLength, 0) },
          },
        ],
      },
      { binaryInputs: [toBytes('BYTES', pngs)] },
    );
    expect(json.output.shape).toEqual([4, 10]);
    expect(json.labels).toEqual(fromPixels.labels);
    expect(json.labels).toEqual(samples.map((i) => String(mnist.y[i])));
    // PNG pixels are the held-out pixels quantised to 1/255, so the probabilities agree closely.
    const a = Array.from(json.output.data as Float32Array);
    const b = Array.from(fromPixels.output.data as Float32Array);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-2);
    expect(Array.from(binary.outputs[0]!.data as Float32Array)).toEqual(a);
  });

  it('a non-image in an image input is a 400', async () => {
    const response = await client.inference
      .infer('digits', { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [Buffer.from('not a png').toString('base64')] }] })
      .catch((e) => e);
    expect(response.status).toBe(400);
    expect(response.code).toBe('invalid_image');
  });
});
