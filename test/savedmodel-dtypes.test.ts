/**
 * Every TensorFlow dtype a SavedModel signature may use, end to end through the real server
 * (issue #19 item 1): Python-made SavedModels (test/fixtures/savedmodel/dtypes/, one per dtype,
 * see make_dtype_fixtures.py) are uploaded, their metadata must name the signature's real
 * datatype, and JSON and binary inference through the SDK must give exactly what Python computed
 * (FP64 within 1e-12; INT64 as exact integers, BigInt64Array in the SDK, 8 bytes in binary). A
 * dtype that cannot be served is refused at upload; ragged nested JSON data is refused.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type APIError, Modelport, type TensorLike } from '../src/index';
import type { Datatype } from '../src/core/binary';
import { type RunningMockServer, startMockServer } from '../mock-server/index';
import { bindingTensorCount } from '../mock-server/runtime/saved-model-runner';
import { filesOf, zip } from './helpers/archives';
import { kill, startChildServer } from './helpers/child-server';
import { tempDataDir } from './helpers/data-dir';
import { tf } from './helpers/tf';

const FIXTURES = new URL('./fixtures/savedmodel/dtypes/', import.meta.url).pathname;

interface TensorJson {
  datatype: Datatype;
  shape: number[];
  /** 64-bit integers as decimal strings (exact), the rest as JSON gives them. */
  data: (number | string | boolean)[];
}
interface Expected {
  models: Record<string, { inputs: Record<string, TensorJson>; outputs: Record<string, TensorJson> }>;
  unservable: Record<string, { tensor: string; dtype: string }>;
  non_finite_on_zeros: Record<string, { output: string; value: string }>;
}
const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Expected;

const WIDE: Datatype[] = ['INT64', 'UINT64'];
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

let data: Awaited<ReturnType<typeof tempDataDir>>;
let server: RunningMockServer;
let client: Modelport;
const uploaded = new Map<string, Promise<unknown>>();

beforeAll(async () => {
  data = await tempDataDir();
  server = await startMockServer({ auth: false, dataDir: data.dir });
  client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
});
afterAll(async () => {
  await server?.close();
  await data?.remove();
});

/** Uploads a fixture once (as model `<fixture>`), resolving to the version or the APIError. */
function upload(fixture: string): Promise<unknown> {
  if (!uploaded.has(fixture)) {
    uploaded.set(
      fixture,
      (async () => {
        await client.models.create({ name: fixture, task: 'dtypes' });
        return client.models.versions
          .upload(fixture, { archive: zip(await filesOf(path.join(FIXTURES, fixture))), format: 'zip' })
          .catch((error: unknown) => error);
      })(),
    );
  }
  return uploaded.get(fixture)!;
}

/** A fixture input as the typed array (or list) of its datatype, for the SDK. */
function typed({ datatype, shape, data: values }: TensorJson): TensorLike {
  const arrays: Partial<Record<Datatype, (v: (number | string | boolean)[]) => TensorLike>> = {
    FP64: (v) => Float64Array.from(v as number[]),
    FP32: (v) => Float32Array.from(v as number[]),
    FP16: (v) => Float32Array.from(v as number[]),
    INT64: (v) => BigInt64Array.from(v as string[], BigInt),
    UINT64: (v) => BigUint64Array.from(v as string[], BigInt),
    INT32: (v) => Int32Array.from(v as number[]),
    INT16: (v) => Int16Array.from(v as number[]),
    INT8: (v) => Int8Array.from(v as number[]),
    UINT32: (v) => Uint32Array.from(v as number[]),
    UINT16: (v) => Uint16Array.from(v as number[]),
    UINT8: (v) => Uint8Array.from(v as number[]),
  };
  const make = arrays[datatype];
  return { data: make ? (make(values) as never) : values, shape, datatype };
}

/** What the SDK decoded, in expected.json's terms (64-bit integers as decimal strings). */
function plain(datatype: Datatype, values: ArrayLike<unknown>): unknown[] {
  return Array.from(values, (v) => (WIDE.includes(datatype) ? String(v) : v));
}

function expectOutput(name: string, got: { datatype: string; shape: number[]; data: ArrayLike<unknown> }, want: TensorJson) {
  expect(got.datatype, name).toBe(want.datatype);
  expect(got.shape, name).toEqual(want.shape);
  const values = plain(want.datatype, got.data);
  if (want.datatype === 'FP64') {
    values.forEach((v, i) => {
      const w = want.data[i] as number;
      expect(Math.abs((v as number) - w), `${name}[${i}]`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(w)));
    });
  } else expect(values, name).toEqual(want.data);
}

