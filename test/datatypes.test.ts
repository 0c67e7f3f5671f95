/**
 * The OIP datatypes that make sense for TensorFlow.js, end to end through the real server, in
 * JSON and in binary: tiny real TF.js models (test/helpers/datatype-models.ts) are written into a
 * fresh model repository, each with a config.json declaring the datatype under test, and served.
 *
 * TF.js computes in float32, int32, bool and string, so the server converts: FP16 and FP64 ↔
 * float32 (binary FP16 is IEEE half bits), INT8/UINT8/INT16/UINT16/INT64 ↔ int32 (values that do
 * not fit are a 400), BOOL ↔ bool, BYTES ↔ string. SavedModels compute in every datatype exactly:
 * test/savedmodel-dtypes.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import {
  HEADER_LENGTH_HEADER,
  encodeBinaryBody,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  splitBinaryBody,
  type Datatype,
} from '../src/core/binary';
import type { InferenceRequest, InferenceResponse } from '../src/types';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { BIAS, FACTORS, INTEGER_TYPES, KERNEL, KEYWORDS, buildDatatypeModels, type IntegerType } from './helpers/datatype-models';

let server: RunningMockServer;
let client: Modelport;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'modelport-datatypes-'));
  await buildDatatypeModels(dataDir);
  server = await startMockServer({ auth: false, dataDir });
  client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
});
afterAll(async () => {
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

// ---- helpers ----

type Input = InferenceRequest['inputs'][number];

const postJson = (model: string, body: unknown) =>
  fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** A JSON infer that must succeed; the raw OIP response. */
async function inferJson(model: string, inputs: Input[], outputs?: string[]): Promise<InferenceResponse> {
  const response = await postJson(model, { inputs, ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}) });
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return body;
}

const postBinary = (model: string, header: unknown, chunks: Uint8Array[]) => {
  const { body, headerLength } = encodeBinaryBody(header, chunks);
  return fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH_HEADER]: String(headerLength) },
  });
};

/**
 * A binary infer over raw fetch (not the SDK): one input sent as `bytes`, every output asked for
 * in binary. Returns the JSON header and each output's raw bytes, split by binary_data_size.
 */
async function inferRawBinary(model: string, input: Omit<Input, 'data' | 'parameters'>, bytes: Uint8Array, outputs?: string[]) {
  const header = {
    inputs: [{ ...input, parameters: { binary_data_size: bytes.byteLength } }],
    ...(outputs
      ? { outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })) }
      : { parameters: { binary_data_output: true } }),
  };
  const response = await postBinary(model, header, [bytes]);
  const body = new Uint8Array(await response.arrayBuffer());
  expect(response.status, new TextDecoder().decode(body)).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/octet-stream');
  const { headerText, rest } = splitBinaryBody(body, Number(response.headers.get(HEADER_LENGTH_HEADER)));
  const json = JSON.parse(headerText) as InferenceResponse;
  const raw: Record<string, Uint8Array> = {};
  let offset = 0;
  for (const output of json.outputs) {
    const size = output.parameters?.binary_data_size as number;
    expect(output.data).toBeUndefined();
    raw[output.name] = rest.slice(offset, offset + size);
    offset += size;
  }
  expect(offset).toBe(rest.byteLength);
  return { header: json, raw };
}

async function expectError(response: Response, status: number, code: string) {
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(status);
  expect(body).toMatchObject({ status, code });
  return body as { error: string; details?: { path: string; message: string }[] };
}

const bytesOf = (view: ArrayBufferView) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
const plain = (data: unknown) => Array.from(data as ArrayLike<unknown>);

/** What the Dense layer computes in float32: y = x · KERNEL + BIAS, row by row. */
function affine(x: number[]): number[] {
  const y: number[] = [];
  for (let r = 0; r < x.length / 3; r++) {
    for (let c = 0; c < 2; c++) {
      let sum = 0;
      for (let k = 0; k < 3; k++) sum = Math.fround(sum + Math.fround(x[r * 3 + k]! * KERNEL[k]![c]!));
      y.push(Math.fround(sum + BIAS[c]!));
    }
  }
  return y;
}

// ---- the repository ----

