/**
 * NaN and ±Infinity outputs and the contract (issue #19 item 5), with real models: SavedModels made
 * by Python TensorFlow (test/fixtures/nonfinite/, ln(x + 1), ln(x) and x / x) and a TF.js layers
 * model whose bias is NaN. JSON has no NaN: a JSON answer that would carry one is 422
 * `non_finite_output` naming the output; binary answers carry the IEEE values Python computed;
 * classification over such scores fails the same way; an upload that is not finite on zeros is
 * refused (400); an evaluation whose loss is not finite fails with reason `non_finite_output`.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type APIError, Modelport } from '../src/index';
import { HEADER_LENGTH_HEADER, splitBinaryBody } from '../src/core/binary';
import { type RunningMockServer, startMockServer } from '../mock-server/index';
import { filesOf, zip } from './helpers/archives';
import { tempDataDir } from './helpers/data-dir';
import { tf } from './helpers/tf';

const FIXTURES = new URL('./fixtures/nonfinite/', import.meta.url).pathname;
type Number_ = number | 'NaN' | 'Infinity' | '-Infinity';
interface Case {
  input: { name: string; shape: number[]; data: number[] };
  outputs: Record<string, { shape: number[]; data: Number_[] }>;
}
const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as { models: Record<string, Case[]> };
const [withNaN, zeros] = expected.models['log-plus-one']! as [Case, Case];
const asNumber = (v: Number_) => (typeof v === 'number' ? v : Number(v));
/** NaN and ±Infinity exactly; finite values within float32 round-off (Python's graph may fuse ln(x + 1) into Log1p). */
function expectIeee(actual: ArrayLike<number>, python: Number_[]): void {
  expect(actual.length).toBe(python.length);
  python.map(asNumber).forEach((want, i) => {
    if (Number.isFinite(want)) expect(actual[i]).toBeCloseTo(want, 6);
    else expect(actual[i]).toBe(want);
  });
}

let server: RunningMockServer;
let client: Modelport;
let data: Awaited<ReturnType<typeof tempDataDir>>;

const upload = async (model: string, fixture: string, labels?: string[]) => {
  await client.models.create({ name: model, task: 'non-finite', ...(labels ? { labels } : {}) });
  return client.models.versions.upload(model, { archive: zip(await filesOf(path.join(FIXTURES, fixture))), format: 'zip' });
};

/** POST infer with a JSON body; the answer's status and JSON body (or binary parts). */
async function infer(model: string, body: Record<string, unknown>) {
  const response = await fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const headerLength = response.headers.get(HEADER_LENGTH_HEADER);
  if (headerLength === null) return { status: response.status, body: (await response.json()) as Record<string, any>, rest: undefined };
  const split = splitBinaryBody(new Uint8Array(await response.arrayBuffer()), Number(headerLength));
  return { status: response.status, body: JSON.parse(split.headerText) as Record<string, any>, rest: split.rest };
}

const input = (c: Case) => ({ name: 'x', datatype: 'FP32', shape: c.input.shape, data: c.input.data });

beforeAll(async () => {
  data = await tempDataDir();
  server = await startMockServer({ auth: false, dataDir: data.dir });
  client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
  expect(await upload('log-plus-one', 'log-plus-one', ['a', 'b', 'c'])).toMatchObject({ state: 'READY' });
});
afterAll(async () => {
  await server?.close();
  await data?.remove();
});