/** Whether JSON numbers can carry every value of these tensors exactly. */
const jsonSafe = (tensors: TensorJson[]) =>
  tensors.every((t) => !WIDE.includes(t.datatype) || t.data.every((v) => BigInt(v as string) <= SAFE && BigInt(v as string) >= -SAFE));

const postJson = (model: string, body: unknown) =>
  fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('SavedModels of every dtype', () => {
  const models = Object.entries(expected.models);

  it.each(models)('%s: READY, metadata names the signature datatypes', async (fixture, { inputs, outputs }) => {
    expect(await upload(fixture)).toMatchObject({ state: 'READY', platform: 'tensorflow_savedmodel' });
    const metadata = await client.models.metadata(fixture);
    expect(metadata.inputs.map((t) => [t.name, t.datatype])).toEqual(Object.entries(inputs).map(([n, t]) => [n, t.datatype]));
    expect(Object.fromEntries(metadata.outputs.map((t) => [t.name, t.datatype]))).toEqual(
      Object.fromEntries(Object.entries(outputs).map(([n, t]) => [n, t.datatype])),
    );
  });

  it.each(models)("%s: binary through the SDK gives exactly Python's outputs", async (fixture, { inputs, outputs }) => {
    await upload(fixture);
    const prediction = await client.predict(fixture, Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, typed(t)])), {
      binary: true,
    });
    for (const [name, want] of Object.entries(outputs)) expectOutput(name, prediction.outputs[name]!, want);
    for (const [name, want] of Object.entries(outputs)) {
      if (want.datatype === 'INT64') expect(prediction.outputs[name]!.data).toBeInstanceOf(BigInt64Array);
      if (want.datatype === 'UINT64') expect(prediction.outputs[name]!.data).toBeInstanceOf(BigUint64Array);
    }
  });

  const jsonModels = models.filter(([, m]) => jsonSafe([...Object.values(m.inputs), ...Object.values(m.outputs)]));
  it.each(jsonModels)("%s: JSON through the SDK and raw gives exactly Python's outputs", async (fixture, { inputs, outputs }) => {
    await upload(fixture);
    const prediction = await client.predict(fixture, Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, typed(t)])));
    for (const [name, want] of Object.entries(outputs)) expectOutput(name, prediction.outputs[name]!, want);

    // Raw: INT64 values are plain JSON integers both ways.
    const body = {
      inputs: Object.entries(inputs).map(([name, t]) => ({
        name,
        datatype: t.datatype,
        shape: t.shape,
        data: WIDE.includes(t.datatype) ? t.data.map(Number) : t.data,
      })),
    };
    const response = await postJson(fixture, body);
    const answer = (await response.json()) as { outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[] };
    expect(response.status, JSON.stringify(answer)).toBe(200);
    for (const output of answer.outputs) {
      const want = outputs[output.name]!;
      expectOutput(output.name, output, want);
      if (WIDE.includes(want.datatype)) expect(output.data.every(Number.isSafeInteger)).toBe(true);
    }
  });

  it('INT64 beyond 2^53: binary 2^60 in, 3·2^60 out exactly in 8 bytes; JSON output is 422 output_exceeds_json_range naming it', async () => {
    await upload('int64');
    const x = { data: BigInt64Array.from([2n ** 60n, -(2n ** 61n), 1n]), shape: [1, 3], datatype: 'INT64' as const };
    const binary = await client.predict('int64', x, { binary: true });
    expect(binary.output.data).toEqual(BigInt64Array.from([3n * 2n ** 60n, -3n * 2n ** 61n, 3n]));

    // The same bytes in, the output asked for in JSON: a JSON number cannot hold it exactly.
    const error = (await client.inference
      .inferBinary(
        'int64',
        { inputs: [{ name: 'x', datatype: 'INT64', shape: [1, 3], parameters: { binary_data_size: 24 } }] },
        { binaryInputs: [new Uint8Array(x.data.buffer)] },
      )
      .catch((e: unknown) => e)) as APIError;
    expect(error).toMatchObject({ status: 422, code: 'output_exceeds_json_range' });
    expect(error.message).toContain("output 'y': element 0 is 3458764513820540928");

    // And a JSON input beyond ±(2^53−1) is refused (JSON.parse would round it).
    const json = await postJson('int64', { inputs: [{ name: 'x', datatype: 'INT64', shape: [1, 3], data: [0, 2 ** 53, 0] }] });
    const body = (await json.json()) as { code: string; error: string };
    expect(json.status).toBe(400);
    expect(body.code).toBe('invalid_tensor_data');
    expect(body.error).toContain(
      "input 'x': element 1 is 9007199254740992, expected an integer in [-9007199254740991, 9007199254740991] (INT64",
    );
  });

  it('an int64 argmax output of an FP32 model: its class ids in JSON, its 2^60 multiple only in binary', async () => {
    await upload('argmax-int64');
    const { inputs, outputs } = expected.models['argmax-int64']!;
    const x = typed(inputs.x!);
    const ids = await client.predict('argmax-int64', x, { outputs: ['class_id'] });
    expect(ids.output.data).toEqual(BigInt64Array.from([1n, 2n]));
    const error = (await client.predict('argmax-int64', x).catch((e: unknown) => e)) as APIError;
    expect(error).toMatchObject({ status: 422, code: 'output_exceeds_json_range' });
    expect(error.message).toContain("output 'big': element 1 is 3458764513820540928");
    const binary = await client.predict('argmax-int64', x, { binary: true });
    expect(plain('INT64', binary.outputs.big!.data)).toEqual(outputs.big!.data);
  });

  it('classification ranks an INT64 output and prints its scores exactly', async () => {
    await upload('int64');
    const { x } = expected.models.int64!.inputs;
    const response = await postJson('int64', {
      inputs: [{ name: 'x', datatype: 'INT64', shape: x!.shape, data: x!.data.map(Number) }],
      outputs: [{ name: 'y', parameters: { classification: 2 } }],
    });
    const answer = (await response.json()) as { outputs: { datatype: string; shape: number[]; data: string[] }[] };
    expect(response.status, JSON.stringify(answer)).toBe(200);
    expect(answer.outputs[0]).toMatchObject({
      datatype: 'BYTES',
      shape: [2, 2],
      data: ['9:2', '3:0', '6755399441055744:2', '3377699720527872:0'],
    });
  });

  it('a JSON UINT64 input beyond 2^53−1 is 400 (binary carries the whole range: 2^64−1 above)', async () => {
    await upload('uint64');
    const json = await postJson('uint64', { inputs: [{ name: 'x', datatype: 'UINT64', shape: [1, 3], data: [0, 1, 2 ** 60] }] });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: string }).error).toContain(
      `input 'x': element 2 is ${JSON.stringify(2 ** 60)}, expected an integer in [0, 9007199254740991] (UINT64; send larger values in binary)`,
    );
  });

  it('concurrent requests batched together stay exact, and leave no tensor handle behind', async () => {
    await Promise.all(['int64', 'uint8', 'fp64'].map(upload));
    const before = bindingTensorCount(tf);
    const tfjsBefore = tf.memory().numTensors;
    const rows = Array.from({ length: 8 }, (_, i) => BigInt64Array.from([BigInt(i) * 2n ** 40n, -BigInt(i), 7n]));
    const answers = await Promise.all(
      rows.map((data) => client.predict('int64', { data, shape: [1, 3], datatype: 'INT64' }, { binary: true })),
    );
    answers.forEach((answer, i) => expect(answer.output.data).toEqual(rows[i]!.map((v) => v * 3n)));
    for (let i = 0; i < 20; i++) {
      await client.predict('uint8', { data: Uint8Array.from([i, 255, 0]), shape: [1, 3], datatype: 'UINT8' });
      await client.predict('fp64', { data: Float64Array.from([i, 0.1, 1e-300]), shape: [1, 3], datatype: 'FP64' }, { binary: true });
    }
    expect(bindingTensorCount(tf)).toBe(before);
    expect(tf.memory().numTensors).toBe(tfjsBefore);
  });
});