describe('the datatype models', () => {
  it('all load and are READY, with their declared datatypes in the metadata', async () => {
    const index = await (await fetch(`${server.url}/v2/repository/index`, { method: 'POST', body: '{}' })).json();
    expect(index.filter((e: { state: string }) => e.state !== 'READY')).toEqual([]);
    expect(index).toHaveLength(18);
    const metadata = await client.models.metadata('int-uint16');
    expect(metadata).toMatchObject({
      platform: 'tfjs_graph',
      inputs: [{ name: 'x', datatype: 'UINT16', shape: [-1, 3] }],
      outputs: [
        { name: 'same', datatype: 'UINT16' },
        { name: 'scaled', datatype: 'INT32' },
      ],
    });
  });
});

// ---- floats ----

describe('FP32, FP16 and FP64', () => {
  // Every value below and every result is exact in half precision.
  const x = [1, 2, 4, -2, 0.5, 8];
  const y = [3.125, -0.5, 2.125, -7.5];

  it('FP32: JSON (raw, SDK infer, predict) and binary (raw, SDK inferBinary, predict) give the exact outputs', async () => {
    expect(affine(x)).toEqual(y);
    const input = { name: 'x', shape: [2, 3], datatype: 'FP32' as const };
    const json = await inferJson('affine-fp32', [{ ...input, data: x }]);
    expect(json.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [2, 2], data: y }]);
    expect(
      (
        await client.inference.infer('affine-fp32', {
          inputs: [
            {
              ...input,
              data: [
                [1, 2, 4],
                [-2, 0.5, 8],
              ],
            },
          ],
        })
      ).outputs,
    ).toEqual(json.outputs);

    const { header, raw } = await inferRawBinary('affine-fp32', input, bytesOf(Float32Array.from(x)));
    expect(header.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: 16 } }]);
    expect(plain(new Float32Array(raw.y!.buffer))).toEqual(y);

    const sdk = await client.inference.inferBinary(
      'affine-fp32',
      {
        inputs: [{ ...input, parameters: { binary_data_size: 24 } }],
        parameters: { binary_data_output: true },
      },
      { binaryInputs: [bytesOf(Float32Array.from(x))] },
    );
    expect(sdk.outputs[0]!.data).toBeInstanceOf(Float32Array);
    expect(plain(sdk.outputs[0]!.data)).toEqual(y);

    for (const binary of [false, true]) {
      const prediction = await client.predict('affine-fp32', Float32Array.from(x), { binary });
      expect(prediction.output).toMatchObject({ name: 'y', datatype: 'FP32', shape: [2, 2] });
      expect(plain(prediction.output.data)).toEqual(y);
    }
  });

  it('FP16 in and out: JSON numbers and binary IEEE half bits, both exact', async () => {
    const input = { name: 'x', shape: [2, 3], datatype: 'FP16' as const };
    const json = await inferJson('affine-fp16', [{ ...input, data: x }]);
    expect(json.outputs).toEqual([{ name: 'y', datatype: 'FP16', shape: [2, 2], data: y }]);

    // 1, 2, 4, -2, 0.5, 8 as half bits, written by hand; 3.125, -0.5, 2.125, -7.5 likewise.
    const bits = Uint16Array.from([0x3c00, 0x4000, 0x4400, 0xc000, 0x3800, 0x4800]);
    const { header, raw } = await inferRawBinary('affine-fp16', input, bytesOf(bits));
    expect(header.outputs).toEqual([{ name: 'y', datatype: 'FP16', shape: [2, 2], parameters: { binary_data_size: 8 } }]);
    expect(plain(new Uint16Array(raw.y!.buffer))).toEqual([0x4240, 0xb800, 0x4040, 0xc780]);

    // The SDK encodes FP16 from numbers and decodes it to Float32Array.
    for (const binary of [false, true]) {
      const prediction = await client.predict(
        'affine-fp16',
        [
          [1, 2, 4],
          [-2, 0.5, 8],
        ],
        { binary },
      );
      expect(prediction.output).toMatchObject({ datatype: 'FP16', shape: [2, 2] });
      expect(prediction.output.data).toBeInstanceOf(Float32Array);
      expect(plain(prediction.output.data)).toEqual(y);
    }
  });

  it('an FP16 input sent as a JSON number is rounded to half precision, as its binary form is', async () => {
    // 0.1 is not a half; the nearest half is 0x2e66 = 0.0999755859375. FP32 out shows what the model got.
    const input = { name: 'x', shape: [1, 3], datatype: 'FP16' as const };
    const json = await inferJson('affine-fp16-to-fp32', [{ ...input, data: [0.1, 0, 0] }]);
    expect(json.outputs[0]).toMatchObject({ datatype: 'FP32', data: [0.0999755859375 + 0.125, -0.5] });
    const { raw } = await inferRawBinary('affine-fp16-to-fp32', input, bytesOf(Uint16Array.from([0x2e66, 0, 0])));
    expect(plain(new Float32Array(raw.y!.buffer))).toEqual(json.outputs[0]!.data);
    // The largest half passes; a number that rounds beyond it is refused.
    expect((await inferJson('affine-fp16-to-fp32', [{ ...input, data: [65504, 0, 0] }])).outputs[0]!.data).toEqual([65504.125, -0.5]);
    for (const bad of [65520, -1e6, 1e39]) {
      await expectError(await postJson('affine-fp16', { inputs: [{ ...input, data: [bad, 0, 0] }] }), 400, 'invalid_tensor_data');
    }
  });

  it('an output declared FP16 comes back as FP16, rounded to half precision in JSON as in binary', async () => {
    const input = { name: 'x', shape: [2, 3], datatype: 'FP32' as const };
    const values = [0.1, 0, 0, 1000, 0, 0.5];
    const exact = affine(values); // float32: 0.225000…, -0.5, 1000.375, -1
    const json = await inferJson('affine-fp32-to-fp16', [{ ...input, data: values }]);
    // 0.225 → 0x3333 = 0.2249755859375; 1000.375 → 0x63d1 = 1000.5 (halves are 0.5 apart there).
    expect(json.outputs).toEqual([{ name: 'y', datatype: 'FP16', shape: [2, 2], data: [0.2249755859375, -0.5, 1000.5, -1] }]);
    const { raw } = await inferRawBinary('affine-fp32-to-fp16', input, bytesOf(Float32Array.from(values)));
    const bits = plain(new Uint16Array(raw.y!.buffer)) as number[];
    expect(bits).toEqual([0x3333, 0xb800, 0x63d1, 0xbc00]);
    bits.forEach((b, i) => {
      const decoded = float16BitsToFloat32(b);
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(exact[i]!))) - 10);
      expect(Math.abs(decoded - exact[i]!)).toBeLessThanOrEqual(ulp / 2);
      expect(decoded).toBe(json.outputs[0]!.data![i]);
    });
  });

  it('FP64 in and out: 8 bytes per element in binary, float32 precision inside the model', async () => {
    const input = { name: 'x', shape: [2, 3], datatype: 'FP64' as const };
    const values = [0.1, 0, 0, -2, 0.5, 8];
    const expected = [Math.fround(Math.fround(0.1) + 0.125), -0.5, 2.125, -7.5];
    const json = await inferJson('affine-fp64', [{ ...input, data: values }]);
    expect(json.outputs).toEqual([{ name: 'y', datatype: 'FP64', shape: [2, 2], data: expected }]);
    const { header, raw } = await inferRawBinary('affine-fp64', input, bytesOf(Float64Array.from(values)));
    expect(header.outputs[0]).toMatchObject({ datatype: 'FP64', parameters: { binary_data_size: 32 } });
    expect(plain(new Float64Array(raw.y!.buffer))).toEqual(expected);
    const prediction = await client.predict('affine-fp64', Float64Array.from(values), { binary: true });
    expect(prediction.output.data).toBeInstanceOf(Float64Array);
    expect(plain(prediction.output.data)).toEqual(expected);
  });

  it('numbers beyond float32 range (FP32, FP64) and non-numbers are 400 invalid_tensor_data, in JSON and binary', async () => {
    for (const [model, datatype, bad] of [
      ['affine-fp32', 'FP32', 1e39],
      ['affine-fp32', 'FP32', '1'],
      ['affine-fp32', 'FP32', true],
      ['affine-fp64', 'FP64', -1e39],
      ['affine-fp64', 'FP64', 'NaN'],
      ['affine-fp16', 'FP16', 'half'],
      ['affine-fp16', 'FP16', false],
    ] as const) {
      const error = await expectError(
        await postJson(model, { inputs: [{ name: 'x', shape: [1, 3], datatype, data: [0, bad, 0] }] }),
        400,
        'invalid_tensor_data',
      );
      expect(error.details).toEqual([{ path: '/inputs/0/data', message: expect.stringContaining('element 1 must be') }]);
    }
    const response = await postBinary(
      'affine-fp64',
      { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP64', parameters: { binary_data_size: 24 } }] },
      [bytesOf(Float64Array.from([0, 3.5e38, 0]))],
    );
    await expectError(response, 400, 'invalid_tensor_data');
  });

  it('FP32 infinities sent in binary are values, not errors, and NaN comes back in binary', async () => {
    const { raw } = await inferRawBinary(
      'affine-fp32',
      { name: 'x', shape: [1, 3], datatype: 'FP32' },
      bytesOf(Float32Array.from([Infinity, 0, 0])),
    );
    // y0 = ∞·1 + 0.125 = ∞; y1 = ∞·0 + … = NaN.
    expect(plain(new Float32Array(raw.y!.buffer))).toEqual([Infinity, NaN]);
  });

  it('non-finite outputs asked for in JSON are 422 non_finite_output (JSON has no NaN or ∞); in binary the SDK reads their IEEE values', async () => {
    const header = { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32' as const, parameters: { binary_data_size: 12 } }] };
    const response = await postBinary('affine-fp32', header, [bytesOf(Float32Array.from([Infinity, 0, 0]))]);
    const error = await expectError(response, 422, 'non_finite_output');
    expect(error.error).toContain("output 'y'");
    const sdk = await client.inference.inferBinary(
      'affine-fp32',
      { ...header, parameters: { binary_data_output: true } },
      { binaryInputs: [bytesOf(Float32Array.from([Infinity, 0, 0]))] },
    );
    expect(plain(sdk.outputs[0]!.data)).toEqual([Infinity, NaN]);
  });
});