describe('inference', () => {
  it('a JSON output holding NaN is 422 non_finite_output naming the output, its first such element and the count', async () => {
    const answer = await infer('log-plus-one', { inputs: [input(withNaN)] });
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({
      code: 'non_finite_output',
      status: 422,
      error:
        "model 'log-plus-one' version 1 output 'log_scores': element 0 ([0, 0] of shape [2, 3]) is NaN (2 of 6 elements are not finite), " +
        'and JSON has no NaN or Infinity; ask for it in binary (binary_data: true) to receive the IEEE values',
      details: [{ path: '/parameters/binary_data_output', message: "output 'log_scores' holds NaN at element 0" }],
    });
  });

  it('names the requested output, and -Infinity too; the other outputs answer in JSON', async () => {
    const onlyInfinity = { ...input(withNaN), shape: [1, 3], data: withNaN.input.data.slice(3) };
    const answer = await infer('log-plus-one', { inputs: [onlyInfinity], outputs: [{ name: 'plus_one' }, { name: 'log_scores' }] });
    expect(answer.status).toBe(422);
    expect(answer.body.error).toBe(
      "model 'log-plus-one' version 1 output 'log_scores': element 0 ([0, 0] of shape [1, 3]) is -Infinity, " +
        'and JSON has no NaN or Infinity; ask for it in binary (binary_data: true) to receive the IEEE values',
    );
    expect(answer.body.details).toEqual([
      { path: '/outputs/1/parameters/binary_data', message: "output 'log_scores' holds -Infinity at element 0" },
    ]);

    const finite = await infer('log-plus-one', { inputs: [input(withNaN)], outputs: [{ name: 'plus_one' }] });
    expect(finite.status).toBe(200);
    expect(finite.body.outputs).toEqual([{ name: 'plus_one', datatype: 'FP32', shape: [2, 3], data: withNaN.outputs.plus_one!.data }]);
  });

  it('binary outputs carry the IEEE values Python computed, NaN and -Infinity included', async () => {
    const answer = await infer('log-plus-one', {
      inputs: [input(withNaN)],
      outputs: [{ name: 'log_scores', parameters: { binary_data: true } }, { name: 'plus_one' }],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.outputs).toEqual([
      { name: 'log_scores', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } },
      { name: 'plus_one', datatype: 'FP32', shape: [2, 3], data: withNaN.outputs.plus_one!.data },
    ]);
    const scores = new Float32Array(answer.rest!.slice().buffer);
    expectIeee(scores, withNaN.outputs.log_scores!.data);
    expect(Number.isNaN(scores[0])).toBe(true);
    expect(scores[3]).toBe(-Infinity);

    // The SDK: JSON fails with the code (a 4xx, so it is not retried), binary returns the Float32Array.
    const error = (await client
      .predict('log-plus-one', { data: withNaN.input.data, shape: [2, 3] }, { outputs: ['log_scores'] })
      .catch((e: unknown) => e)) as APIError;
    expect(error).toMatchObject({ status: 422, code: 'non_finite_output' });
    const binary = await client.predict('log-plus-one', new Float32Array(withNaN.input.data), { outputs: ['log_scores'], binary: true });
    expectIeee(binary.output.data as Float32Array, withNaN.outputs.log_scores!.data);
  });

  it('classification over NaN scores is 422 non_finite_output, in JSON and in binary; over finite scores it ranks', async () => {
    for (const binary of [false, true]) {
      const answer = await infer('log-plus-one', {
        inputs: [input(withNaN)],
        outputs: [{ name: 'log_scores', parameters: { classification: 2, ...(binary ? { binary_data: true } : {}) } }],
      });
      expect(answer.status).toBe(422);
      expect(answer.body).toMatchObject({
        code: 'non_finite_output',
        error:
          "model 'log-plus-one' version 1 output 'log_scores': element 0 ([0, 0] of shape [2, 3]) is NaN (2 of 6 elements are not finite), " +
          'and JSON has no NaN or Infinity; ask for the output without classification, in binary (binary_data: true), to receive the IEEE scores',
        details: [{ path: '/outputs/0/parameters/classification', message: "output 'log_scores' holds NaN at element 0" }],
      });
    }
    const ranked = await infer('log-plus-one', {
      inputs: [input(zeros)],
      outputs: [{ name: 'log_scores', parameters: { classification: 1 } }],
    });
    expect(ranked).toMatchObject({
      status: 200,
      body: { outputs: [{ name: 'log_scores', datatype: 'BYTES', shape: [1, 1], data: ['0:0:a'] }] },
    });
  });
});

describe('uploads', () => {
  it.each([
    [
      'log-of-input',
      "the model's output 'log_scores' is not finite on an all-zeros input ('x' [1, 3]): element 0 ([0, 0] of shape [1, 3]) is -Infinity (3 of 3 elements are not finite)",
    ],
    [
      'zero-over-zero',
      "the model's output 'ratio' is not finite on an all-zeros input ('x' [1, 3]): element 0 ([0, 0] of shape [1, 3]) is NaN (3 of 3 elements are not finite)",
    ],
  ])(
    'a SavedModel not finite on zeros (%s) is refused: 400 non_finite_output naming the output; no version is kept',
    async (fixture, message) => {
      const error = (await upload(fixture, fixture).catch((e: unknown) => e)) as APIError;
      expect(error).toMatchObject({ status: 400, code: 'non_finite_output' });
      expect((error.body as { error: string }).error).toBe(
        `${message}; JSON answers cannot carry NaN or Infinity, so the upload is refused`,
      );
      expect((await client.models.versions.list(fixture)).data).toEqual([]);
    },
  );

  it('a TF.js layers model whose bias is NaN is refused the same way', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'modelport-nan-bias-'));
    try {
      const x = tf.input({ shape: [2], name: 'x' });
      const dense = tf.layers.dense({
        units: 2,
        name: 'y',
        weights: [
          tf.tensor2d([
            [1, 0],
            [0, 1],
          ]),
          tf.tensor1d([Number.NaN, 0]),
        ],
      });
      const model = tf.model({ inputs: x, outputs: dense.apply(x) as ReturnType<typeof tf.input> });
      await model.save(`file://${dir}`);
      model.dispose();
      await client.models.create({ name: 'nan-bias', task: 'non-finite' });
      const error = (await client.models.versions.upload('nan-bias', { directory: dir }).catch((e: unknown) => e)) as APIError;
      expect(error).toMatchObject({ status: 400, code: 'non_finite_output' });
      expect((error.body as { error: string }).error).toMatch(
        /^the model's output '[^']+' is not finite on an all-zeros input \('[^']+' \[1, 2\]\): element 0 \(\[0, 0\] of shape \[1, 2\]\) is NaN;/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('evaluation', () => {
  it('a loss that is not finite fails the evaluation with reason non_finite_output, naming the sample and the score', async () => {
    const records = [
      { tensor: [0.5, 0.1, 0.2], label: 'a' },
      { tensor: [0, 3, 0], label: 'b' },
      { tensor: [0.1, -2, 0.2], label: 'c' },
    ];
    await client.datasets.create({ name: 'with-nan', records, labels: ['a', 'b', 'c'] });
    const job = await client.evaluations.create({ dataset: 'with-nan', models: [{ model: 'log-plus-one' }], latency_samples: 0 });
    await expect(job.wait()).rejects.toMatchObject({ name: 'EvaluationFailedError' });
    const done = await client.evaluations.get(job.id);
    expect(done).toMatchObject({
      status: 'failed',
      results: [],
      failure: {
        reason: 'non_finite_output',
        message:
          "log-plus-one version 1's loss is NaN: output 'log_scores' scores sample 2 as NaN for class 'b' (1 of 9 scores are not finite)",
      },
    });
    expect(JSON.stringify(done)).not.toContain('null');
  });
});