describe('modelport serve', () => {
  it('serves an INT64 and a UINT8 SavedModel from the command line, metadata and answers exact', async () => {
    const dir = await tempDataDir();
    const child = await startChildServer(dir.dir);
    try {
      const cli = new Modelport({ baseUrl: child.url, maxRetries: 0 });
      for (const fixture of ['int64', 'uint8']) {
        await cli.models.create({ name: fixture, task: 'dtypes' });
        await cli.models.versions.upload(fixture, { archive: zip(await filesOf(path.join(FIXTURES, fixture))), format: 'zip' });
      }
      expect((await cli.models.metadata('int64')).outputs).toEqual([{ name: 'y', datatype: 'INT64', shape: [-1, 3] }]);
      expect((await cli.models.metadata('uint8')).inputs).toEqual([{ name: 'x', datatype: 'UINT8', shape: [-1, 3] }]);
      const big = await cli.predict('int64', { data: BigInt64Array.from([2n ** 62n / 3n, -1n, 0n]), shape: [1, 3] }, { binary: true });
      expect(big.output.data).toEqual(BigInt64Array.from([(2n ** 62n / 3n) * 3n, -3n, 0n]));
      const wrapped = await cli.predict('uint8', { data: Uint8Array.from([255, 0, 7]), shape: [1, 3] });
      expect(wrapped.output.data).toEqual(Uint8Array.from([0, 1, 8]));
    } finally {
      await kill(child, 'SIGTERM');
      await dir.remove();
    }
  });
});