// ---- integers ----

const RANGES: Record<IntegerType, [number, number]> = {
  INT8: [-128, 127],
  UINT8: [0, 255],
  INT16: [-32768, 32767],
  UINT16: [0, 65535],
  INT32: [-2147483648, 2147483647],
  // TF.js has no int64: INT64 values must fit int32.
  INT64: [-2147483648, 2147483647],
};

/** Values of each type whose products with FACTORS fit int32. */
const SCALABLE: Record<IntegerType, number[]> = {
  INT8: [-128, 7, 127],
  UINT8: [255, 1, 200],
  INT16: [-32768, 0, 32767],
  UINT16: [65535, 2, 40000],
  INT32: [-1073741824, 7, 429496729],
  INT64: [-1073741824, -715827882, 429496729],
};

/** The little-endian bytes of integer values as the given type, written without the SDK. */
function integerBytes(datatype: IntegerType, values: number[]): Uint8Array {
  switch (datatype) {
    case 'INT8':
      return bytesOf(Int8Array.from(values));
    case 'UINT8':
      return bytesOf(Uint8Array.from(values));
    case 'INT16':
      return bytesOf(Int16Array.from(values));
    case 'UINT16':
      return bytesOf(Uint16Array.from(values));
    case 'INT32':
      return bytesOf(Int32Array.from(values));
    case 'INT64':
      return bytesOf(BigInt64Array.from(values, (v) => BigInt(v)));
  }
}

function integersFrom(datatype: Datatype, bytes: Uint8Array): number[] {
  const buffer = bytes.slice().buffer;
  switch (datatype) {
    case 'INT8':
      return plain(new Int8Array(buffer)) as number[];
    case 'UINT8':
      return plain(new Uint8Array(buffer)) as number[];
    case 'INT16':
      return plain(new Int16Array(buffer)) as number[];
    case 'UINT16':
      return plain(new Uint16Array(buffer)) as number[];
    case 'INT32':
      return plain(new Int32Array(buffer)) as number[];
    case 'INT64':
      return Array.from(new BigInt64Array(buffer), Number);
    default:
      throw new Error(datatype);
  }
}

const SIZE: Record<IntegerType, number> = { INT8: 1, UINT8: 1, INT16: 2, UINT16: 2, INT32: 4, INT64: 8 };

describe('INT8, UINT8, INT16, UINT16, INT32 and INT64', () => {
  it.each(INTEGER_TYPES)('%s: extremes pass unchanged and x * factors is exact, in JSON and in binary', async (datatype) => {
    const model = `int-${datatype.toLowerCase()}`;
    const [min, max] = RANGES[datatype];
    const scaledType = datatype === 'INT64' ? 'INT64' : 'INT32';
    const input = { name: 'x', shape: [1, 3], datatype };

    // Extremes through `same` (x * factors would overflow int32 for INT32 and INT64).
    const extremes = [min, 0, max];
    const json = await inferJson(model, [{ ...input, data: extremes }], ['same']);
    expect(json.outputs).toEqual([{ name: 'same', datatype, shape: [1, 3], data: extremes }]);
    const binary = await inferRawBinary(model, input, integerBytes(datatype, extremes), ['same']);
    expect(binary.header.outputs).toEqual([
      { name: 'same', datatype, shape: [1, 3], parameters: { binary_data_size: 3 * SIZE[datatype] } },
    ]);
    expect(integersFrom(datatype, binary.raw.same!)).toEqual(extremes);

    // Both outputs on values whose products fit.
    const values = SCALABLE[datatype];
    const scaled = values.map((v, i) => v * FACTORS[i]! + 0); // + 0: no -0
    const both = await inferJson(model, [{ ...input, data: values }]);
    expect(both.outputs).toEqual([
      { name: 'same', datatype, shape: [1, 3], data: values },
      { name: 'scaled', datatype: scaledType, shape: [1, 3], data: scaled },
    ]);
    const bothBinary = await inferRawBinary(model, input, integerBytes(datatype, values));
    expect(bothBinary.header.outputs.map((o) => [o.name, o.datatype, o.parameters?.binary_data_size])).toEqual([
      ['same', datatype, 3 * SIZE[datatype]],
      ['scaled', scaledType, 3 * SIZE[scaledType]],
    ]);
    expect(integersFrom(datatype, bothBinary.raw.same!)).toEqual(values);
    expect(integersFrom(scaledType, bothBinary.raw.scaled!)).toEqual(scaled);

    // The SDK, both ways: predict encodes numbers as the declared datatype and decodes them back
    // (INT64 exactly, as a BigInt64Array).
    for (const binary of [false, true]) {
      const prediction = await client.predict(model, [values], { binary });
      if (datatype === 'INT64') expect(prediction.outputs.same!.data).toBeInstanceOf(BigInt64Array);
      expect(plain(prediction.outputs.same!.data).map(Number)).toEqual(values);
      expect(plain(prediction.outputs.scaled!.data).map(Number)).toEqual(scaled);
      expect(prediction.outputs.same!.datatype).toBe(datatype);
    }
  });

  it.each(INTEGER_TYPES)('%s: out-of-range, fractional and non-numeric JSON elements are 400 invalid_tensor_data', async (datatype) => {
    const model = `int-${datatype.toLowerCase()}`;
    const [min, max] = RANGES[datatype];
    for (const bad of [max + 1, min - 1, 1.5, '1', true]) {
      const error = await expectError(
        await postJson(model, { inputs: [{ name: 'x', shape: [1, 3], datatype, data: [0, 0, bad] }] }),
        400,
        'invalid_tensor_data',
      );
      expect(error.error).toContain(`element 2 is ${JSON.stringify(bad)}, expected an integer in [${min}, ${max}] (${datatype})`);
    }
  });

  it('INT64 in binary: int32 extremes pass, anything beyond int32 is 400 invalid_tensor_data', async () => {
    const header = (n: number) => ({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT64', parameters: { binary_data_size: n } }] });
    for (const bad of [2n ** 31n, -(2n ** 31n) - 1n, 2n ** 62n, -(2n ** 63n)]) {
      const response = await postBinary('int-int64', header(24), [bytesOf(BigInt64Array.from([0n, bad, 0n]))]);
      const error = await expectError(response, 400, 'invalid_tensor_data');
      expect(error.error).toContain('element 1');
    }
    const { raw } = await inferRawBinary(
      'int-int64',
      { name: 'x', shape: [1, 3], datatype: 'INT64' },
      bytesOf(BigInt64Array.from([-(2n ** 31n), 0n, 2n ** 31n - 1n])),
      ['same'],
    );
    expect(Array.from(new BigInt64Array(raw.same!.buffer))).toEqual([-(2n ** 31n), 0n, 2n ** 31n - 1n]);
  });

  it('a wrong binary size for the datatype is 400 data_length_mismatch', async () => {
    // 3 INT16 elements are 6 bytes, not 3.
    const response = await postBinary(
      'int-int16',
      { inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT16', parameters: { binary_data_size: 3 } }] },
      [new Uint8Array(3)],
    );
    await expectError(response, 400, 'data_length_mismatch');
  });

  it('another integer datatype than the declared one is 400 datatype_mismatch', async () => {
    await expectError(
      await postJson('int-uint8', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT32', data: [1, 2, 3] }] }),
      400,
      'datatype_mismatch',
    );
    await expectError(
      await postJson('int-int64', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT32', data: [1, 2, 3] }] }),
      400,
      'datatype_mismatch',
    );
  });

  it('UINT8 into a float layers model: JSON and binary give the exact FP32 outputs', async () => {
    const pixels = Uint8Array.from([1, 2, 4, 255, 0, 10]);
    const expected = [3.125, -0.5, 255 + 5 + 0.125, -10.5];
    for (const binary of [false, true]) {
      const prediction = await client.predict('affine-uint8', pixels, { binary });
      expect(prediction.output).toMatchObject({ datatype: 'FP32', shape: [2, 2] });
      expect(plain(prediction.output.data)).toEqual(expected);
    }
    await expectError(
      await postJson('affine-uint8', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'UINT8', data: [0, 256, 0] }] }),
      400,
      'invalid_tensor_data',
    );
  });

  it('INT16 through an int32 layers model: Int16Array in, Int16Array out', async () => {
    const values = Int16Array.from([-32768, -1, 32767, 0, 1, 2]);
    const response = await client.inference.inferBinary(
      'identity-int16',
      {
        inputs: [{ name: 'x', shape: [2, 3], datatype: 'INT16', parameters: { binary_data_size: 12 } }],
        outputs: [{ name: 'x_out', parameters: { binary_data: true } }],
      },
      { binaryInputs: [bytesOf(values)] },
    );
    expect(response.outputs[0]).toMatchObject({ name: 'x_out', datatype: 'INT16', shape: [2, 3] });
    expect(response.outputs[0]!.data).toBeInstanceOf(Int16Array);
    expect(plain(response.outputs[0]!.data)).toEqual(plain(values));
    const json = await client.inference.infer('identity-int16', {
      inputs: [{ name: 'x', shape: [2, 3], datatype: 'INT16', data: plain(values) as number[] }],
    });
    expect(json.outputs[0]!.data).toEqual(plain(values));
  });

  it('an output value that does not fit its declared integer datatype is a 500, not a wrapped number', async () => {
    // int-narrow declares x * factors as INT8: 2, -3, 5 fit; 200 does not.
    const ok = await inferJson('int-narrow', [{ name: 'x', shape: [1, 3], datatype: 'INT32', data: [1, 1, 1] }]);
    expect(ok.outputs[0]).toMatchObject({ datatype: 'INT8', data: [2, -3, 5] });
    const overflow = { name: 'x', shape: [1, 3], datatype: 'INT32' as const, data: [100, 0, 0] };
    const json = await expectError(await postJson('int-narrow', { inputs: [overflow] }), 500, 'output_out_of_range');
    expect(json.error).toContain("output 'scaled'");
    const binary = await postBinary(
      'int-narrow',
      { inputs: [{ ...overflow, data: undefined, parameters: { binary_data_size: 12 } }], parameters: { binary_data_output: true } },
      [bytesOf(Int32Array.from([100, 0, 0]))],
    );
    await expectError(binary, 500, 'output_out_of_range');
  });
});

// ---- BOOL ----

describe('BOOL', () => {
  const b = [true, false, true, false, false, true];
  const not = b.map((v) => !v);

  it('JSON true/false (and 1/0) in; BOOL and INT8 out', async () => {
    const input = { name: 'b', shape: [2, 3], datatype: 'BOOL' as const };
    const json = await inferJson('logic', [{ ...input, data: [b.slice(0, 3), b.slice(3)] }]);
    expect(json.outputs).toEqual([
      { name: 'not', datatype: 'BOOL', shape: [2, 3], data: not },
      { name: 'not_int', datatype: 'INT8', shape: [2, 3], data: not.map(Number) },
    ]);
    expect((await inferJson('logic', [{ ...input, data: b.map(Number) }])).outputs).toEqual(json.outputs);
  });

  it('binary BOOL is one byte per element both ways, and matches JSON', async () => {
    const { header, raw } = await inferRawBinary('logic', { name: 'b', shape: [2, 3], datatype: 'BOOL' }, Uint8Array.from(b, Number));
    expect(header.outputs.map((o) => [o.name, o.datatype, o.parameters?.binary_data_size])).toEqual([
      ['not', 'BOOL', 6],
      ['not_int', 'INT8', 6],
    ]);
    expect(plain(raw.not!)).toEqual(not.map(Number));
    expect(plain(new Int8Array(raw.not_int!.buffer))).toEqual(not.map(Number));
    for (const binary of [false, true]) {
      const prediction = await client.predict('logic', [b.slice(0, 3), b.slice(3)], { binary });
      expect(prediction.outputs.not).toMatchObject({ datatype: 'BOOL', shape: [2, 3], data: not });
      expect(plain(prediction.outputs.not_int!.data)).toEqual(not.map(Number));
    }
  });

  it('a layers model with a bool input returns it as BOOL', async () => {
    for (const binary of [false, true]) {
      const prediction = await client.predict('identity-bool', [b.slice(0, 3), b.slice(3)], { binary });
      expect(prediction.output).toMatchObject({ datatype: 'BOOL', shape: [2, 3], data: b });
    }
  });

  it('FP32 in, BOOL out (x > 0)', async () => {
    const values = [-1.5, 0, 2, 1e-30, -0, 3e38];
    const json = await inferJson('positive', [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: values }]);
    expect(json.outputs).toEqual([{ name: 'positive', datatype: 'BOOL', shape: [2, 3], data: [false, false, true, true, false, true] }]);
    const { raw } = await inferRawBinary('positive', { name: 'x', shape: [2, 3], datatype: 'FP32' }, bytesOf(Float32Array.from(values)));
    expect(plain(raw.positive!)).toEqual([0, 0, 1, 1, 0, 1]);
  });

  it('other JSON elements are 400 invalid_tensor_data', async () => {
    for (const bad of [2, -1, 0.5, 'true', 'false']) {
      await expectError(
        await postJson('logic', { inputs: [{ name: 'b', shape: [1, 3], datatype: 'BOOL', data: [true, bad, false] }] }),
        400,
        'invalid_tensor_data',
      );
    }
  });
});

// ---- BYTES ----

describe('BYTES (string tensors, through a graph model)', () => {
  // Layers models cannot take strings (their predict slices inputs into batches, and TF.js
  // `slice` refuses string tensors), and native TF.js registers no string kernels beyond
  // pass-through and comparisons (StringToHashBucketFast, StringSplit, … are cpu-backend only),
  // so the model echoes its strings and compares them with constants.
  const strings = [
    ['yes', 'héllo'],
    ['no', '😀 ünïcödé'],
    ['', 'YES'],
  ];
  const match = [true, true, false, false, false, false];

  it('JSON strings in; BYTES and BOOL out', async () => {
    const json = await inferJson('strings', [{ name: 's', shape: [3, 2], datatype: 'BYTES', data: strings }]);
    expect(json.outputs).toEqual([
      { name: 'echo', datatype: 'BYTES', shape: [3, 2], data: strings.flat() },
      { name: 'match', datatype: 'BOOL', shape: [3, 2], data: match },
    ]);
    expect(KEYWORDS).toEqual(strings[0]);
  });

  it('binary BYTES are 4-byte little-endian lengths + UTF-8 both ways, and match JSON', async () => {
    const encoder = new TextEncoder();
    const items = strings.flat().map((s) => encoder.encode(s));
    const bytes = new Uint8Array(items.reduce((n, item) => n + 4 + item.byteLength, 0));
    let offset = 0;
    for (const item of items) {
      new DataView(bytes.buffer).setUint32(offset, item.byteLength, true);
      bytes.set(item, offset + 4);
      offset += 4 + item.byteLength;
    }
    const { header, raw } = await inferRawBinary('strings', { name: 's', shape: [3, 2], datatype: 'BYTES' }, bytes);
    expect(header.outputs.map((o) => [o.name, o.datatype, o.parameters?.binary_data_size])).toEqual([
      ['echo', 'BYTES', bytes.byteLength],
      ['match', 'BOOL', 6],
    ]);
    expect(plain(raw.echo!)).toEqual(plain(bytes));
    expect(plain(raw.match!)).toEqual(match.map(Number));
    for (const binary of [false, true]) {
      const prediction = await client.predict('strings', strings, { binary });
      expect(prediction.outputs.echo).toMatchObject({ datatype: 'BYTES', shape: [3, 2], data: strings.flat() });
      expect(prediction.outputs.match).toMatchObject({ datatype: 'BOOL', data: match });
    }
  });

  // String outputs are read as raw bytes (dataSync() would decode them as UTF-8 and mangle these).
  it('binary BYTES that are not UTF-8 come back byte for byte', async () => {
    const bytes = Uint8Array.from([3, 0, 0, 0, 0xff, 0x00, 0xc3, 3, 0, 0, 0, 0x79, 0x65, 0x73]); // [ff 00 c3], 'yes'
    const { raw } = await inferRawBinary('strings', { name: 's', shape: [1, 2], datatype: 'BYTES' }, bytes, ['echo']);
    expect(plain(raw.echo!)).toEqual(plain(bytes));
  });

  it('non-string JSON elements and malformed binary BYTES are 400', async () => {
    for (const bad of [5, true]) {
      await expectError(
        await postJson('strings', { inputs: [{ name: 's', shape: [1, 2], datatype: 'BYTES', data: ['yes', bad] }] }),
        400,
        'invalid_tensor_data',
      );
    }
    // A length prefix of 100 bytes with 3 bytes behind it.
    const truncated = Uint8Array.from([100, 0, 0, 0, 0x61, 0x62, 0x63]);
    const response = await postBinary(
      'strings',
      { inputs: [{ name: 's', shape: [1, 2], datatype: 'BYTES', parameters: { binary_data_size: truncated.byteLength } }] },
      [truncated],
    );
    await expectError(response, 400, 'data_length_mismatch');
  });
});

// ---- the FP16 conversion itself (src/core/binary.ts, used by the SDK and the server) ----

describe('float32 ↔ FP16 bits', () => {
  it('every half survives float16 → float32 → float16, NaN stays NaN', () => {
    for (let h = 0; h <= 0xffff; h++) {
      const value = float16BitsToFloat32(h);
      const nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (nan) expect(Number.isNaN(value) && Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(value)))).toBe(true);
      else if (float32ToFloat16Bits(value) !== h) expect(float32ToFloat16Bits(value)).toBe(h);
    }
  });

  it('rounds to nearest, ties to even, including subnormals; overflow goes to infinity', () => {
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    const step = (v: number, up: boolean) => {
      f32[0] = v;
      u32[0] = u32[0]! + (up ? 1 : -1); // next float32 away from / towards zero (v > 0)
      return f32[0]!;
    };
    const failures: string[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      const low = float16BitsToFloat32(h);
      const high = float16BitsToFloat32(h + 1);
      const mid = (low + high) / 2; // exact in float32
      const cases: [number, number][] = [
        [mid, h % 2 === 0 ? h : h + 1],
        [step(mid, true), h + 1],
        [step(mid, false), h],
      ];
      for (const [value, expected] of cases) {
        if (float32ToFloat16Bits(value) !== expected)
          failures.push(`${value} → ${float32ToFloat16Bits(value).toString(16)}, expected ${expected.toString(16)}`);
        if (float32ToFloat16Bits(-value) !== (expected | 0x8000)) failures.push(`${-value} → ${float32ToFloat16Bits(-value).toString(16)}`);
      }
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(float32ToFloat16Bits(65519.99)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-1e10)).toBe(0xfc00);
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal: even
    expect(float32ToFloat16Bits(step(2 ** -25, true))).toBe(1);
  });
});

describe('binary decoding of unaligned input', () => {
  it('decodes FP32 from a Node Buffer that starts at an odd offset (Buffer.slice would share the unaligned memory)', async () => {
    const { fromBytes } = await import('../src/core/binary');
    const values = Float32Array.of(1.5, -2.25, 3e-7);
    const pool = Buffer.alloc(1 + values.byteLength);
    Buffer.from(values.buffer).copy(pool, 1);
    const unaligned = pool.subarray(1);
    expect(unaligned.byteOffset % 4).not.toBe(0);
    expect(Array.from(fromBytes('FP32', unaligned, 3) as Float32Array)).toEqual(Array.from(values));
  });
});