describe('what cannot be served', () => {
  it('a DT_COMPLEX128 signature is refused at upload, naming the tensor and its dtype, and keeps no version', async () => {
    const [fixture, { tensor, dtype }] = Object.entries(expected.unservable)[0]!;
    const error = (await upload(fixture)) as APIError;
    expect(error).toMatchObject({ status: 400, code: 'unsupported_model' });
    expect(error.message).toContain(`the SavedModel's input '${tensor}' is ${dtype}, which modelport cannot serve`);
    expect((await client.models.versions.list(fixture)).data).toEqual([]);
  });
});

describe('the upload probe runs every dtype', () => {
  it('an FP64 SavedModel that is -Infinity on zeros is refused (TF.js tensors could not feed its DT_DOUBLE input)', async () => {
    const [fixture, { output, value }] = Object.entries(expected.non_finite_on_zeros)[0]!;
    const error = (await upload(fixture)) as APIError;
    expect(error).toMatchObject({ status: 400, code: 'non_finite_output' });
    expect(error.message).toContain(`the model's output '${output}' is not finite on an all-zeros input`);
    expect(error.message).toContain(value);
  });
});

describe('nested JSON data must have the shape', () => {
  const infer = (data: unknown, shape = [2, 3]) => postJson('fp32', { inputs: [{ name: 'x', datatype: 'FP32', shape, data }] });

  it('ragged data is 400 invalid_tensor_data naming the input and where, even when the element count matches', async () => {
    await upload('fp32');
    const cases: [unknown, number[], string, string][] = [
      [
        [
          [1, 2],
          [3, 4, 5, 6],
        ],
        [2, 3],
        'data[0] has 2 entries, where shape [2,3] has 3',
        '/inputs/0/data/0',
      ],
      [
        [
          [1, 2, 3],
          [4, 5, [6]],
        ],
        [2, 3],
        'data[1][2] is an array, where shape [2,3] has an element',
        '/inputs/0/data/1/2',
      ],
      [
        [
          [1, 2, 3],
          [4, 5],
          [6, 7, 8, 9],
        ],
        [3, 3],
        'data[1] has 2 entries, where shape [3,3] has 3',
        '/inputs/0/data/1',
      ],
      [[[1, 2, 3], [4, 5, 6], [7]], [3, 3], 'data[2] has 1 entry, where shape [3,3] has 3', '/inputs/0/data/2'],
      [[[1, 2, 3], 4, 5, 6], [2, 3], 'data has 4 entries, where shape [2,3] has 2', '/inputs/0/data'],
    ];
    for (const [data, shape, message, where] of cases) {
      const response = await infer(data, shape);
      const body = (await response.json()) as { code: string; error: string; details: { path: string }[] };
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(body.code).toBe('invalid_tensor_data');
      expect(body.error).toContain(`input 'x': ${message}`);
      expect(body.details[0]!.path).toBe(where);
    }
  });

  it('flat data and data nested exactly as the shape are both accepted', async () => {
    await upload('fp32');
    for (const data of [
      [1, 2, 3, 4, 5, 6],
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ]) {
      const response = await infer(data);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data).toEqual([3, 5, 7, 9, 11, 13]);
    }
  });
});
